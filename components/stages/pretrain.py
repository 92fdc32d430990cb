"""pretrain: TokenizedDataset + Tokenizer -> TrainedModel (Hugging Face export + final DeepSpeed checkpoint).

`launcher: local` runs torchrun on this machine; checkpoints live under <workdir>/checkpoints/<content address>,
so a pretrain killed at any point and run again with the same inputs resumes where it stopped. `launcher:
trainjob | pytorchjob` submits the same training to Kubernetes GPU nodes and watches it; the job reads its
arguments and data from object storage, mirrors checkpoints there, and uploads its export for this task to publish.
The artifact is published only once training has finished.
"""
from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

from ..contract.config import PretrainConfig
from ..errors import StageFailed, UserError
from ..contract.storage import is_s3, join

CODE_DEPS = ["training.train", "training.data", "training.presets", "training.checkpoint", "training.model",
             "training.plan"]
# How long we wait, how often we log and where the pods run change nothing in the weights.
_NOT_PARAMS = ("timeout_s", "log_every", "kubernetes", "launcher", "checkpoint_uri")


def params(cfg: PretrainConfig) -> dict:
    return {k: v for k, v in dataclasses.asdict(cfg).items() if k not in _NOT_PARAMS}


def train_args(cfg: PretrainConfig, inputs, ctx, key: str, plan) -> dict:
    """The JSON the trainer reads: the config, the plan's numbers, and where data and checkpoints are."""
    dataset, tok = inputs["dataset"], inputs["tokenizer"]
    endpoint = ctx.cfg.s3_endpoint_url
    datasets = [{"uri": dataset.manifest.uri, "weight": cfg.dataset_weight, "endpoint_url": endpoint}]
    datasets += [{"uri": b.uri, "weight": b.weight, "endpoint_url": endpoint} for b in cfg.blend]
    mirror = cfg.checkpoint_uri or (join(ctx.artifact_root, "checkpoints") if is_s3(ctx.artifact_root) else None)
    args = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("kubernetes", "blend")}
    args.update({
        "grad_accum": plan.grad_accum, "steps": plan.steps, "world_size": plan.world_size,
        "vocab_size": tok.manifest.stats["padded_vocab"], "bos_id": 0, "eos_id": tok.manifest.stats["eod_id"],
        "datasets": datasets, "s3_endpoint_url": endpoint,
        "checkpoint_uri": join(mirror, key) if mirror else None,
        "mlflow_tracking_uri": ctx.lineage.tracking_uri if ctx.lineage else None,
    })
    return args


def run(cfg: PretrainConfig, inputs, out, ctx) -> dict:
    from training.plan import resolve
    from training.presets import get

    plan = resolve(cfg)
    if not cfg.init_from:
        get(cfg.preset)
    key = ctx_key(ctx, inputs, cfg)
    args = train_args(cfg, inputs, ctx, key, plan)
    args["mlflow_run_id"] = out.run_id
    if cfg.launcher == "local":
        train_out = _run_local(cfg, args, ctx, key)
    else:
        train_out = _run_kubernetes(cfg, args, ctx, key)

    summary = json.loads((train_out / "train_summary.json").read_text())
    shutil.copytree(train_out / "hf", out.dir / "hf")
    tok_dir = inputs["tokenizer"].local_dir()
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (tok_dir / name).exists():
            shutil.copyfile(tok_dir / name, out.dir / "hf" / name)
    shutil.copyfile(train_out / "metrics.jsonl", out.dir / "metrics.jsonl")
    if (train_out / "checkpoint").is_dir():
        shutil.copytree(train_out / "checkpoint", out.dir / "checkpoint")
    out.reports.append(out.dir / "metrics.jsonl")
    return {**summary, "preset": cfg.preset, "padded_vocab": args["vocab_size"], "grad_accum": plan.grad_accum,
            "launcher": cfg.launcher, "checkpoint_uri": args["checkpoint_uri"]}


def _run_local(cfg: PretrainConfig, args: dict, ctx, key: str) -> Path:
    from training import checkpoint as ckpt
    from training.launch import torchrun_local

    ckpt_root = ctx.workdir / "checkpoints" / key
    train_out = ctx.workdir / "train" / key
    args.update({"checkpoint_dir": str(ckpt_root), "output_dir": str(train_out),
                 "tokenizer_dir": "", "cache_dir": str(ctx.cache_dir() / "train-data")})
    torchrun_local(args, cfg.nproc, train_out, cfg.timeout_s, train_out / "train.log")
    final = ckpt.latest(ckpt_root)
    dest = train_out / "checkpoint" / ckpt.tag(final)
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(ckpt_root / ckpt.tag(final), dest)
    return train_out


def _run_kubernetes(cfg: PretrainConfig, args: dict, ctx, key: str) -> Path:
    """Submit the job (or find the one already running for this content address), watch it, fetch its export."""
    from training.k8s import jobs, watch

    if not is_s3(ctx.artifact_root):
        raise UserError("pretrain: launcher trainjob/pytorchjob needs artifact_root on s3:// (the training pods "
                        "read the dataset and write their export there)")
    run_uri = join(ctx.artifact_root, "pretrain-jobs", key)
    k = cfg.kubernetes
    args.update({"checkpoint_dir": f"{k.checkpoint_mount.rstrip('/')}/{key}", "output_dir": "/tmp/polyglot-ko-out",
                 "tokenizer_dir": "", "cache_dir": k.cache_dir, "output_uri": join(run_uri, "output")})
    args_uri = join(run_uri, "train_args.json")
    ctx.storage.write_bytes(args_uri, json.dumps(args, indent=2).encode())
    job = jobs.build(cfg, args_uri, name=jobs.job_name(key), endpoint_url=ctx.cfg.s3_endpoint_url,
                     mlflow_uri=args["mlflow_tracking_uri"])
    outcome = watch.submit_and_wait(job, timeout_s=cfg.timeout_s, poll_s=k.poll_s, log=ctx.log)
    if not outcome.succeeded:
        raise StageFailed(f"pretrain: {outcome.kind} {outcome.name} failed: {outcome.reason}")
    train_out = ctx.workdir / "train" / key
    for name in ctx.storage.list_files(join(run_uri, "output")):
        ctx.storage.fetch(join(run_uri, "output", name), train_out / name)
    return train_out


def ctx_key(ctx, inputs, cfg) -> str:
    from ..contract.manifest import stable_hash
    return stable_hash({"cfg": params(cfg), "inputs": {r: a.manifest.digest for r, a in sorted(inputs.items())}})[:20]
