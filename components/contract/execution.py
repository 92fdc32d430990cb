"""Running one stage under the artifact contract: inputs bound by role, content address, cache, shards, publish,
manifest, lineage.

A stage module (components/stages/<name>.py) provides either

    run(cfg, *, <role>: Artifact[<Kind>], ..., <need>: <type>, ..., out: Output) -> <its kind's description>

or, for corpus stages, the sharding signature

    map_shard(cfg, *, <roles>..., shard: Shard, out: Output) -> dict        one shard, any process or pod: its counts
    reduce(cfg, *, <roles>..., parts: list[Part], out: Output) -> <description>        the global step

where `cfg` is the stage's own config section, the roles are the stage graph's (contract/graph.py), and the needs
are the few values from other sections the module names in `NEEDS = {"argument": "section.key"}`. Optionally
`params(cfg[, *, storage]) -> dict` says what of the section the content address depends on (default: all of
it); the needs always enter it. `bind` checks a module against the graph (roles, their kinds, the kind returned) before it runs.
"""
from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import os
import shutil
import subprocess
import time
import typing
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

from ..errors import StageFailed
from . import graph, kinds
from .address import address, code_version, modules_of
from .artifact import PART_MANIFEST, Artifact, Output, Part, Shard
from .config import RunConfig, config_from_dict, config_to_dict
from .lineage import Lineage
from .manifest import FileEntry, InputRef, Manifest, publish_dir, read_manifest, require_manifest, write_manifest
from .storage import Storage, is_s3, join

@lru_cache(maxsize=1)
def git_commit() -> str:
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@dataclass
class Context:
    """One pipeline run on this machine: what the runner knows; stages see only their Output."""
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


# ------------------------------------------------------------------------------------ the stage's signature


def needs(module: ModuleType, cfg: RunConfig) -> dict[str, Any]:
    return {name: graph.setting(cfg, path) for name, path in getattr(module, "NEEDS", {}).items()}


def reads_storage(module: ModuleType) -> bool:
    fn = getattr(module, "params", None)
    return fn is not None and "storage" in inspect.signature(fn).parameters


def frozen_params_uri(artifact_root: str, parent_run_id: str, stage: str) -> str:
    return join(artifact_root, "runs", parent_run_id, "params", f"{stage}.json")


def stage_params(node: graph.StageNode, module: ModuleType, cfg: RunConfig, storage: Storage) -> dict:
    """What the content address depends on besides code and inputs: `params(cfg)` of the stage's section if the
    module has one (given the run's storage if it asks for it: collect reads its sources' fingerprints), else the
    whole section; plus the NEEDS values under "needs"."""
    section = cfg.section(node.name)
    fn = getattr(module, "params", None)
    if fn is None:
        params = dataclasses.asdict(section)
    else:
        params = fn(section, storage=storage) if reads_storage(module) else fn(section)
    # a module may name NEEDS that change none of its artifact's bytes that matter (pretrain's KoBEST directory:
    # it scores the live weights during training and trains nothing on it)
    unaddressed = set(getattr(module, "NOT_ADDRESSED", ()))
    named = {k: v for k, v in needs(module, cfg).items() if k not in unaddressed}
    return {**params, "needs": named} if named else params


# Keyword arguments a stage function may also ask for: `params`, what its address was computed from (collect's
# shards take their file list from it, so no shard lists the sources again); `steps` (for a step), the parts
# earlier steps wrote, by step name.
OPTIONAL = {"params", "steps"}


