"""Checkpoint bookkeeping: a checkpoint counts only once its COMPLETE marker exists (written after every rank
has saved), so a run killed mid-save resumes from the previous complete one.

The marker records the shape the checkpoint was written with (world size, global batch). A resume on another
world size (a job that lost a node continues on fewer GPUs) goes through DeepSpeed's universal checkpoint: the
ZeRO shards are converted once into per-parameter files (<root>/universal/<tag>), which any data-parallel degree
loads. The sample order depends only on the step and the global batch, so the continuation sees the samples the
original job would have; the global batch itself must not change (it would be another optimisation).
"""
from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

COMPLETE = "COMPLETE"
UNIVERSAL = "universal"
_TAG = re.compile(r"^step(\d+)$")


def tag(step: int) -> str:
    return f"step{step:08d}"


def complete_steps(root: Path) -> list[int]:
    if not root.is_dir():
        return []
    steps = []
    for d in root.iterdir():
        m = _TAG.match(d.name)
        if m and (d / COMPLETE).exists():
            steps.append(int(m.group(1)))
    return sorted(steps)


def latest(root: Path) -> int | None:
    steps = complete_steps(root)
    return steps[-1] if steps else None


def mark_complete(root: Path, step: int, world_size: int | None = None, global_batch: int | None = None,
                  partitioned: bool = True) -> None:
    """`partitioned`: the optimizer state is split over the ranks (ZeRO 1-3, or bf16's optimizer), so another world
    size needs the universal conversion; a ZeRO-0 fp32 checkpoint holds it whole and loads anywhere."""
    (root / tag(step) / COMPLETE).write_text(json.dumps({"step": step, "world_size": world_size,
                                                         "global_batch": global_batch, "partitioned": partitioned}))


def shape(root: Path, step: int) -> dict:
    """{"step", "world_size", "global_batch"} the checkpoint was written with (None where an older marker, which
    held only the step, does not say)."""
    text = (root / tag(step) / COMPLETE).read_text().strip()
    try:
        info = json.loads(text)
    except ValueError:
        info = None
    if not isinstance(info, dict):
        return {"step": int(text), "world_size": None, "global_batch": None}
    return info


def prune(root: Path, keep: int) -> None:
    """Remove incomplete checkpoints and all but the newest `keep` complete ones (and their universal copies)."""
    steps = complete_steps(root)
    keep_tags = {tag(s) for s in steps[-keep:]}
    for base in (root, root / UNIVERSAL):
        for d in base.iterdir() if base.is_dir() else []:
            if d.is_dir() and _TAG.match(d.name) and d.name not in keep_tags:
                shutil.rmtree(d, ignore_errors=True)


@dataclass(frozen=True)
class Resume:
    step: int
    load_dir: Path           # what engine.load_checkpoint reads (root, or root/universal)
    universal: bool          # the checkpoint was written by another world size: loaded through its conversion
    from_world: int | None


def plan(root: Path, world_size: int, global_batch: int) -> Resume | None:
    """How to resume from root's newest complete checkpoint on `world_size` processes (None: start afresh)."""
    step = latest(root)
    if step is None:
        return None
    was = shape(root, step)
    if was["global_batch"] is not None and was["global_batch"] != global_batch:
        raise ValueError(f"the checkpoint at step {step} in {root} was trained with a global batch of "
                         f"{was['global_batch']} sequences, this run's is {global_batch}: keep the global batch "
                         f"(pretrain.global_batch_tokens) when resuming on another world size")
    other = was["world_size"] is not None and was["world_size"] != world_size and was.get("partitioned", True)
    return Resume(step=step, load_dir=root / UNIVERSAL if other else root, universal=other,
                  from_world=was["world_size"])


def to_universal(root: Path, step: int, workers: int = 4) -> Path:
    """Convert checkpoint `step` into DeepSpeed's universal format under root/universal (once: a finished
    conversion is marked, a half-finished one is redone). Returns the universal checkpoint's directory."""
    import argparse

    from deepspeed.checkpoint import ds_to_universal

    dest = root / UNIVERSAL / tag(step)
    if (dest / COMPLETE).exists():
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    ds_to_universal.main(argparse.Namespace(
        input_folder=str(root / tag(step)), output_folder=str(dest), num_extract_workers=workers,
        num_merge_workers=max(1, workers // 2), keep_temp_folder=False, strict=True,
        inject_missing_state=True))      # a model outside Megatron carries no universal-checkpoint info
    (dest / COMPLETE).write_text((root / tag(step) / COMPLETE).read_text())
    return dest
