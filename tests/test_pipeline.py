"""The whole pipeline on the tiny config: the local runner (run once for the session, read by every test here), KFP's
local runner against real services, and `airflow dags test` (runs added to the tiny run: test_reruns_and_pages.py)."""
import json
from pathlib import Path

import pytest

from components.contract.manifest import verify
from components.contract.storage import Storage
from tests.support.stages import manifests

pytestmark = pytest.mark.slow
STAGES = ["collect", "curate", "train-tokenizer", "tokenize", "pretrain", "evaluate", "register"]


def _children(client, parent_run_id: str) -> list:
    parent = client.get_run(parent_run_id)
    runs = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent_run_id}'",
                              max_results=200)
    return runs


def _parent_runs(client, experiment="polyglot-ko-tiny") -> list:
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], order_by=["attributes.start_time ASC"], max_results=200)
    return [r for r in runs if "mlflow.parentRunId" not in r.data.tags]


def test_every_artifact_has_a_complete_verified_manifest(tiny_pipeline):
    found = manifests(tiny_pipeline.workdir)
    assert sorted(found) == sorted(STAGES)
    for stage, ms in found.items():
        assert len(ms) == 1 and ms[0].uri == tiny_pipeline.summary["stages"][stage]["uri"], stage
        assert verify(Storage(), ms[0]) == [], stage
        assert ms[0].code_version["git"] and ms[0].created_at and ms[0].mlflow_run_id
    for corpus in ("collect", "curate"):
        s = found[corpus][0].stats
        assert s["records_in"] == s["records_out"] + sum(s["dropped"].values()) + sum(s["quarantined"].values())
    tok = found["tokenize"][0].stats
    assert tok["tokens"] > 0 and tok["documents"] == found["curate"][0].stats["records_out"]


def test_mlflow_has_a_parent_run_with_one_child_per_stage(tiny_pipeline):
    client = tiny_pipeline.client()
    assert [p.info.run_id for p in _parent_runs(client)] == [tiny_pipeline.parent_run_id]
    children = _children(client, tiny_pipeline.parent_run_id)
    assert sorted(r.info.run_name for r in children) == sorted(STAGES)
    by_name = {r.info.run_name: r for r in children}
    curate = by_name["curate"]
    assert int(curate.data.tags["stats.records_in"]) > 0 and curate.data.tags["cache_hit"] == "false"
    assert [d.dataset.name for d in curate.inputs.dataset_inputs] == ["RawCorpus:raw"]
    assert {d.dataset.name for d in by_name["pretrain"].inputs.dataset_inputs} == {
        "TokenizedDataset:dataset", "Tokenizer:tokenizer"}
    pretrain_metrics = client.get_metric_history(by_name["pretrain"].info.run_id, "train/loss")
    assert len(pretrain_metrics) >= 3, "training logs its loss curve to the stage's run"
    for r in children:
        assert r.data.tags["artifact.digest"] and r.data.tags["artifact.uri"]


