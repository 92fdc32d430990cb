"""`polyglot-ko`: the command line. Every subcommand is a thin shim over a function in components/."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import StageFailed, UserError


def _deref(value: str) -> str:
    """`@LOCATION` stands for the text stored at LOCATION (a file or s3:// object an upstream task wrote with
    --output-file): how pod tasks hand each other results without XCom."""
    if not value or not value.startswith("@"):
        return value
    from .contract.storage import Storage
    try:
        return Storage().read_bytes(value[1:]).decode("utf-8").strip()
    except Exception as e:
        raise UserError(f"cannot read {value[1:]} (written by the upstream task?): {e}") from None


def _parse_inputs(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items or []:
        if "=" not in item:
            raise UserError(f"--input expects role=uri, got {item!r}")
        k, v = item.split("=", 1)
        out[k] = _deref(v)
    return out


def cmd_run(a) -> int:
    from .contract.summary import print_summary

    if a.engine == "local":
        from .contract.runner import run_pipeline
        summary = run_pipeline(a.config, Path(a.workdir), a.set, a.start, a.until, a.force, log=_log)
    else:
        if a.start or a.until or a.force:
            raise UserError("--from, --until and --force work with --engine local only")
        if a.engine == "kfp":
            from dags.kfp_pipeline import run_local
            summary = run_local(a.config, Path(a.workdir), a.set)
        else:
            if a.set:
                raise UserError("--set is not passed to the Airflow DAG; write the values into the config file")
            from dags.airflow_local import dag_test
            log, summary = dag_test(a.config, Path(a.workdir))
            _log(f"airflow dags test succeeded; log: {log}")
    print_summary(summary)
    return 0


def cmd_compile(a) -> int:
    from dags.kfp_pipeline import compile_cluster

    from .contract.config import dump_config, load_config

    out = Path(a.out)
    cfg = load_config(a.config, a.set)
    out.mkdir(parents=True, exist_ok=True)
    dump_config(cfg, out / "config.yaml")
    for path in compile_cluster(cfg, out):
        print(path)
    return 0


def cmd_submit(a) -> int:
    """Upload the config to object storage, compile, and start a run on a KFP server."""
    from dags.kfp_pipeline import submit

    from .contract.config import config_to_dict, load_config

    cfg = load_config(a.config, a.set)
    text = Path(a.config).read_text(encoding="utf-8")
    if a.set:   # the run must read what was asked for, overrides included
        import yaml
        text = yaml.safe_dump(config_to_dict(cfg), allow_unicode=True, sort_keys=False)
    run_id, config_uri = submit(cfg, text, a.kfp_host, Path(a.out or ".polyglot-ko-submit"), a.namespace,
                                a.run_name or f"{cfg.experiment}-{Path(a.config).stem}")
    print(f"submitted run {run_id} (config {config_uri})")
    return 0


def cmd_begin(a) -> int:
    from .contract.config import load_config
    from .contract.runner import begin

    run_id = begin(load_config(a.config, a.set), Path(a.workdir).resolve(), a.config)
    _output(a, run_id)
    print(run_id)
    return 0


def _output(a, value: str) -> None:
    """--output-file: where a container task (KFP) collects a task's result."""
    if getattr(a, "output_file", None):
        from .contract.storage import Storage
        Storage().write_bytes(a.output_file, value.encode("utf-8"))


def cmd_stage(a) -> int:
    from .contract.runner import run_one

    workdir = Path(a.workdir).resolve()
    a.parent_run_id = _deref(a.parent_run_id)
    if a.config and not a.parent_run_id:
        from .contract.config import load_config
        from .contract.runner import begin
        a.parent_run_id = begin(load_config(a.config, a.set), workdir, a.config)
    if a.shard is not None:
        from .contract.runner import run_step
        uri = run_step(a.name, workdir, a.parent_run_id, _parse_inputs(a.input), a.step, a.shard)
        _output(a, uri)
        print(uri)
        return 0
    manifest, hit, secs = run_one(a.name, workdir, a.parent_run_id, _parse_inputs(a.input), force=a.force)
    _log(f"[{a.name}] {'cache hit' if hit else 'done'} in {secs:.1f}s")
    _output(a, manifest.uri)
    print(manifest.uri)   # last line of stdout: what orchestrators pass downstream
    return 0


