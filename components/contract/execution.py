"""Running one stage under the artifact contract: content address, cache, shards, publish, manifest, lineage.

A stage module (components/stages/<name>.py) provides either
    run(cfg, inputs, out, ctx) -> stats
or, for corpus stages, the sharding signature
    map_shard(cfg, inputs, rank, world_size, out) -> stats      (one shard, any process or pod)
    reduce(cfg, inputs, parts, out, ctx) -> stats               (the global step)
and optionally `params(cfg) -> dict` (what the content address depends on; default: the config section) and
`CODE_DEPS` (helper modules whose source counts as the stage's code).
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib
import inspect
import json
import os
import shutil
import subprocess
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from . import graph
from .manifest import (FileEntry, InputRef, Manifest, publish_dir, read_manifest, require_manifest,
                        stable_hash, write_manifest)
from .config import RunConfig, config_from_dict, config_to_dict
from ..errors import StageFailed
from .lineage import Lineage
from .storage import Storage, is_s3, join

PART_MANIFEST = "part.json"


@lru_cache(maxsize=1)
def git_commit() -> str:
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def code_hash(module) -> str:
    """Hash of the stage's own source and its declared helpers: editing them invalidates its cache."""
    h = hashlib.sha256()
    for name in [module.__name__, *getattr(module, "CODE_DEPS", [])]:
        h.update(Path(inspect.getfile(importlib.import_module(name))).read_bytes())
    return h.hexdigest()[:16]


@dataclass
class Context:
    cfg: RunConfig
    workdir: Path
    storage: Storage
    artifact_root: str
    lineage: Lineage | None = None
    parent_run_id: str | None = None
    force: bool = False
    log: Callable[[str], None] = print

    def cache_dir(self) -> Path:
        return self.workdir / "cache"

    def staging(self, label: str) -> Path:
        # Beside the artifacts when they are local, so publishing is a rename, not a copy.
        base = Path(self.artifact_root) / ".staging" if not is_s3(self.artifact_root) else self.workdir / "staging"
        d = base / f"{label}-{uuid.uuid4().hex[:8]}"
        d.mkdir(parents=True)
        return d


class InputArtifact:
    """An upstream artifact as a stage sees it: its manifest, and local paths to its files."""

    def __init__(self, role: str, manifest: Manifest, storage: Storage, cache_dir: Path):
        self.role, self.manifest, self.storage, self.cache_dir = role, manifest, storage, cache_dir

    def path(self, name: str) -> Path:
        if not is_s3(self.manifest.uri):
            return Path(self.manifest.file_uri(name))
        local = self.cache_dir / self.manifest.digest[:20] / name
        if not local.exists():
            self.storage.fetch(self.manifest.file_uri(name), local)
        return local

    def local_dir(self) -> Path:
        for f in self.manifest.files:
            self.path(f.name)
        return Path(self.manifest.uri) if not is_s3(self.manifest.uri) else self.cache_dir / self.manifest.digest[:20]

    def paths(self, prefix: str, suffix: str = "") -> list[Path]:
        return [self.path(f.name) for f in self.manifest.files_under(prefix) if f.name.endswith(suffix)]


@dataclass
class Output:
    dir: Path                                          # write the artifact's files here
    run_id: str | None = None                          # the stage's MLflow run (for step metrics)
    adopted: list[FileEntry] = field(default_factory=list)  # already-published files the manifest lists
    reports: list[Path] = field(default_factory=list)  # small files also logged to MLflow
    stage_root: str = ""                               # <artifact_root>/<stage>: home of "@stage/" pieces
    storage: Storage | None = None


@dataclass
class Part:
    rank: int
    uri: str
    files: list[FileEntry]
    stats: dict
    _storage: Storage
    _cache: Path
    adopted: list[FileEntry] = field(default_factory=list)   # "@stage/" files this shard reused or made

    def path(self, name: str) -> Path:
        if not is_s3(self.uri):
            return Path(self.uri) / name
        local = self._cache / name
        if not local.exists():
            self._storage.fetch(join(self.uri, name), local)
        return local


def _params(module, section) -> dict:
    fn = getattr(module, "params", None)
    return fn(section) if fn else dataclasses.asdict(section)


