"""pretrain: TokenizedDataset + Tokenizer -> TrainedModel (Hugging Face export + final DeepSpeed checkpoint).

`launcher: local` runs torchrun on this machine; checkpoints live under <workdir>/checkpoints/<content address>,
so a pretrain killed at any point and run again with the same inputs resumes where it stopped. `launcher:
trainjob | pytorchjob` submits the same training to Kubernetes GPU nodes and watches it; the job, named by the
stage's content address, reads its arguments and data from object storage, mirrors checkpoints there, and uploads
its export for this task to publish. The artifact is published only once training has finished.
"""
from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

from ..contract.artifact import Artifact, Output
from ..contract.config import PretrainConfig
from ..contract.kinds import TokenizedDataset, TrainedModel, Tokenizer
from ..contract.storage import is_s3, join
from ..errors import StageFailed, UserError

# In-training evaluation reads the evaluate stage's KoBEST files; it scores the weights and changes none of them.
NEEDS = {"kobest_dir": "evaluate.kobest_dir"}
NOT_ADDRESSED = ("kobest_dir",)

# How long we wait, how often we log and evaluate, fault timeouts and where the pods run change nothing in the
# weights. Nor does the world's shape: the sample order depends only on the step and the global batch, so a job
# that lost a node resumes the same artifact on fewer processes (training/checkpoint.py converts the checkpoint).
_NOT_PARAMS = ("timeout_s", "log_every", "kubernetes", "launcher", "checkpoint_uri", "eval_every", "eval_tasks",
               "eval_shots", "eval_limit", "eval_tokens", "eval_batch_size", "step_timeout_s", "collective_timeout_s",
               "nodes", "nproc", "micro_batch_size", "grad_accum", "global_batch_tokens")


def params(cfg: PretrainConfig) -> dict:
    from training.plan import resolve

    p = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in _NOT_PARAMS}
    plan = resolve(cfg)
    p["global_batch"] = plan.tokens_per_step // cfg.seq_length     # sequences per optimizer step
    return p


def job_root(artifact_root: str, key: str) -> str:
    """Where a Kubernetes training job's arguments and export live in object storage."""
    return join(artifact_root, "pretrain-jobs", key[:20])


def args_uri(out: Output) -> str:
    return join(job_root(out.artifact_root, out.key), "train_args.json")


def train_args(cfg: PretrainConfig, *, dataset: Artifact[TokenizedDataset], tokenizer: Artifact[Tokenizer],
               out: Output, kobest_dir: str | None = None):
    """The trainer's arguments for this stage's artifact, where its launcher runs them."""
    from training import args as train_args_

    key = out.key[:20]
    mirror = cfg.checkpoint_uri or (join(out.artifact_root, "checkpoints") if is_s3(out.artifact_root) else None)
    if cfg.launcher == "local":
        where = dict(checkpoint_dir=str(out.workdir / "checkpoints" / key), output_dir=str(out.workdir / "train" / key),
                     cache_dir=str(out.cache_dir / "train-data"))
    else:
        k = cfg.kubernetes
        where = dict(checkpoint_dir=f"{k.checkpoint_mount.rstrip('/')}/{key}", output_dir="/tmp/polyglot-ko-out",
                     cache_dir=k.cache_dir, output_uri=join(job_root(out.artifact_root, out.key), "output"))
    return train_args_.build(cfg, dataset=dataset, tokenizer=tokenizer, checkpoint_uri=join(mirror, key) if mirror
                             else None, s3_endpoint_url=out.storage.endpoint_url,
                             mlflow_tracking_uri=out.tracking_uri, mlflow_run_id=out.run_id,
                             kobest_dir=kobest_dir, **where)


def kubernetes_job(cfg: PretrainConfig, args, out: Output, write_args: bool = True) -> tuple[dict, str]:
    """The TrainJob / PyTorchJob that trains this stage's artifact, named by its content address, and the URI of
    the arguments it reads. `write_args`: write them there (the stage does; `train-job` reads what the stage wrote
    when it exists)."""
    from training.k8s import jobs

    if not is_s3(out.artifact_root):
        raise UserError("pretrain: launcher trainjob/pytorchjob needs artifact_root on s3:// (the training pods "
                        "read the dataset and write their export there)")
    uri = args_uri(out)
    if write_args:
        out.storage.write_bytes(uri, args.to_json().encode())
    return jobs.build(cfg, uri, name=jobs.job_name(out.key), endpoint_url=out.storage.endpoint_url,
                      mlflow_uri=out.tracking_uri), uri