def cmd_finish(a) -> int:
    from .contract.summary import print_summary
    from .contract.runner import finish

    summary = finish(Path(a.workdir).resolve(), _deref(a.parent_run_id), _parse_inputs(a.input))
    _output(a, json.dumps(summary, ensure_ascii=False))
    print_summary(summary)
    return 0


def cmd_clean(a) -> int:
    from .corpus.clean_jsonl import clean_file
    from .contract.config import CurateConfig, load_config

    cfg = load_config(a.config).curate if a.config else CurateConfig()
    stats = clean_file(Path(a.input), Path(a.output), cfg)
    print(json.dumps(stats, ensure_ascii=False, indent=2))
    return 0


def cmd_verify(a) -> int:
    from .contract.manifest import require_manifest, verify
    from .contract.storage import Storage

    storage, bad = Storage(), 0
    for uri in a.uris:
        problems = verify(storage, require_manifest(storage, uri))
        bad += bool(problems)
        print(f"{uri}: {'OK' if not problems else '; '.join(problems)}")
    return 1 if bad else 0


def cmd_presets(a) -> int:
    from training.presets import describe

    print(describe())
    return 0


def cmd_plan(a) -> int:
    from . import capacity
    from .contract.config import load_config

    cfg = load_config(a.config, a.set)
    assume = capacity.Assumptions(
        dropped_share=a.dropped_share, duplicate_share=a.duplicate_share, pod_start_s=a.pod_start_s, gpu=a.gpu,
        mfu=a.mfu, file_bytes=capacity.parse_bytes(a.file_bytes, "--file-bytes"),
        stored_bytes=capacity.parse_bytes(a.stored_bytes, "--stored-bytes") if a.stored_bytes else None)
    prices = capacity.Prices(core_hour=a.core_hour_usd, gpu_hour=a.gpu_hour_usd)
    corpus = capacity.parse_bytes(a.corpus_bytes)
    docs = capacity.parse_count(a.documents) if a.documents else None
    rows, figures = capacity.plan(cfg, corpus, docs, assume=assume,
                                  measured=Path(a.measured) if a.measured else capacity.MEASURED)
    print(capacity.render(cfg, corpus, rows, figures, prices, assume))
    return 0


def _registry_client(workdir: str):
    from mlflow import MlflowClient

    from .contract.lineage import set_process_uri, tracking_uri_for
    uri = tracking_uri_for(Path(workdir).resolve())
    set_process_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri), uri


def cmd_evaluate(a) -> int:
    import tempfile

    from .contract.config import EvaluateConfig, load_config
    from .evaluation.harness import evaluate_model, resolve_model

    cfg = load_config(a.config, a.set).evaluate if a.config else EvaluateConfig()
    if a.set and not a.config:
        raise UserError("--set needs --config")
    out = Path(a.out)
    if a.model.startswith("models:/"):
        _registry_client(a.workdir)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = resolve_model(a.model, Path(tmp) / "model")
        validation = None
        if a.dataset:
            from .contract.artifact import Artifact
            from .contract.manifest import require_manifest
            from .contract.storage import Storage
            from .tokenizer.segments import artifact_stream
            storage = Storage()
            dataset = Artifact("dataset", require_manifest(storage, a.dataset), storage, Path(tmp) / "data")
            validation = artifact_stream(dataset, "validation", cfg.perplexity_max_tokens)
        # Perplexity windows: the length the model was trained on (a TrainedModel says), else its context.
        seq_length = min(json.loads((model_dir / "config.json").read_text()).get("max_position_embeddings", 2048),
                         2048)
        manifest = model_dir.parent / "manifest.json"
        if manifest.is_file():
            from .contract import kinds
            from .contract.manifest import Manifest
            m = Manifest.from_json(manifest.read_text())
            if m.kind == "TrainedModel":
                seq_length = kinds.read(m).seq_length
        training = model_dir.parent / "metrics.jsonl"
        metrics = evaluate_model(model_dir, cfg, out, Path(tmp), model_name=a.name or Path(a.model).name,
                                 validation=validation, seq_length=seq_length,
                                 training_metrics=training if training.is_file() else None)
    for shots, sc in metrics["scores"].items():
        print(f"{shots}-shot: mean macro-F1 {sc['kobest_macro_f1_mean']:.4f}, mean accuracy "
              f"{sc['kobest_acc_mean']:.4f}")
    print(f"report: {out / 'report.md'}")
    return 0