def bind(node: graph.StageNode, module: ModuleType) -> None:
    """Check a stage module against its graph node: the functions it must have, one keyword argument per input
    role annotated with the kind the upstream stage writes, its NEEDS, and the kind it returns."""
    problems = []
    named = set(getattr(module, "NEEDS", {}))
    fns = ({s.fn: {"shard", "out"} for s in node.steps} | {"reduce": {"steps", "out"}}) if node.sharded \
        else {"run": {"out"}}
    for fn_name, extra in fns.items():
        fn = getattr(module, fn_name, None)
        if fn is None:
            problems.append(f"no {fn_name}()")
            continue
        params = list(inspect.signature(fn).parameters.values())
        keywords = {p.name for p in params if p.kind == p.KEYWORD_ONLY}
        expected = set(node.inputs) | named | extra
        if not params or params[0].kind != params[0].POSITIONAL_OR_KEYWORD or not extra <= keywords or \
                keywords - OPTIONAL != expected - OPTIONAL:
            problems.append(f"{fn_name}(cfg, *, ...) takes {sorted(keywords)}, the graph gives {sorted(expected)}")
            continue
        hints = typing.get_type_hints(fn)
        for role, src in node.inputs.items():
            want, got = graph.stage(src).kind, kinds.annotation_kind(hints.get(role))
            if got != want:
                problems.append(f"{fn_name}(): input {role} is annotated {hints.get(role)}, the graph gives a "
                                f"{want} (Artifact[{want}])")
        if fn_name in ("run", "reduce"):
            ret = hints.get("return")
            if getattr(ret, "KIND", None) != node.kind:
                problems.append(f"{fn_name}() returns {ret}, the graph says it writes a {node.kind}")
    if problems:
        raise StageFailed(f"stage {node.name} ({module.__name__}) does not match the stage graph: "
                          + "; ".join(problems))


# --------------------------------------------------------------------------------------------- accounting


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


# ------------------------------------------------------------------------------------------ one stage run


