"""From a pretrain config to the numbers a run actually uses: world size, gradient accumulation, steps, tokens.

One function, used by the local launcher, the Kubernetes job generator and `polyglot-ko presets`, so that the
three never disagree about what a config means.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from components.errors import UserError

LAUNCHERS = ("local", "trainjob", "pytorchjob")
ATTENTION = ("sdpa", "flash_attention_2", "eager")
EXPORT_DTYPES = ("float32", "bfloat16", "float16")


@dataclass(frozen=True)
class TrainPlan:
    world_size: int
    grad_accum: int
    steps: int
    tokens_per_step: int

    @property
    def total_tokens(self) -> int:
        return self.steps * self.tokens_per_step


def resolve(cfg) -> TrainPlan:
    """Check a PretrainConfig for combinations that cannot run, and derive the run's numbers."""
    def bad(msg: str) -> UserError:
        return UserError(f"pretrain: {msg}")

    if cfg.launcher not in LAUNCHERS:
        raise bad(f"launcher must be one of {', '.join(LAUNCHERS)}, got {cfg.launcher!r}")
    if cfg.precision not in ("fp32", "bf16"):
        raise bad(f"precision must be fp32 or bf16, got {cfg.precision!r}")
    if cfg.zero_stage not in (0, 1, 2, 3):
        raise bad(f"zero_stage must be 0-3, got {cfg.zero_stage}")
    if cfg.device not in ("cpu", "cuda"):
        raise bad(f"device must be cpu or cuda, got {cfg.device!r}")
    if cfg.attention not in ATTENTION:
        raise bad(f"attention must be one of {', '.join(ATTENTION)}, got {cfg.attention!r}")
    if cfg.attention == "flash_attention_2" and cfg.device != "cuda":
        raise bad("attention flash_attention_2 needs device cuda (use sdpa on CPU)")
    if cfg.export_dtype not in EXPORT_DTYPES:
        raise bad(f"export_dtype must be one of {', '.join(EXPORT_DTYPES)}, got {cfg.export_dtype!r}")
    if cfg.launcher == "local" and cfg.nodes != 1:
        raise bad(f"the local launcher runs on one node; nodes is {cfg.nodes} (use launcher: trainjob)")
    for name in ("nodes", "nproc", "micro_batch_size", "grad_accum", "seq_length", "checkpoint_every",
                 "keep_checkpoints", "log_every"):
        if getattr(cfg, name) < 1:
            raise bad(f"{name} must be at least 1, got {getattr(cfg, name)}")
    if cfg.dataset_weight < 0 or any(b.weight < 0 for b in cfg.blend) or \
            cfg.dataset_weight + sum(b.weight for b in cfg.blend) <= 0:
        raise bad("blend weights must be non-negative and not all zero")

    world = cfg.nodes * cfg.nproc
    per_micro = world * cfg.micro_batch_size * cfg.seq_length
    grad_accum = cfg.grad_accum
    if cfg.global_batch_tokens:
        if cfg.global_batch_tokens % per_micro:
            raise bad(f"global_batch_tokens {cfg.global_batch_tokens:,} is not a multiple of world size x "
                      f"micro_batch_size x seq_length = {world} x {cfg.micro_batch_size} x {cfg.seq_length} "
                      f"= {per_micro:,}")
        grad_accum = cfg.global_batch_tokens // per_micro
    tokens_per_step = per_micro * grad_accum
    steps = math.ceil(cfg.train_tokens / tokens_per_step) if cfg.train_tokens else cfg.steps
    if steps < 1:
        raise bad(f"steps must be at least 1, got {steps}")
    if cfg.warmup_steps >= steps:
        raise bad(f"warmup_steps ({cfg.warmup_steps}) must be fewer than steps ({steps})")
    return TrainPlan(world_size=world, grad_accum=grad_accum, steps=steps, tokens_per_step=tokens_per_step)