def cmd_promote(a) -> int:
    from .registry.promotion import promote

    client, uri = _registry_client(a.workdir)
    reason = promote(client, a.name, a.version, a.reason)
    print(f"{a.name} version {a.version} is now champion ({reason}); registry {uri}")
    return 0


def cmd_rollback(a) -> int:
    from .registry.promotion import rollback

    client, uri = _registry_client(a.workdir)
    old, new = rollback(client, a.name, a.reason)
    print(f"{a.name}: champion rolled back from version {old} to version {new}; registry {uri}")
    return 0


def cmd_train_job(a) -> int:
    """The training job the config's pretrain stage submits: named by the stage's content address, reading the
    arguments the stage writes (pretrain-jobs/<address>/train_args.json). With --submit it starts that job, or
    attaches to it, exactly as the stage would; the stage, run later, attaches to it in turn."""
    import dataclasses
    import tempfile

    from training.k8s import jobs
    from training.plan import resolve

    from .contract import runner
    from .contract.config import load_config
    from .contract.lineage import tracking_uri_for
    from .stages import pretrain

    cfg = load_config(a.config, a.set)
    launcher = cfg.pretrain.launcher
    if a.submit and launcher == "local":
        raise UserError("train-job --submit: this config's pretrain stage trains locally (pretrain.launcher: "
                        "local), so it has no Kubernetes job to start; set pretrain.launcher to trainjob or pytorchjob")
    if a.submit and a.kind and a.kind != launcher:
        # the address does not depend on the kind: a job of another kind would train into the stage's
        # checkpoint directory beside the one the stage starts
        raise UserError(f"train-job --submit --kind {a.kind}: the pretrain stage submits a {launcher}; set "
                        f"pretrain.launcher={a.kind} to change what both submit")
    kind = a.kind or (launcher if launcher != "local" else "trainjob")
    cfg = dataclasses.replace(cfg, pretrain=dataclasses.replace(cfg.pretrain, launcher=kind))
    plan = resolve(cfg.pretrain)
    workdir = Path(a.workdir).resolve()
    if a.submit or a.input:      # `champion` as a pipeline run would resolve it (the addresses depend on it)
        from .registry.champion import resolve as resolve_champion
        cfg, _ = resolve_champion(cfg, tracking_uri_for(workdir), log=lambda _: None)
    inputs = _parse_inputs(a.input) or (runner.cached_inputs(cfg, workdir, "pretrain") if a.submit else None)
    if inputs is None:
        job = jobs.preview(cfg.pretrain, cfg.artifact_root, cfg.s3_endpoint_url)
        note = ("a preview: its name and argument file are the pretrain stage's content address, fixed once the "
                "stage's inputs exist (--input dataset=URI --input tokenizer=URI, or --submit)")
    else:
        sr = runner.stage_run(cfg, workdir, "pretrain", inputs)
        with tempfile.TemporaryDirectory() as tmp:
            out = sr.output(Path(tmp), tracking_uri=tracking_uri_for(workdir))
            args = pretrain.train_args(cfg.pretrain, dataset=sr.inputs["dataset"], tokenizer=sr.inputs["tokenizer"],
                                       out=out, kobest_dir=cfg.evaluate.kobest_dir)
            written = out.storage.exists(pretrain.args_uri(out))   # the stage's own arguments (its MLflow run) win
            job, args_uri = pretrain.kubernetes_job(cfg.pretrain, args, out, write_args=a.submit and not written)
        note = f"the pretrain stage's job for {inputs['dataset']}; arguments {args_uri}"
    path = jobs.write(job, a.out)
    print(f"{path}: {job['kind']} {job['metadata']['name']} valid against its CRD ({note}); {cfg.pretrain.nodes} "
          f"node(s) x {cfg.pretrain.nproc} GPU(s), {plan.steps:,} steps x {plan.tokens_per_step:,} tokens "
          f"= {plan.total_tokens / 1e9:,.1f}B tokens, grad_accum {plan.grad_accum}")
    if a.submit:
        from training.k8s.watch import submit_and_wait
        outcome = submit_and_wait(job, timeout_s=cfg.pretrain.timeout_s, poll_s=cfg.pretrain.kubernetes.poll_s,
                                  log=_log)
        print(f"{outcome.kind} {outcome.name}: {'succeeded' if outcome.succeeded else 'not succeeded'}; "
              f"{outcome.reason}")
        return 0 if outcome.succeeded else 1
    return 0


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _plan_default(name: str):
    """A default of `plan` from the dataclass that holds it (capacity.Assumptions or Prices): written once."""
    from dataclasses import fields

    from .capacity import Assumptions, Prices
    return next(f.default for cls in (Assumptions, Prices) for f in fields(cls) if f.name == name)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="polyglot-ko", description="Polyglot-Ko training pipeline")
    sub = p.add_subparsers(dest="cmd", required=True)

    r = sub.add_parser("run", help="run the pipeline locally, stage by stage")
    r.add_argument("config")
    r.add_argument("--workdir", default="workdir")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value (YAML)")
    r.add_argument("--from", dest="start", metavar="STAGE")
    r.add_argument("--until", metavar="STAGE")
    r.add_argument("--force", action="store_true", help="re-run the selected stages even if cached")
    r.add_argument("--engine", choices=["local", "kfp", "airflow"], default="local",
                   help="local runner (default), KFP's local runner, or `airflow dags test`")
    r.set_defaults(fn=cmd_run)

    co = sub.add_parser("compile", help="write the cluster-mode KFP pipeline YAML and training job for a config")
    co.add_argument("config")
    co.add_argument("--out", required=True)
    co.add_argument("--set", action="append", default=[])
    co.set_defaults(fn=cmd_compile)

    su = sub.add_parser("submit", help="start a cluster-mode run on a Kubeflow Pipelines server")
    su.add_argument("config")
    su.add_argument("--kfp-host", required=True, help="e.g. http://ml-pipeline-ui.kubeflow:80 or your KFP endpoint")
    su.add_argument("--namespace", help="KFP multi-user namespace")
    su.add_argument("--run-name")
    su.add_argument("--out", help="where the compiled pipeline is kept (default .polyglot-ko-submit/)")
    su.add_argument("--set", action="append", default=[])
    su.set_defaults(fn=cmd_submit)

    b = sub.add_parser("begin", help="start a pipeline run (for orchestrators); prints the MLflow parent run id")
    b.add_argument("--config", required=True)
    b.add_argument("--workdir", default="workdir")
    b.add_argument("--set", action="append", default=[])
    b.add_argument("--output-file", help="also write the run id here (container tasks)")
    b.set_defaults(fn=cmd_begin)

    s = sub.add_parser("stage", help="run one stage; prints its output manifest URI last")
    s.add_argument("name")
    s.add_argument("--config", help="config file (default: the one frozen by `begin` for --parent-run-id)")
    s.add_argument("--set", action="append", default=[])
    s.add_argument("--workdir", default="workdir")
    s.add_argument("--parent-run-id")
    s.add_argument("--input", action="append", default=[], metavar="ROLE=URI")
    s.add_argument("--force", action="store_true")
    s.add_argument("--output-file", help="also write the printed URI here (container tasks)")
    s.add_argument("--step", default="shard", help="corpus stages: which step --shard runs (shard, then e.g. "
                                                   "curate's bucket, cluster, filter)")
    s.add_argument("--shard", type=int, metavar="RANK",
                   help="corpus stages: run only task RANK of the step and print its part URI; a later call "
                        "without --shard runs whatever is missing and the reduce step")
    s.set_defaults(fn=cmd_stage)

    f = sub.add_parser("finish", help="end a pipeline run and print its summary")
    f.add_argument("--workdir", default="workdir")
    f.add_argument("--parent-run-id", required=True)
    f.add_argument("--input", action="append", default=[], metavar="STAGE=URI")
    f.add_argument("--output-file", help="also write the summary JSON here (container tasks)")
    f.set_defaults(fn=cmd_finish)

    c = sub.add_parser("clean", help="apply the curation chain to a JSONL file with a `text` field")
    c.add_argument("input")
    c.add_argument("output")
    c.add_argument("--config")
    c.set_defaults(fn=cmd_clean)

    v = sub.add_parser("verify", help="check that every file an artifact's manifest lists is intact")
    v.add_argument("uris", nargs="+")
    v.set_defaults(fn=cmd_verify)

    pr = sub.add_parser("presets", help="list the model presets with exact parameter counts")
    pr.set_defaults(fn=cmd_presets)

    ev = sub.add_parser("evaluate", help="KoBEST (+ perplexity, generations) for a Hugging Face directory or a "
                                         "models:/ URI, the same report the pipeline writes")
    ev.add_argument("model", help="HF model directory, TrainedModel artifact directory, or models:/NAME@alias")
    ev.add_argument("--out", required=True)
    ev.add_argument("--config", help="take the evaluate section from this config (default: the built-in one)")
    ev.add_argument("--set", action="append", default=[])
    ev.add_argument("--dataset", help="a TokenizedDataset artifact: its validation split gives the perplexity")
    ev.add_argument("--name", help="the model's name in the report")
    ev.add_argument("--workdir", default="workdir", help="for models:/ URIs: whose MLflow registry "
                                                         "(MLFLOW_TRACKING_URI overrides)")
    ev.set_defaults(fn=cmd_evaluate)

    pm = sub.add_parser("promote", help="make a model version the champion (recorded on the version)")
    pm.add_argument("name")
    pm.add_argument("version")
    pm.add_argument("--reason")
    pm.add_argument("--workdir", default="workdir", help="whose MLflow registry (MLFLOW_TRACKING_URI overrides)")
    pm.set_defaults(fn=cmd_promote)

    rb = sub.add_parser("rollback", help="give `champion` back to the version that held it before")
    rb.add_argument("name")
    rb.add_argument("--reason")
    rb.add_argument("--workdir", default="workdir", help="whose MLflow registry (MLFLOW_TRACKING_URI overrides)")
    rb.set_defaults(fn=cmd_rollback)

    pl = sub.add_parser("plan", help="tasks, memory, disk, requests, time and cost of a config's run at a corpus "
                                     "size, from the measured throughputs in benchmarks/results/")
    pl.add_argument("config")
    pl.add_argument("--corpus-bytes", required=True, help="UTF-8 text to collect, e.g. 1.2T")
    pl.add_argument("--documents", help="documents in it (default: from the measured bytes per document), e.g. 500M")
    pl.add_argument("--stored-bytes", help="the sources as stored, compressed (default: compressed as the benchmark's "
                                           "zstd JSONL)")
    pl.add_argument("--core-hour-usd", type=float, default=_plan_default("core_hour"))
    pl.add_argument("--gpu-hour-usd", type=float, default=_plan_default("gpu_hour"))
    pl.add_argument("--gpu", default=_plan_default("gpu"), help="accelerator of the assumed GPU figures (H100, A100..)")
    pl.add_argument("--mfu", type=float, default=_plan_default("mfu"), help="assumed training FLOPs utilisation")
    pl.add_argument("--dropped-share", type=float, default=_plan_default("dropped_share"),
                    help="assumed share of documents cleaning drops")
    pl.add_argument("--duplicate-share", type=float, default=_plan_default("duplicate_share"),
                    help="assumed share of duplicates among the cleaned documents")
    pl.add_argument("--file-bytes", default=str(_plan_default("file_bytes")), help="assumed size of a source file")
    pl.add_argument("--pod-start-s", type=float, default=_plan_default("pod_start_s"),
                    help="assumed seconds to start a wave of pods")
    pl.add_argument("--measured", help="the benchmark figures (default benchmarks/results/curation_scale.json)")
    pl.add_argument("--set", action="append", default=[])
    pl.set_defaults(fn=cmd_plan)

    tj = sub.add_parser("train-job", help="write (and optionally submit and watch) the Kubernetes training job "
                                          "a config's pretrain stage runs")
    tj.add_argument("config")
    tj.add_argument("--out", required=True, help="directory for <kind>.yaml")
    tj.add_argument("--kind", choices=["trainjob", "pytorchjob"], help="default: the config's pretrain.launcher")
    tj.add_argument("--set", action="append", default=[])
    tj.add_argument("--input", action="append", default=[], metavar="ROLE=URI",
                    help="the pretrain stage's inputs (dataset=, tokenizer=); default with --submit: the artifacts "
                         "this config's pipeline made; without either, a preview with placeholder name")
    tj.add_argument("--workdir", default="workdir", help="the pipeline's workdir (default artifact root, MLflow)")
    tj.add_argument("--submit", action="store_true",
                    help="start the stage's job (or attach to it) with the current kubeconfig and wait for the end")
    tj.set_defaults(fn=cmd_train_job)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except (UserError, StageFailed) as e:
        print(f"polyglot-ko: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        import errno
        if e.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        print(f"polyglot-ko: error: no space left on the device holding {e.filename or 'the output'}: free space or "
              "point --workdir / artifact_root elsewhere, then run again (finished work is kept, nothing partial "
              "is published)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
