import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.pop("MLFLOW_TRACKING_URI", None)
os.environ.pop("MLFLOW_RUN_ID", None)


@pytest.fixture(autouse=True)
def _in_repo_root(monkeypatch):
    # Configs name the bundled data relative to the repository, as users run them.
    monkeypatch.chdir(ROOT)


def write_jsonl(path: Path, rows, raw_lines=()) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        for r in rows:
            f.write((json.dumps(r, ensure_ascii=False) + "\n").encode())
        for line in raw_lines:
            f.write(line + b"\n")
    return path


@pytest.fixture(scope="session")
def tiny_pipeline(tmp_path_factory):
    """The tiny config run once through the local runner; tests read what it left."""
    from components.cli import main

    workdir = tmp_path_factory.mktemp("tiny-local")
    os.chdir(ROOT)
    assert main(["run", "configs/tiny.yaml", "--workdir", str(workdir)]) == 0
    return workdir


def manifests(workdir: Path) -> dict:
    from components.contract.manifest import Manifest
    out = {}
    for p in sorted((workdir / "artifacts").glob("*/*/manifest.json")):
        m = Manifest.from_json(p.read_text())
        out.setdefault(m.stage, []).append(m)
    # oldest first: [0] is the first run's artifact, whatever the content addresses sort as
    return {stage: sorted(ms, key=lambda m: m.created_at) for stage, ms in out.items()}


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """A real S3-compatible server (SeaweedFS) on loopback with an `artifacts` bucket; AWS_* point at it."""
    from services import ACCESS_KEY, SECRET_KEY, SeaweedS3
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]
    server = SeaweedS3(tmp_path_factory.mktemp("s3")).start()
    server.client().create_bucket(Bucket="artifacts")
    env = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ENDPOINT_URL": server.endpoint}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    from components.contract.storage import _client
    _client.cache_clear()
    yield server
    for k, v in old.items():
        os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    _client.cache_clear()
    server.stop()


def pytest_collection_modifyitems(config, items):
    gpu_items = [i for i in items if "gpu" in i.keywords]
    if not gpu_items:
        return
    import torch
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (none here)")
    for item in gpu_items:
        item.add_marker(skip)