def test_evaluation_during_training_logs_scores_and_a_logged_model_per_checkpoint(tiny_pipeline):
    """tiny.yaml: eval_every 6 of 12 steps, KoBEST BoolQ and COPA (4 examples each) on the live weights."""
    from mlflow.entities import LoggedModelStatus

    client = tiny_pipeline.client()
    pretrain = next(r for r in _children(client, tiny_pipeline.parent_run_id) if r.info.run_name == "pretrain")
    run_id = pretrain.info.run_id
    history = {k: [(m.step, m.value) for m in sorted(client.get_metric_history(run_id, k), key=lambda m: m.step)]
               for k in ("eval/validation_loss", "eval/kobest_mean_f1", "eval/kobest_boolq_f1", "eval/kobest_copa_f1")}
    assert all([s for s, _ in h] == [6, 12] for h in history.values()), history
    for (_, mean), (_, boolq), (_, copa) in zip(history["eval/kobest_mean_f1"], history["eval/kobest_boolq_f1"],
                                                history["eval/kobest_copa_f1"]):
        assert mean == pytest.approx((boolq + copa) / 2)
    assert all(0 < v < 20 for _, v in history["eval/validation_loss"])

    # one LoggedModel per evaluated checkpoint, an output of the pretrain run at its step, carrying its scores
    models = client.search_logged_models(experiment_ids=[pretrain.info.experiment_id])
    mine = sorted((m for m in models if m.source_run_id == run_id), key=lambda m: m.name)
    assert [m.name for m in mine] == ["checkpoint-step00000006", "checkpoint-step00000012"]
    for m, (step, mean) in zip(mine, history["eval/kobest_mean_f1"]):
        assert m.status == LoggedModelStatus.READY
        assert m.tags["polyglot_ko.checkpoint.step"] == str(step)
        scores = {x.key: x.value for x in m.metrics}
        assert scores["eval/kobest_mean_f1"] == pytest.approx(mean) and "eval/validation_loss" in scores
    outputs = {(o.model_id, o.step) for o in client.get_run(run_id).outputs.model_outputs}
    assert {(m.model_id, int(m.tags["polyglot_ko.checkpoint.step"])) for m in mine} <= outputs

    # the artifact keeps them too, beside the loss curve
    evals = [json.loads(x) for x in
             Path(tiny_pipeline.manifest("pretrain").file_uri("evaluations.jsonl")).read_text().splitlines()]
    assert [e["step"] for e in evals] == [6, 12]


def test_registered_model_leads_back_to_every_upstream_artifact(tiny_pipeline):
    import mlflow

    client = tiny_pipeline.client()
    mv = client.get_model_version_by_alias("polyglot-ko-tiny", "champion")
    for stage in STAGES[:-1]:
        assert mv.tags[f"lineage.{stage}.digest"] == tiny_pipeline.manifest(stage).digest
        run = client.get_run(mv.tags[f"lineage.{stage}.run_id"])
        assert run.info.run_name == stage
    assert mv.tags["promotion.decision"] == "champion"
    mlflow.set_tracking_uri(tiny_pipeline.tracking_uri)
    pipe = mlflow.transformers.load_model("models:/polyglot-ko-tiny@champion")
    out = pipe("오늘 영화는", max_new_tokens=5, do_sample=False)[0]["generated_text"]
    assert out.startswith("오늘 영화는") and len(out) > len("오늘 영화는")


# what must be byte for byte the same wherever the pipeline runs: whole artifacts up to tokenize, and the files of
# the later ones that do not carry run times or run ids
SAME_FILES = {"collect": None, "curate": None, "train-tokenizer": None, "tokenize": None,
              "pretrain": ["hf/model.safetensors", "hf/config.json", "hf/tokenizer.json"],
              "evaluate": ["metrics.json", "generations.json", "kobest_f1_0shot.png"]}


