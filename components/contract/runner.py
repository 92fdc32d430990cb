"""Running the stage graph: the local runner, and the begin / stage / finish steps that orchestrators call.

Orchestrators (KFP, Airflow) only pass strings between tasks: the parent MLflow run id from `begin`, and each
stage's output manifest URI. The resolved configuration is frozen at `begin` into <workdir>/runs/<run id>.yaml.
"""
from __future__ import annotations

import contextlib
import importlib
import json
import time
from pathlib import Path

from . import graph
from .manifest import Manifest, ancestry, require_manifest
from .config import RunConfig, config_to_dict, dump_config, load_config
from ..errors import UserError
from .lineage import Lineage, tracking_uri_for
from . import pages
from .execution import Context, StageRun, git_commit, reads_storage
from .summary import summarize
from .storage import Storage, is_s3


def artifact_root(cfg: RunConfig, workdir: Path) -> str:
    root = cfg.artifact_root or str(workdir / "artifacts")
    return root if is_s3(root) else str(Path(root).resolve())


def make_lineage(cfg: RunConfig, workdir: Path) -> Lineage:
    uri = tracking_uri_for(workdir)
    # A local tracking store keeps run artifacts beside the database, never in ./mlruns of the current dir.
    location = None if uri.startswith("http") else (workdir / "mlartifacts").resolve().as_uri()
    return Lineage(uri, cfg.experiment, location)


def make_context(cfg: RunConfig, workdir: Path, parent_run_id: str | None, force: bool = False,
                 lineage: Lineage | None = None, log=print) -> Context:
    workdir.mkdir(parents=True, exist_ok=True)
    return Context(cfg=cfg, workdir=workdir.resolve(), storage=Storage(cfg.s3_endpoint_url),
                   artifact_root=artifact_root(cfg, workdir), lineage=lineage, parent_run_id=parent_run_id,
                   force=force, log=log)


def run_config_path(workdir: Path, parent_run_id: str) -> Path:
    return workdir / "runs" / f"{parent_run_id}.yaml"


