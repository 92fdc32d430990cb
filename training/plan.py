"""From a pretrain config to the numbers a run actually uses: world size, gradient accumulation, steps, tokens.

One function, used by the local launcher, the Kubernetes job generator and `polyglot-ko presets`, so that the
three never disagree about what a config means.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from components.errors import UserError


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

    # Each setting's allowed values are checked when the config loads (Literal types); here: combinations.
    if cfg.attention == "flash_attention_2" and cfg.device != "cuda":
        raise bad("attention flash_attention_2 needs device cuda (use sdpa on CPU)")
    if cfg.launcher == "local" and cfg.nodes != 1:
        raise bad(f"the local launcher runs on one node; nodes is {cfg.nodes} (use launcher: trainjob)")
    for name in ("nodes", "nproc", "micro_batch_size", "grad_accum", "seq_length", "checkpoint_every",
                 "keep_checkpoints", "log_every"):
        if getattr(cfg, name) < 1:
            raise bad(f"{name} must be at least 1, got {getattr(cfg, name)}")
    for name in ("eval_every", "eval_shots", "eval_tokens"):
        if getattr(cfg, name) < 0:
            raise bad(f"{name} must be at least 0, got {getattr(cfg, name)}")
    if cfg.eval_every and not cfg.eval_tasks and not cfg.eval_tokens:
        raise bad("eval_every is set, but eval_tasks is empty and eval_tokens is 0: nothing to evaluate")
    if cfg.eval_limit is not None and cfg.eval_limit < 1:
        raise bad(f"eval_limit must be at least 1 (or null: every test example), got {cfg.eval_limit}")
    for name in ("eval_batch_size", "step_timeout_s", "collective_timeout_s"):
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