class StageRun:
    """One stage of one pipeline run: binds inputs by role, computes the content address, then runs or reuses."""

    def __init__(self, node: graph.StageNode, ctx: Context, input_uris: dict[str, str], params: dict | None = None):
        # `params`: already computed by the driver (shard workers get them, rather than re-reading every input)
        self.node, self.ctx = node, ctx
        self.module = importlib.import_module(node.module)
        bind(node, self.module)
        self.section = ctx.cfg.section(node.name)
        missing = set(node.inputs) - set(input_uris)
        if missing:
            raise StageFailed(f"{node.name}: missing inputs {sorted(missing)}")
        self.inputs = {role: Artifact(role, require_manifest(ctx.storage, uri), ctx.storage, ctx.cache_dir())
                       for role, uri in input_uris.items() if role in node.inputs}
        for role, art in self.inputs.items():
            want = graph.stage(node.inputs[role]).kind
            if art.manifest.kind != want:
                raise StageFailed(f"{node.name}: input {role} at {art.uri} is a {art.manifest.kind}, not a {want}")
        self.needs = needs(self.module, ctx.cfg)
        self.params = params if params is not None else self._params_for_this_run()
        self.code = code_version(node.module)
        self.key = address(node.name, self.code, self.params, {r: a.digest for r, a in self.inputs.items()})
        self.stage_root = join(ctx.artifact_root, node.name)
        self.uri = join(self.stage_root, self.key[:20])

    def _params_for_this_run(self) -> dict:
        """The stage's params; for a stage whose params read the outside world (collect lists its sources), the
        ones its pipeline run froze: every task of one run (every shard pod) sees one listing, read once."""
        ctx = self.ctx
        if not (ctx.parent_run_id and reads_storage(self.module)):
            return stage_params(self.node, self.module, ctx.cfg, ctx.storage)
        uri = frozen_params_uri(ctx.artifact_root, ctx.parent_run_id, self.node.name)
        if ctx.storage.exists(uri):
            return json.loads(ctx.storage.read_bytes(uri))
        params = stage_params(self.node, self.module, ctx.cfg, ctx.storage)
        ctx.storage.write_bytes(uri, json.dumps(params, ensure_ascii=False).encode())
        return params

    def output(self, staging: Path, run_id: str | None = None, tracking_uri: str | None = None) -> Output:
        ctx = self.ctx
        return Output(dir=staging, key=self.key, uri=self.uri, storage=ctx.storage, stage_root=self.stage_root,
                      artifact_root=ctx.artifact_root, workdir=ctx.workdir, run_id=run_id,
                      tracking_uri=tracking_uri or (ctx.lineage.tracking_uri if ctx.lineage else None), log=ctx.log)

    def _call(self, fn_name: str, out: Output, **extra) -> Any:
        fn = getattr(self.module, fn_name)
        if "params" in inspect.signature(fn).parameters:
            extra["params"] = self.params
        return fn(self.section, **self.inputs, **self.needs, out=out, **extra)

    # -- steps of a corpus stage ----------------------------------------------------------------------------
    def width(self, step: graph.Step) -> int:
        return graph.width(self.node, step, self.ctx.cfg)

    def part_uri(self, step: graph.Step, rank: int) -> str:
        return join(self.uri, "steps", step.name, f"{rank:05d}-of-{self.width(step):05d}")

    def part(self, step: graph.Step, rank: int) -> Part:
        return Part(rank, self.part_uri(step, rank), self.ctx.storage,
                    self.ctx.cache_dir() / f"{self.key[:20]}-{step.name}{rank}")

    def done(self, step: graph.Step, rank: int) -> bool:
        return self.ctx.storage.exists(join(self.part_uri(step, rank), PART_MANIFEST))

    def parts_before(self, step: graph.Step | None) -> dict[str, list[Part]]:
        """The parts of every step before `step` (None: all steps), by step name."""
        out = {}
        for s in self.node.steps:
            if s == step:
                break
            out[s.name] = [self.part(s, r) for r in range(self.width(s))]
        return out

    def run_step(self, step: graph.Step, rank: int) -> Part:
        """One task of a step; a task whose part.json exists is done (a killed or retried task skips it)."""
        if self.done(step, rank) and not self.ctx.force:
            return self.part(step, rank)
        staging = self.ctx.staging(f"{self.node.name}-{step.name}{rank}")
        before = _telemetry()
        try:
            out = self.output(staging)
            fn = getattr(self.module, step.fn)
            extra = {"steps": self.parts_before(step)} if "steps" in inspect.signature(fn).parameters else {}
            stats = self._call(step.fn, out, shard=Shard(rank, self.width(step)), **extra)
            check_accounting(f"{self.node.name}[{step.name} {rank}/{self.width(step)}]", stats)
            uri = self.part_uri(step, rank)
            files = publish_dir(self.ctx.storage, staging, uri)
            doc = {"rank": rank, "width": self.width(step), "files": [dataclasses.asdict(f) for f in files],
                   "adopted": [dataclasses.asdict(f) for f in out.adopted], "stats": stats,
                   "task": _telemetry(before)}
            self.ctx.storage.write_bytes(join(uri, PART_MANIFEST), json.dumps(doc, ensure_ascii=False).encode())
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return self.part(step, rank)

    # -- whole stage -----------------------------------------------------------------------------------------
    def existing(self) -> Manifest | None:
        return read_manifest(self.ctx.storage, self.uri)

    def reused(self) -> Manifest | None:
        """An artifact to take instead of making one: `reused(cfg[, <inputs>])` in the module returns its URI
        (train-tokenizer's `reuse`; curate's base when no raw file is new), checked to be of the stage's kind."""
        fn = getattr(self.module, "reused", None)
        if fn is None:
            return None
        wanted = inspect.signature(fn).parameters
        uri = fn(self.section, **{r: a for r, a in self.inputs.items() if r in wanted})
        if not uri:
            return None
        manifest = require_manifest(self.ctx.storage, uri)
        if manifest.kind != self.node.kind:
            raise StageFailed(f"{self.node.name}: {uri} is a {manifest.kind}, not a {self.node.kind}")
        return manifest

    def execute(self, max_workers: int | None = None) -> tuple[Manifest, bool]:
        ctx, node = self.ctx, self.node
        lineage = ctx.lineage
        found = None if ctx.force else self.existing()
        run_id = None
        if lineage:
            run_id = lineage.start_stage(ctx.parent_run_id, node.name, {"artifact.key": self.key})
        try:
            taken = self.reused()
            if taken:
                manifest, hit = taken, True
                ctx.log(f"{node.name}: taking {manifest.uri} as it is ({manifest.kind} {manifest.digest[:12]})")
            elif found:
                manifest, hit = found, True
            else:
                manifest, hit = self._produce(run_id, max_workers), False
            if lineage:
                lineage.record_stage(run_id, manifest, cache_hit=hit, info=kinds.read(manifest),
                                     seconds=manifest.stats.get("seconds", 0.0))
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
        out = self.output(ctx.staging(node.name), run_id)
        t0 = time.time()
        try:
            telemetry = {}
            if node.sharded:
                walls = {}
                for step in node.steps:
                    t_step = time.time()
                    self._run_step_tasks(step, max_workers)
                    walls[step.name] = time.time() - t_step
                # one set of parts for the telemetry and the reduce: each part.json is read once
                steps = self.parts_before(None)
                telemetry = {name: _step_telemetry(steps[name], wall) for name, wall in walls.items()}
                before = _telemetry()
                info = self._call("reduce", out, steps=steps)
                telemetry["reduce"] = _telemetry(before)
            else:
                info = self._call("run", out)
            if not isinstance(info, kinds.of(node.kind)):
                raise StageFailed(f"{node.name}: returned {type(info).__name__}, not a {node.kind} description")
            stats = info.to_stats()
            if isinstance(info, kinds.Accounted):
                check_accounting(node.name, stats)
                if info.records_out == 0:
                    raise StageFailed(f"{node.name}: no valid records left (in: {info.records_in}, dropped: "
                                      f"{info.dropped}, quarantined: {info.quarantined})")
            stats["seconds"] = round(time.time() - t0, 3)
            if telemetry:      # what each step cost: how the stage scales, measured (benchmarks/, `plan`)
                stats["steps"] = telemetry
            if ctx.lineage and run_id:
                for report in out.reports:   # before publishing moves them away
                    ctx.lineage.log_file(run_id, report)
            files = out.adopted + publish_dir(ctx.storage, out.dir, self.uri)
            manifest = Manifest(
                kind=node.kind, stage=node.name, key=self.key, uri=self.uri,
                inputs=[InputRef(role=r, kind=a.manifest.kind, uri=a.uri, digest=a.digest,
                                 mlflow_run_id=a.manifest.mlflow_run_id) for r, a in sorted(self.inputs.items())],
                params=self.params, files=files, stats=stats,
                code_version={"stage": self.code, "modules": modules_of(node.module), "git": git_commit(),
                              "package": importlib.import_module("components").__version__},
                mlflow_run_id=run_id)
            manifest = write_manifest(ctx.storage, manifest)
            if node.sharded and getattr(self.module, "DROP_STEPS", False):
                ctx.storage.delete_tree(join(self.uri, "steps"))
            return manifest
        finally:
            shutil.rmtree(out.dir, ignore_errors=True)

    def _run_step_tasks(self, step: graph.Step, max_workers: int | None) -> None:
        """Every task of a step not done yet, over the local cores (a process each)."""
        todo = [r for r in range(self.width(step)) if self.ctx.force or not self.done(step, r)]
        # the cores this process may use (a pod's cpuset, not the node's), or POLYGLOT_KO_MAX_WORKERS
        cores = int(os.environ.get("POLYGLOT_KO_MAX_WORKERS", "0")) or len(os.sched_getaffinity(0))
        workers = max(1, min(len(todo), max_workers or cores))
        # POLYGLOT_KO_TASK_PROCESSES=1: every task in a fresh process, as in a pod of its own (what a benchmark
        # measures a task's memory in); otherwise workers are reused and a lone task runs here
        fresh = os.environ.get("POLYGLOT_KO_TASK_PROCESSES") == "1"
        if todo and (workers > 1 or fresh):
            import multiprocessing as mp

            spec = _ShardSpec.of(self)
            with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"),
                                     max_tasks_per_child=1 if fresh else None) as pool:
                list(pool.map(_shard_worker, [(spec, step.name, r) for r in todo]))
        else:
            for r in todo:
                self.run_step(step, r)