def run(cfg: PretrainConfig, *, dataset: Artifact[TokenizedDataset], tokenizer: Artifact[Tokenizer],
        kobest_dir: str, out: Output) -> TrainedModel:
    from training.plan import resolve
    from training.presets import get

    plan = resolve(cfg)
    if not cfg.init_from:
        get(cfg.preset)
    if cfg.eval_every and cfg.eval_tasks and cfg.launcher == "local" and not Path(kobest_dir).is_dir():
        raise UserError(f"pretrain.eval_tasks: KoBEST is scored during training from evaluate.kobest_dir, and there "
                        f"is no directory {kobest_dir}")
    args = train_args(cfg, dataset=dataset, tokenizer=tokenizer, out=out, kobest_dir=kobest_dir)
    _require_new_tokens(args)
    train_out = _run_local(cfg, args, out) if cfg.launcher == "local" else _run_kubernetes(cfg, args, out)

    summary = json.loads((train_out / "train_summary.json").read_text())
    shutil.copytree(train_out / "hf", out.dir / "hf")
    tok_dir = tokenizer.local_dir()
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (tok_dir / name).exists():
            shutil.copyfile(tok_dir / name, out.dir / "hf" / name)
    shutil.copyfile(train_out / "metrics.jsonl", out.dir / "metrics.jsonl")
    if (train_out / "evaluations.jsonl").is_file():     # the scores of the checkpoints evaluated during training
        shutil.copyfile(train_out / "evaluations.jsonl", out.dir / "evaluations.jsonl")
        out.reports.append(out.dir / "evaluations.jsonl")
    if (train_out / "checkpoint").is_dir():
        shutil.copytree(train_out / "checkpoint", out.dir / "checkpoint")
    out.reports.append(out.dir / "metrics.jsonl")
    return TrainedModel(
        preset=cfg.preset, parameters=summary["parameters"], seq_length=cfg.seq_length, padded_vocab=args.vocab_size,
        steps=summary["steps"], tokens_per_step=summary["tokens_per_step"], tokens_seen=summary["tokens_seen"],
        final_loss=summary["final_loss"], world_size=summary["world_size"], grad_accum=plan.grad_accum,
        device=cfg.device, zero_stage=cfg.zero_stage, precision=cfg.precision, lr=cfg.lr, min_lr=cfg.min_lr,
        warmup_steps=cfg.warmup_steps, init_from=cfg.init_from, launcher=cfg.launcher,
        checkpoint_uri=args.checkpoint_uri)


def _require_new_tokens(args) -> None:
    """With train_on: new and a dataset that holds nothing the model has not seen, fail here with one line, before
    any trainer starts: a cluster would otherwise schedule its nodes, fail on every one and restart them."""
    from training.data import nothing_new, unseen_segments

    for ref in args.datasets:
        if ref.exclude and not unseen_segments(ref, "train")[2]:
            raise UserError(f"pretrain: {nothing_new(ref)}")


def _run_local(cfg: PretrainConfig, args, out: Output) -> Path:
    from training import checkpoint as ckpt
    from training.launch import torchrun_local

    train_out, ckpt_root = Path(args.output_dir), Path(args.checkpoint_dir)
    torchrun_local(args, train_out, cfg.timeout_s, train_out / "train.log", echo=out.log)
    final = ckpt.latest(ckpt_root)
    dest = train_out / "checkpoint" / ckpt.tag(final)
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(ckpt_root / ckpt.tag(final), dest)
    return train_out


def _run_kubernetes(cfg: PretrainConfig, args, out: Output) -> Path:
    """Submit the job (or find the one already running for this content address), watch it, fetch its export."""
    from training.k8s import watch

    job, _ = kubernetes_job(cfg, args, out)
    outcome = watch.submit_and_wait(job, timeout_s=cfg.timeout_s, poll_s=cfg.kubernetes.poll_s, log=out.log)
    if not outcome.succeeded:
        raise StageFailed(f"pretrain: {outcome.kind} {outcome.name} failed: {outcome.reason}")
    train_out = out.workdir / "train" / out.key[:20]
    for name in out.storage.list_files(args.output_uri):
        out.storage.fetch(join(args.output_uri, name), train_out / name)
    return train_out