def check_accounting(stage: str, stats: dict) -> None:
    """records_in == records_out + sum(dropped) + sum(quarantined), or the stage has lost records."""
    rin, rout = stats.get("records_in", 0), stats.get("records_out", 0)
    dropped, quarantined = sum(stats.get("dropped", {}).values()), sum(stats.get("quarantined", {}).values())
    if rin != rout + dropped + quarantined:
        raise StageFailed(f"{stage}: accounting broken: records_in {rin} != records_out {rout} + dropped "
                          f"{dropped} + quarantined {quarantined}")


def merge_counts(stats_list: list[dict]) -> dict:
    """Sum numeric stats (nested dicts of counts too) over shards."""
    out: dict[str, Any] = {}
    for st in stats_list:
        for k, v in st.items():
            if isinstance(v, dict):
                out[k] = merge_counts([out.get(k, {}), v])
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                out[k] = out.get(k, 0) + v
    return out


class StageRun:
    """One stage of one pipeline run: resolves inputs and the content address, then runs or reuses."""

    def __init__(self, node: graph.StageNode, ctx: Context, input_uris: dict[str, str], params: dict | None = None):
        # `params`: already computed by the driver (shard workers get them, rather than re-reading every input)
        self.node, self.ctx = node, ctx
        self.module = importlib.import_module(node.module)
        self.section = ctx.cfg.section(node.name)
        missing = set(node.inputs) - set(input_uris)
        if missing:
            raise StageFailed(f"{node.name}: missing inputs {sorted(missing)}")
        self.inputs = {role: InputArtifact(role, require_manifest(ctx.storage, uri), ctx.storage, ctx.cache_dir())
                       for role, uri in input_uris.items() if role in node.inputs}
        self.params = params if params is not None else _params(self.module, self.section)
        self.code = code_hash(self.module)
        self.key = stable_hash({"stage": node.name, "code": self.code, "params": self.params,
                                "inputs": {r: a.manifest.digest for r, a in sorted(self.inputs.items())}})
        self.stage_root = join(ctx.artifact_root, node.name)
        self.uri = join(self.stage_root, self.key[:20])

    # -- shards ----------------------------------------------------------------------------------------------
    def part_uri(self, rank: int, world_size: int) -> str:
        return join(self.uri, "parts", f"{rank:05d}-of-{world_size:05d}")

    def read_part(self, rank: int, world_size: int) -> Part | None:
        uri = self.part_uri(rank, world_size)
        pm = join(uri, PART_MANIFEST)
        if not self.ctx.storage.exists(pm):
            return None
        d = json.loads(self.ctx.storage.read_bytes(pm))
        return Part(rank, uri, [FileEntry(**f) for f in d["files"]], d["stats"], self.ctx.storage,
                    self.ctx.cache_dir() / f"{self.key[:20]}-part{rank}",
                    [FileEntry(**f) for f in d.get("adopted", [])])

    def run_shard(self, rank: int, world_size: int) -> Part:
        """Map one shard; a shard whose part.json exists is done (a killed worker's rerun skips it)."""
        done = self.read_part(rank, world_size)
        if done and not self.ctx.force:
            return done
        staging = self.ctx.staging(f"{self.node.name}-part{rank}")
        try:
            out = Output(staging, stage_root=self.stage_root, storage=self.ctx.storage)
            stats = self.module.map_shard(self.section, self.inputs, rank, world_size, out)
            check_accounting(f"{self.node.name}[{rank}/{world_size}]", stats)
            uri = self.part_uri(rank, world_size)
            files = publish_dir(self.ctx.storage, staging, uri)
            doc = {"rank": rank, "world_size": world_size, "files": [dataclasses.asdict(f) for f in files],
                   "adopted": [dataclasses.asdict(f) for f in out.adopted], "stats": stats}
            self.ctx.storage.write_bytes(join(uri, PART_MANIFEST), json.dumps(doc, ensure_ascii=False).encode())
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return self.read_part(rank, world_size)

    # -- whole stage -----------------------------------------------------------------------------------------
    def existing(self) -> Manifest | None:
        return read_manifest(self.ctx.storage, self.uri)

    def execute(self, max_workers: int | None = None) -> tuple[Manifest, bool]:
        ctx, node = self.ctx, self.node
        lineage = ctx.lineage
        found = None if ctx.force else self.existing()
        run_id = None
        if lineage:
            run_id = lineage.start_stage(ctx.parent_run_id, node.name, {"artifact.key": self.key})
        try:
            if found:
                manifest, hit = found, True
            else:
                manifest, hit = self._produce(run_id, max_workers), False
            if lineage:
                lineage.record_stage(run_id, manifest, cache_hit=hit)
                lineage.end(run_id)
        except BaseException:
            if lineage and run_id:
                lineage.end(run_id, "FAILED")
            raise
        return manifest, hit

    def _produce(self, run_id: str | None, max_workers: int | None) -> Manifest:
        ctx, node = self.ctx, self.node
        if ctx.force:
            ctx.storage.delete_tree(self.uri)
        out = Output(ctx.staging(node.name), run_id=run_id, stage_root=self.stage_root, storage=ctx.storage)
        t0 = time.time()
        try:
            if node.sharded:
                world = self.section.world_size
                parts = self._run_shards(world, max_workers)
                stats = self.module.reduce(self.section, self.inputs, parts, out, ctx)
                check_accounting(node.name, stats)
                if stats.get("records_out", 0) == 0:
                    raise StageFailed(f"{node.name}: no valid records left (in: {stats.get('records_in', 0)}, "
                                      f"dropped: {stats.get('dropped')}, quarantined: {stats.get('quarantined')})")
            else:
                stats = self.module.run(self.section, self.inputs, out, ctx)
            stats["seconds"] = round(time.time() - t0, 3)
            if ctx.lineage and run_id:
                for report in out.reports:   # before publishing moves them away
                    ctx.lineage.log_file(run_id, report)
            files = out.adopted + publish_dir(ctx.storage, out.dir, self.uri)
            manifest = Manifest(
                kind=node.kind, stage=node.name, key=self.key, uri=self.uri,
                inputs=[InputRef(role=r, kind=a.manifest.kind, uri=a.manifest.uri, digest=a.manifest.digest,
                                 mlflow_run_id=a.manifest.mlflow_run_id) for r, a in sorted(self.inputs.items())],
                params=self.params, files=files, stats=stats,
                code_version={"stage": self.code, "git": git_commit(),
                              "package": importlib.import_module("components").__version__},
                mlflow_run_id=run_id)
            manifest = write_manifest(ctx.storage, manifest)
            if node.sharded and getattr(self.module, "DROP_PARTS", False):
                ctx.storage.delete_tree(join(self.uri, "parts"))
            return manifest
        finally:
            shutil.rmtree(out.dir, ignore_errors=True)

    def _run_shards(self, world: int, max_workers: int | None) -> list[Part]:
        todo = [r for r in range(world) if self.ctx.force or self.read_part(r, world) is None]
        workers = max(1, min(len(todo), max_workers or os.cpu_count() or 1))
        if todo and workers > 1:
            import multiprocessing as mp

            spec = _ShardSpec.of(self)
            with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
                list(pool.map(_shard_worker, [(spec, r, world) for r in todo]))
        else:
            for r in todo:
                self.run_shard(r, world)
        return [self.read_part(r, world) for r in range(world)]


@dataclass
class _ShardSpec:
    """What a worker process needs to rebuild the StageRun (no MLflow: lineage stays with the driver)."""
    stage: str
    cfg: dict
    workdir: str
    artifact_root: str
    endpoint_url: str | None
    inputs: dict[str, str]
    force: bool
    params: dict

    @classmethod
    def of(cls, sr: StageRun) -> "_ShardSpec":
        return cls(sr.node.name, config_to_dict(sr.ctx.cfg), str(sr.ctx.workdir), sr.ctx.artifact_root,
                   sr.ctx.storage.endpoint_url, {r: a.manifest.uri for r, a in sr.inputs.items()}, sr.ctx.force,
                   sr.params)


def _shard_worker(args) -> int:
    spec, rank, world = args
    ctx = Context(cfg=config_from_dict(spec.cfg), workdir=Path(spec.workdir),
                  storage=Storage(spec.endpoint_url), artifact_root=spec.artifact_root, force=spec.force)
    StageRun(graph.stage(spec.stage), ctx, spec.inputs, spec.params).run_shard(rank, world)
    return rank

