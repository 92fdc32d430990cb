"""The pipeline against real services: an MLflow tracking server over HTTP (PostgreSQL backend where PostgreSQL is
installed, else SQLite) and an S3-compatible server, both on loopback; its results equal a local run's."""
import pytest

from components.contract.manifest import read_manifest
from components.contract.runner import run_pipeline
from components.contract.storage import Storage
from tests.support.services import MlflowServer, PostgresServer

pytestmark = pytest.mark.slow
SAME_FILES = {"collect": None, "curate": None, "train-tokenizer": None, "tokenize": None,
              "pretrain": ["hf/model.safetensors", "hf/config.json", "hf/tokenizer.json"],
              "evaluate": ["metrics.json", "generations.json", "kobest_f1_0shot.png"]}


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow-server")
    pg = PostgresServer(root / "pg")
    backend = None
    if pg.bindir is not None:
        pg.start()
        backend = pg.uri
    server = MlflowServer(root / "mlflow", backend=backend).start()
    yield server
    server.stop()
    if backend:
        pg.stop()


def test_pipeline_with_s3_artifacts_and_mlflow_over_http_equals_the_local_run(tiny_pipeline, s3, mlflow_server,
                                                                              tmp_path, monkeypatch):
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.uri)
    summary = run_pipeline("configs/tiny.yaml", tmp_path / "work", ["artifact_root=s3://artifacts/services"])
    local = {stage: tiny_pipeline.manifest(stage) for stage in SAME_FILES}
    storage = Storage()
    for stage, files in SAME_FILES.items():
        remote = read_manifest(storage, summary["stages"][stage]["uri"])
        assert remote.uri.startswith("s3://artifacts/services/")
        if files is None:
            assert remote.digest == local[stage].digest, stage
        else:
            ours = {f.name: f.sha256 for f in remote.files}
            theirs = {f.name: f.sha256 for f in local[stage].files}
            for name in files:
                assert ours[name] == theirs[name], (stage, name)
    client = MlflowClient(mlflow_server.uri)
    mv = client.get_model_version_by_alias("polyglot-ko-tiny", "champion")
    assert mv.tags["lineage.tokenize.digest"] == local["tokenize"].digest
    runs = client.search_runs([client.get_experiment_by_name("polyglot-ko-tiny").experiment_id])
    assert {r.info.run_name for r in runs} >= {"collect", "curate", "pretrain", "register"}
    if mlflow_server.backend:
        assert mlflow_server.backend.startswith("postgresql+psycopg2://")
