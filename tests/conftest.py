import json
import os
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
    from components.artifacts import Manifest
    out = {}
    for p in sorted((workdir / "artifacts").glob("*/*/manifest.json")):
        m = Manifest.from_json(p.read_text())
        out.setdefault(m.stage, []).append(m)
    return out