def test_kfp_local_runner_against_s3_and_an_mlflow_server_gives_the_local_runs_bytes(tiny_pipeline, s3, mlflow_server,
                                                                                    tmp_path, monkeypatch):
    """The same graph on KFP's local runner (every task a subprocess), its artifacts in a real S3 server and its
    lineage in an MLflow tracking server over HTTP (PostgreSQL behind it where installed): the same bytes as the
    local runner's run on local disk and SQLite, and the registered model's lineage on the server.

    Over a minute: the whole tiny pipeline once more, each task a process that starts the CLI."""
    from mlflow import MlflowClient

    from components.contract.manifest import read_manifest
    from dags.kfp_pipeline import run_local
    from tests.support.services import PostgresServer

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.uri)
    summary = run_local("configs/tiny.yaml", tmp_path, ["artifact_root=s3://artifacts/kfp"])
    assert list(summary["stages"]) == STAGES
    assert summary["model_uri"] == "models:/polyglot-ko-tiny@champion"
    assert set(summary["kobest"]) == {"boolq", "copa", "hellaswag", "sentineg", "wic"}
    storage = Storage()
    for stage in STAGES:
        remote = read_manifest(storage, summary["stages"][stage]["uri"])
        assert remote.uri.startswith(f"s3://artifacts/kfp/{stage}/") and verify(storage, remote) == [], stage
        local = tiny_pipeline.manifest(stage)
        files = SAME_FILES.get(stage, [])
        if files is None:
            assert remote.digest == local.digest, stage
        else:
            ours = {f.name: f.sha256 for f in remote.files}
            theirs = {f.name: f.sha256 for f in local.files}
            for name in files:
                assert ours[name] == theirs[name], (stage, name)
    client = MlflowClient(mlflow_server.uri)
    mv = client.get_model_version_by_alias("polyglot-ko-tiny", "champion")
    assert mv.tags["lineage.tokenize.digest"] == tiny_pipeline.manifest("tokenize").digest
    runs = client.search_runs([client.get_experiment_by_name("polyglot-ko-tiny").experiment_id])
    assert {r.info.run_name for r in runs} >= {"collect", "curate", "pretrain", "register"}
    if PostgresServer._bindir() is not None:
        assert mlflow_server.backend.startswith("postgresql+psycopg2://"), "PostgreSQL is installed: it is used"


def test_compiled_local_pipeline_yaml_has_every_stage(tmp_path):
    """The lightweight-component pipeline `--engine kfp` runs (cluster mode: tests/test_cluster.py)."""
    import yaml

    from dags.kfp_pipeline import compile_pipeline

    spec = yaml.safe_load(compile_pipeline(tmp_path / "pipeline.yaml").read_text())
    tasks = spec["root"]["dag"]["tasks"]
    key = {t["taskInfo"]["name"]: k for k, t in tasks.items()}
    assert set(STAGES) <= set(key)
    # wiring from the graph: tokenize waits for curate, train-tokenizer and begin (the parent run id)
    assert set(tasks[key["tokenize"]]["dependentTasks"]) == {key["curate"], key["train-tokenizer"], key["begin-op"]}
    assert tasks[key["register"]]["retryPolicy"]["maxRetryCount"] == 1


def test_airflow_dag_runs_every_task_with_dags_test(tiny_copy):
    """`airflow dags test` on the shared tiny run's workdir: every task of the DAG runs (its own process, the
    project's CLI in the project's environment, the shards mapped) and every stage finds its artifact (what each
    computes, through the same CLI entry, the KFP test above runs from scratch); the summary is this run's own."""
    import os
    import time

    from mlflow import MlflowClient

    from dags.airflow_local import dag_test

    work = tiny_copy.workdir
    # Another run's frozen config in the same workdir, newer than anything this run writes: the summary must
    # still be this run's own (it used to be picked by modification time).
    decoy = work / "runs" / "0123456789abcdef0123456789abcdef.yaml"
    decoy.write_text((Path("configs/tiny.yaml")).read_text())
    os.utime(decoy, (time.time() + 3600, time.time() + 3600))
    log, summary = dag_test("configs/tiny.yaml", work)
    assert sorted(manifests(work)) == sorted(STAGES)
    text = log.read_text()
    for stage in STAGES:
        assert f"task_id='{stage.replace('-', '_')}'" in text
    client = MlflowClient(tiny_copy.tracking_uri)
    stages = _children(client, summary["parent_run_id"])
    assert sorted(r.info.run_name for r in stages) == sorted(STAGES)
    assert all(r.data.tags["cache_hit"] == "true" for r in stages)
    parents = _parent_runs(client)
    assert [p.info.run_id for p in parents] == [tiny_copy.parent_run_id, summary["parent_run_id"]], \
        "the summary names this run"
    assert summary["model_uri"] == "models:/polyglot-ko-tiny@champion" and list(summary["stages"]) == STAGES