def begin(cfg: RunConfig, workdir: Path, config_name: str, log=print) -> str:
    """Start the pipeline run: the MLflow parent run, and the frozen config every stage task reads."""
    from ..registry.champion import resolve

    workdir.mkdir(parents=True, exist_ok=True)
    lineage = make_lineage(cfg, workdir)
    # `champion` (curate.base, train_tokenizer.reuse, pretrain.init_from) becomes the champion's artifacts' URIs
    # in the configuration every task reads, so their addresses name what is reused
    cfg, champion = resolve(cfg, lineage.tracking_uri, log)
    reuse_tags = {f"reuse.{k}": str(v) for k, v in champion.items()}
    run_id = lineage.start_parent(f"pipeline-{time.strftime('%Y%m%d-%H%M%S')}", config_to_dict(cfg),
                                  {"config": config_name, "code_version.git": git_commit(),
                                   "artifact_root": artifact_root(cfg, workdir), **reuse_tags})
    path = run_config_path(workdir, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    dump_config(cfg, path)
    # Freeze what the run reads from outside (collect's listing of its sources) before any task starts, so that
    # its shard tasks, wherever they run, agree on the files and none of them lists the sources again.
    ctx = make_context(cfg, workdir, run_id)
    for node in graph.STAGES:
        if not node.inputs and reads_storage(importlib.import_module(node.module)):
            StageRun(node, ctx, {})
    return run_id


def load_run_config(workdir: Path, parent_run_id: str) -> RunConfig:
    """The config `begin` froze: from the workdir, or (a pod with a fresh workdir) from the parent run in MLflow,
    where `begin` also logged it."""
    path = run_config_path(workdir, parent_run_id)
    if path.is_file():
        return load_config(path)
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from .config import config_from_dict
    uri = tracking_uri_for(workdir)
    try:
        local = MlflowClient(uri).download_artifacts(parent_run_id, "config.json", str(workdir))
    except (MlflowException, OSError) as e:
        raise UserError(f"no pipeline run {parent_run_id} in {workdir} or in MLflow at {uri} (begin it first): "
                        f"{str(e).splitlines()[0]}") from None
    cfg = config_from_dict(json.loads(Path(local).read_text()))
    path.parent.mkdir(parents=True, exist_ok=True)
    dump_config(cfg, path)
    return cfg


def run_one(stage_name: str, workdir: Path, parent_run_id: str, inputs: dict[str, str], force: bool = False,
            cfg: RunConfig | None = None, lineage: Lineage | None = None) -> tuple[Manifest, bool, float]:
    cfg = cfg or load_run_config(workdir, parent_run_id)
    lineage = lineage or make_lineage(cfg, workdir)
    ctx = make_context(cfg, workdir, parent_run_id, force, lineage)
    t0 = time.time()
    manifest, hit = StageRun(graph.stage(stage_name), ctx, inputs).execute()
    return manifest, hit, time.time() - t0


def run_step(stage_name: str, workdir: Path, parent_run_id: str, inputs: dict[str, str], step_name: str,
             rank: int) -> str:
    """One task of a corpus stage's step (what a fanned-out task runs); returns its part's URI."""
    cfg = load_run_config(workdir, parent_run_id)
    node = graph.stage(stage_name)
    if not node.sharded:
        raise UserError(f"--shard: stage {stage_name} is not sharded")
    try:
        step = node.step(step_name)
    except KeyError as e:
        raise UserError(f"--step: {e.args[0]}") from None
    width = graph.width(node, step, cfg)
    if not 0 <= rank < width:
        raise UserError(f"--shard {rank}: {stage_name}'s {step.name} step has {width} tasks")
    sr = StageRun(node, make_context(cfg, workdir, parent_run_id), inputs)
    return sr.run_step(step, rank).uri


def finish(workdir: Path, parent_run_id: str, results: dict[str, str], status: str = "FINISHED") -> dict:
    """End the parent run; record each stage's artifact on it; return the summary data."""
    cfg = load_run_config(workdir, parent_run_id)
    lineage = make_lineage(cfg, workdir)
    storage = Storage(cfg.s3_endpoint_url)
    manifests = with_upstream(storage, {name: require_manifest(storage, uri) for name, uri in results.items()})
    lineage.set_tags(parent_run_id, {f"artifact.{n}.digest": m.digest for n, m in manifests.items()})
    lineage.set_tags(parent_run_id, {f"artifact.{n}.uri": m.uri for n, m in manifests.items()})
    summary = summarize(manifests, cfg.train_tokenizer.reuse)
    lineage.set_tags(parent_run_id, {f"reuse.{stage}.{k}": str(v) for stage, r in summary["reuse"].items()
                                     for k, v in r.items()})
    lineage.log_text(parent_run_id, json.dumps(summary, ensure_ascii=False, indent=2), "summary.json")
    try:
        describe_run(lineage, parent_run_id, summary, manifests)
    except Exception as e:       # the run's page is for people: a failure to draw it must not fail a finished run
        print(f"warning: the parent run's description or lineage.png was not recorded: {e}", flush=True)
    lineage.end(parent_run_id, status)
    return {**summary, "parent_run_id": parent_run_id, "tracking_uri": lineage.tracking_uri,
            "ui_url": pages.ui_url(lineage.tracking_uri, lineage.experiment_id, parent_run_id)}


def stage_runs(lineage: Lineage, parent_run_id: str) -> dict[str, object]:
    """stage -> its child run of this pipeline run (a retried task has several: the last finished one)."""
    runs = lineage.client.search_runs([lineage.experiment_id], f"tags.`mlflow.parentRunId` = '{parent_run_id}'",
                                      order_by=["attributes.start_time ASC"], max_results=1000)
    out: dict[str, object] = {}
    for r in runs:
        stage = r.data.tags.get("stage")
        if stage and (r.info.status == "FINISHED" or stage not in out):
            out[stage] = r
    return out


def describe_run(lineage: Lineage, parent_run_id: str, summary: dict, manifests: dict[str, Manifest]) -> None:
    """The parent run's page: its description (the summary in markdown) and lineage.png (the stage graph)."""
    import tempfile

    from .lineage_graph import draw

    children = stage_runs(lineage, parent_run_id)
    status = {}
    for name in manifests:
        run = children.get(name)
        if summary["reuse"].get(name, {}).get("reused_from"):
            status[name] = "taken"
        elif run is None:
            status[name] = "earlier run"      # upstream of --from: this run read the artifact, did not look it up
        else:
            status[name] = "cache hit" if run.data.tags.get("cache_hit") == "true" else "ran"
    lineage.describe(parent_run_id, pages.run_note(summary, status, {n: r.info.run_id for n, r in children.items()},
                                                   lineage.experiment_id))
    with tempfile.TemporaryDirectory() as tmp:
        png = draw(Path(tmp) / "lineage.png", {n: {"kind": m.kind, "digest": m.digest, "status": status[n]}
                                                for n, m in manifests.items()},
                   f"pipeline run {parent_run_id[:12]}: each stage's artifact and how this run got it")
        lineage.log_file(parent_run_id, png)


def with_upstream(storage: Storage, manifests: dict[str, Manifest]) -> dict[str, Manifest]:
    """Add every artifact the given ones descend from (orchestrators pass only the last stage's URI)."""
    found = ancestry(storage, list(manifests.values()))
    return {n.name: found[n.name] for n in graph.STAGES if n.name in found}


def run_pipeline(config_path: str, workdir: Path, overrides: list[str] | None = None, start: str | None = None,
                 until: str | None = None, force: bool = False, log=print) -> dict:
    """The local runner: every stage in order, in this process (corpus shards over the local cores).

    One run at a time per workdir: a second run of the same workdir waits for the first (its SQLite MLflow store
    and checkpoints are not shared safely), then finds the first run's artifacts and reuses them.
    """
    cfg = load_config(config_path, overrides)
    workdir = workdir.resolve()
    with _workdir_lock(workdir, log):
        return _run_pipeline(cfg, config_path, workdir, start, until, force, log)


@contextlib.contextmanager
def _workdir_lock(workdir: Path, log):
    import fcntl
    workdir.mkdir(parents=True, exist_ok=True)
    with open(workdir / ".run.lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"another run is using {workdir}; waiting for it to finish ...")
            fcntl.flock(f, fcntl.LOCK_EX)     # released by the kernel if that process dies
        yield


def _run_pipeline(cfg: RunConfig, config_path: str, workdir: Path, start: str | None, until: str | None,
                  force: bool, log) -> dict:
    nodes = graph.select(start, until)
    run_id = begin(cfg, workdir, str(config_path), log)
    cfg = load_run_config(workdir, run_id)       # as begin froze it (`champion` resolved)
    lineage = make_lineage(cfg, workdir)
    results: dict[str, str] = {}
    timings: dict[str, tuple[float, bool]] = {}
    status = "FAILED"
    try:
        for node in nodes:
            inputs = {}
            for role, src in node.inputs.items():
                if src not in results:   # an upstream stage outside --from: take its cached artifact
                    results[src] = _cached_uri(src, cfg, workdir, results)
                inputs[role] = results[src]
            log(f"[{node.name}] running ...")
            manifest, hit, secs = run_one(node.name, workdir, run_id, inputs, force=force, cfg=cfg, lineage=lineage)
            results[node.name] = manifest.uri
            timings[node.name] = (secs, hit)
            log(f"[{node.name}] {'cache hit' if hit else 'done'} in {secs:.1f}s -> {manifest.uri}")
        status = "FINISHED"
    finally:
        if status == "FAILED":
            lineage.end(run_id, "FAILED")
    summary = finish(workdir, run_id, results)
    summary["timings"] = timings
    return summary


def cached_inputs(cfg: RunConfig, workdir: Path, stage_name: str) -> dict[str, str]:
    """role -> URI of the artifacts `stage_name` reads under this config, which must already exist."""
    results: dict[str, str] = {}
    return {role: _cached_uri(src, cfg, workdir, results) for role, src in graph.stage(stage_name).inputs.items()}


def stage_run(cfg: RunConfig, workdir: Path, stage_name: str, inputs: dict[str, str]) -> StageRun:
    """The stage as a pipeline run would execute it (its address, its output's locations), without running it."""
    return StageRun(graph.stage(stage_name), make_context(cfg, workdir, None), inputs)


def _cached_uri(stage_name: str, cfg: RunConfig, workdir: Path, results: dict[str, str]) -> str:
    """The artifact an upstream stage would produce for this config, which must already exist."""
    node = graph.stage(stage_name)
    inputs = {}
    for role, src in node.inputs.items():
        if src not in results:
            results[src] = _cached_uri(src, cfg, workdir, results)
        inputs[role] = results[src]
    sr = StageRun(node, make_context(cfg, workdir, None), inputs)
    if (taken := sr.reused()) is not None:      # the stage takes an existing artifact (train-tokenizer's reuse)
        return taken.uri
    if sr.existing() is None:
        raise UserError(f"upstream stage {stage_name} has no artifact for this config yet; run the pipeline "
                        f"--until {stage_name} first")
    return sr.uri
