"""Checkpoint bookkeeping: a checkpoint counts only once its COMPLETE marker exists (written after every rank
has saved), so a run killed mid-save resumes from the previous complete one."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

COMPLETE = "COMPLETE"
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


def mark_complete(root: Path, step: int) -> None:
    (root / tag(step) / COMPLETE).write_text(str(step))


def prune(root: Path, keep: int) -> None:
    """Remove incomplete checkpoints and all but the newest `keep` complete ones."""
    steps = complete_steps(root)
    keep_tags = {tag(s) for s in steps[-keep:]}
    for d in root.iterdir() if root.is_dir() else []:
        if d.is_dir() and _TAG.match(d.name) and d.name not in keep_tags:
            shutil.rmtree(d, ignore_errors=True)