def _telemetry(before: dict | None = None) -> dict:
    """This process's clock, peak resident memory and bytes read/written; with `before`: the task's share (the
    peak is the process's so far, an upper bound for a task in a reused worker)."""
    import psutil
    io = psutil.Process().io_counters()
    now = {"seconds": time.time(), "peak_rss_mb": peak_rss_mb(),
           "read_bytes": io.read_chars, "written_bytes": io.write_chars}
    if before is None:
        return now
    return {"seconds": round(now["seconds"] - before["seconds"], 3), "peak_rss_mb": round(now["peak_rss_mb"], 1),
            "read_bytes": now["read_bytes"] - before["read_bytes"],
            "written_bytes": now["written_bytes"] - before["written_bytes"]}


def peak_rss_mb() -> float:
    """This program's peak resident memory. Linux's VmHWM, not getrusage's ru_maxrss: ru_maxrss survives exec,
    so a process started by a large one (a spawned worker, a subprocess) would report its parent's size."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak_rss() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")     # Linux: resets VmHWM to the current size
    except OSError:
        pass


def _step_telemetry(parts: list[Part], wall: float) -> dict:
    tasks = [p.task for p in parts]
    return {"tasks": len(tasks), "seconds": round(wall, 3),
            "task_seconds_max": max((x.get("seconds", 0) for x in tasks), default=0),
            "task_seconds_sum": round(sum(x.get("seconds", 0) for x in tasks), 3),
            "peak_rss_mb_max": max((x.get("peak_rss_mb", 0) for x in tasks), default=0),
            "read_bytes_max": max((x.get("read_bytes", 0) for x in tasks), default=0),
            "written_bytes_max": max((x.get("written_bytes", 0) for x in tasks), default=0),
            "read_bytes": sum(x.get("read_bytes", 0) for x in tasks),
            "written_bytes": sum(x.get("written_bytes", 0) for x in tasks),
            # what a step counts as its work, where it says (curate's bucket: signatures, cluster: pairs)
            "work": sum(p.stats.get("work", 0) for p in parts)}


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
    key: str             # the driver's address: a worker whose code differs must not publish elsewhere

    @classmethod
    def of(cls, sr: StageRun) -> "_ShardSpec":
        return cls(sr.node.name, config_to_dict(sr.ctx.cfg), str(sr.ctx.workdir), sr.ctx.artifact_root,
                   sr.ctx.storage.endpoint_url, {r: a.uri for r, a in sr.inputs.items()}, sr.ctx.force, sr.params,
                   sr.key)


def _shard_worker(args) -> int:
    spec, step, rank = args
    _reset_peak_rss()     # a reused worker: each task's part records its own peak, as its own pod would
    ctx = Context(cfg=config_from_dict(spec.cfg), workdir=Path(spec.workdir),
                  storage=Storage(spec.endpoint_url), artifact_root=spec.artifact_root, force=spec.force)
    node = graph.stage(spec.stage)
    sr = StageRun(node, ctx, spec.inputs, spec.params)
    if sr.key != spec.key:
        raise StageFailed(f"{spec.stage}: the code changed while the stage ran (a worker's address {sr.key[:20]} "
                          f"is not the run's {spec.key[:20]}); run it again")
    sr.run_step(node.step(step), rank)
    return rank
