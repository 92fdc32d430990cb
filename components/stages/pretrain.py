"""pretrain: TokenizedDataset + Tokenizer -> TrainedModel (Hugging Face export + final DeepSpeed checkpoint).

Checkpoints live under <workdir>/checkpoints/<content address>, so a pretrain killed at any point and run again
with the same inputs resumes where it stopped; the artifact is published only once training has finished.
"""
from __future__ import annotations

import dataclasses
import json
import shutil

from ..config import PretrainConfig
from ..errors import UserError

CODE_DEPS = ["training.train", "training.data", "training.presets", "training.checkpoint"]


def params(cfg: PretrainConfig) -> dict:
    # How long we wait and how often we log change nothing in the weights.
    return {k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("timeout_s", "log_every")}


def run(cfg: PretrainConfig, inputs, out, ctx) -> dict:
    from training import checkpoint as ckpt
    from training.launch import torchrun_local
    from training.presets import get

    get(cfg.preset)
    if cfg.precision not in ("fp32", "bf16") or cfg.zero_stage not in (0, 1, 2, 3):
        raise UserError("pretrain: precision must be fp32 or bf16 and zero_stage 0-3")
    dataset, tok = inputs["dataset"], inputs["tokenizer"]
    ds_dir, tok_dir = dataset.local_dir(), tok.local_dir()
    key = ctx_key(ctx, inputs, cfg)
    ckpt_root = ctx.workdir / "checkpoints" / key
    train_out = ctx.workdir / "train" / key
    args = {**dataclasses.asdict(cfg), "vocab_size": tok.manifest.stats["padded_vocab"], "bos_id": 0,
            "eos_id": tok.manifest.stats["eod_id"], "dataset_prefix": str(ds_dir / "train"),
            "checkpoint_dir": str(ckpt_root), "output_dir": str(train_out), "tokenizer_dir": str(tok_dir),
            "mlflow_tracking_uri": ctx.lineage.tracking_uri if ctx.lineage else None,
            "mlflow_run_id": out.run_id}
    torchrun_local(args, cfg.nproc, train_out, cfg.timeout_s, train_out / "train.log")

    summary = json.loads((train_out / "train_summary.json").read_text())
    shutil.copytree(train_out / "hf", out.dir / "hf")
    shutil.copyfile(train_out / "metrics.jsonl", out.dir / "metrics.jsonl")
    final = ckpt.latest(ckpt_root)
    shutil.copytree(ckpt_root / ckpt.tag(final), out.dir / "checkpoint" / ckpt.tag(final))
    out.reports.append(out.dir / "metrics.jsonl")
    return {**summary, "preset": cfg.preset, "padded_vocab": args["vocab_size"]}


def ctx_key(ctx, inputs, cfg) -> str:
    from ..artifacts import stable_hash
    return stable_hash({"cfg": params(cfg), "inputs": {r: a.manifest.digest for r, a in sorted(inputs.items())}})[:20]
