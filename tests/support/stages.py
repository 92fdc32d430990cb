"""Stages run as the local runner runs them, without a pipeline around them (no parent run, no MLflow), each
test in a working directory of its own; and the small readers the pipeline tests share."""
from __future__ import annotations

import json
from pathlib import Path


def write_jsonl(path: Path, rows, raw_lines=()) -> Path:
    """`rows` as JSON lines, then `raw_lines` (bytes, written as they are: broken input for the readers)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        for r in rows:
            f.write((json.dumps(r, ensure_ascii=False) + "\n").encode())
        for line in raw_lines:
            f.write(line + b"\n")
    return path


def manifests(workdir: Path) -> dict:
    """Every complete artifact under a workdir's artifact root: stage -> manifests, oldest first."""
    from components.contract.manifest import Manifest
    out: dict = {}
    for p in sorted((workdir / "artifacts").glob("*/*/manifest.json")):
        m = Manifest.from_json(p.read_text())
        out.setdefault(m.stage, []).append(m)
    return {stage: sorted(ms, key=lambda m: m.created_at) for stage, ms in out.items()}


class Stages:
    """Runs stages of a configuration (a dict of sections or a RunConfig) in `workdir`, or in another one named per
    call, binding inputs by role as the runner does. One per test: the `stages` fixture."""

    def __init__(self, workdir: Path):
        self.workdir = workdir

    def prepare(self, cfg, name: str, inputs: dict | None = None, *, workdir: Path | None = None,
                force: bool = False):
        """The stage's StageRun, for tests that drive its steps one by one."""
        from components.contract import graph
        from components.contract.config import RunConfig, config_from_dict
        from components.contract.execution import StageRun
        from components.contract.runner import make_context

        cfg = cfg if isinstance(cfg, RunConfig) else config_from_dict(cfg)
        ctx = make_context(cfg, workdir or self.workdir, None, force=force)
        return StageRun(graph.stage(name), ctx, inputs or {})

    def run(self, cfg, name: str, inputs: dict | None = None, *, workdir: Path | None = None, force: bool = False):
        """(manifest, cache hit) of one stage."""
        return self.prepare(cfg, name, inputs, workdir=workdir, force=force).execute()

    def upto(self, cfg, until: str, *, workdir: Path | None = None) -> dict:
        """Every stage of the graph up to `until`, in order, each fed its upstream outputs: stage -> manifest."""
        from components.contract import graph

        out: dict = {}
        for node in graph.select(None, until):
            inputs = {role: out[src].uri for role, src in node.inputs.items()}
            out[node.name], _ = self.run(cfg, node.name, inputs, workdir=workdir)
        return out
