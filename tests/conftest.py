"""Fixtures every test file may take: a stage runner in a fresh workdir, the tiny pipeline run once (read-only) and
a copy of it to add runs to, and real services on loopback (S3, MLflow)."""
import contextlib
import hashlib
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import ROOT
from tests.support.stages import Stages

os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.pop("MLFLOW_TRACKING_URI", None)
os.environ.pop("MLFLOW_RUN_ID", None)
# the environment's own tools (weed, mlflow, polyglot-ko), as when it is activated
os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]


@pytest.fixture(autouse=True)
def _in_repo_root(monkeypatch):
    # Configs name the bundled data relative to the repository, as users run them.
    monkeypatch.chdir(ROOT)


@pytest.fixture
def stages(tmp_path) -> Stages:
    """Runs stages of a config in a fresh workdir (tmp_path/wd), inputs bound by role as the runner binds them."""
    return Stages(tmp_path / "wd")


# ------------------------------------------------------------------------------------------ the tiny pipeline


@dataclass
class TinyRun:
    """configs/tiny.yaml run once through the local runner: its workdir, the runner's summary, its artifacts."""
    workdir: Path
    summary: dict

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.workdir / 'mlflow.db'}"

    @property
    def parent_run_id(self) -> str:
        return self.summary["parent_run_id"]

    def client(self):
        from mlflow import MlflowClient
        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    def manifest(self, stage: str):
        """The manifest of the artifact this run's `stage` handed on."""
        from components.contract.manifest import read_manifest
        from components.contract.storage import Storage
        return read_manifest(Storage(), self.summary["stages"][stage]["uri"])


# Written by MLflow itself whenever a registered model is loaded (`models:/NAME@alias`), into the local artifact
# store it reads from: a reader's trace, not a change a test made.
_READ_TRACES = {".run.lock", "registered_model_meta"}


def _fingerprint(workdir: Path) -> str:
    """Every file under the workdir (name, size, modification time) and the tracking store's bytes."""
    h = hashlib.sha256()
    for p in sorted(workdir.rglob("*")):
        if p.is_file() and p.name not in _READ_TRACES:
            st = p.stat()
            h.update(f"{p.relative_to(workdir)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    h.update((workdir / "mlflow.db").read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="session")
def _tiny_run(tmp_path_factory):
    from components.contract.runner import run_pipeline

    workdir = tmp_path_factory.mktemp("tiny-local")
    os.chdir(ROOT)
    summary = run_pipeline("configs/tiny.yaml", workdir, log=lambda m: None)
    run = TinyRun(workdir, summary)
    return run, _fingerprint(workdir)


@pytest.fixture
def tiny_pipeline(_tiny_run) -> TinyRun:
    """The tiny config run once for the whole session, shared by every test that only reads it. A test that
    changed it fails here, naming itself: a test that adds runs takes `tiny_reruns` (its own copy)."""
    run, fingerprint = _tiny_run
    yield run
    assert _fingerprint(run.workdir) == fingerprint, \
        "this test changed the shared tiny run; a test that adds runs must take the `tiny_reruns` fixture"


@dataclass
class TinyReruns:
    """The tiny run, then the same config again through the CLI (every stage a cache hit), then `evaluate.limit=3`
    from evaluate (evaluate and register run again: version 2, compared with the champion, version 1)."""
    first: TinyRun
    again: str           # the second run's parent run id
    again_out: str       # what `polyglot-ko run` printed for it
    changed: str         # the third run's parent run id
    changed_out: str

    @property
    def workdir(self) -> Path:
        return self.first.workdir

    def client(self):
        return self.first.client()


def _cli_run(run: TinyRun, *args: str) -> tuple[str, str]:
    """`polyglot-ko run configs/tiny.yaml` on the tiny run's workdir: (the new parent run's id, what it printed)."""
    import contextlib
    import io

    from components.cli import main

    def parents() -> set[str]:
        client = run.client()
        exp = client.get_experiment_by_name("polyglot-ko-tiny")
        return {r.info.run_id for r in client.search_runs([exp.experiment_id], max_results=1000)
                if "mlflow.parentRunId" not in r.data.tags}

    before = parents()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["run", "configs/tiny.yaml", "--workdir", str(run.workdir), *args]) == 0
    (new,) = parents() - before
    return new, out.getvalue()


@contextlib.contextmanager
def _put_back(run: TinyRun, fingerprint: str):
    """Lets a test add to the shared tiny run's workdir, and puts it back as it was afterwards. (A copy elsewhere
    would not do: paths inside the store are absolute, so added runs are made where the first one was, from a copy
    kept beside it; 16 MB.)"""
    assert _fingerprint(run.workdir) == fingerprint
    saved = run.workdir.with_name(run.workdir.name + ".saved")
    shutil.rmtree(saved, ignore_errors=True)
    shutil.copytree(run.workdir, saved, symlinks=True)       # copy2: modification times kept
    try:
        os.chdir(ROOT)
        yield run
    finally:
        shutil.rmtree(run.workdir)
        saved.rename(run.workdir)
        _drop_connections(run.tracking_uri)
    assert _fingerprint(run.workdir) == fingerprint


@pytest.fixture
def tiny_copy(_tiny_run):
    """The shared tiny run, for one test that adds runs to it; put back as it was when the test ends."""
    with _put_back(*_tiny_run) as run:
        yield run


@pytest.fixture(scope="class")
def tiny_reruns(_tiny_run):
    """Two more runs on the shared tiny run's workdir, for the tests of one class to read; the workdir is put back
    as it was when the class ends, before any other test reads it."""
    with _put_back(*_tiny_run) as run:
        again, again_out = _cli_run(run)
        changed, changed_out = _cli_run(run, "--set", "evaluate.limit=3", "--from", "evaluate")
        yield TinyReruns(run, again, again_out, changed, changed_out)


def _drop_connections(tracking_uri: str) -> None:
    """MLflow keeps one SQLAlchemy engine per store URI for the process: its pooled connections still hold the
    replaced database file (unlinked, so read-only to them). Dropping them makes the next use open the file that is
    there now."""
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as Registry
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as Tracking

    for store in (Tracking, Registry):
        engine = store._engine_map.get(tracking_uri)
        if engine is not None:
            engine.dispose()


@pytest.fixture(scope="session")
def training_reference(tmp_path_factory):
    """One uninterrupted 2-process training run (tests.support.training.SETTINGS), made once: the weights and
    losses a resumed, killed or disturbed run of the same settings must end with."""
    from tests.support.training import reference
    return reference(tmp_path_factory.mktemp("training-reference"))


# ------------------------------------------------------------------------------------------ services


@pytest.fixture(scope="session")
def _s3_server(tmp_path_factory):
    from tests.support.services import SeaweedS3

    server = SeaweedS3(tmp_path_factory.mktemp("s3")).start()
    server.client().create_bucket(Bucket="artifacts")
    yield server
    server.stop()


@pytest.fixture
def s3(_s3_server):
    """A real S3-compatible server (SeaweedFS) on loopback with an `artifacts` bucket, one for the session (each
    test writes under its own prefix); AWS_* point at it for the test. A drill that stops it starts it again."""
    from tests.support.services import s3_env

    with s3_env(_s3_server):
        yield _s3_server
    if _s3_server.proc is None or _s3_server.proc.poll() is not None:
        _s3_server.start()          # a test left it stopped: the next one gets it back, at the same address


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """An MLflow tracking server over HTTP on loopback, PostgreSQL behind it where PostgreSQL is installed (else
    SQLite), one for the session."""
    from tests.support.services import MlflowServer, PostgresServer

    root = tmp_path_factory.mktemp("mlflow-server")
    pg = PostgresServer(root / "pg")
    backend = pg.start().uri if pg.bindir is not None else None
    server = MlflowServer(root / "mlflow", backend=backend).start()
    yield server
    server.stop()
    if backend:
        pg.stop()


@pytest.fixture(scope="session", autouse=True)
def rehearsal(request, tmp_path_factory):
    """When the session holds the rehearsal's tests, the rehearsal starts with the session, as a process of its own
    (its containers and servers run beside the other tests); its tests wait for their phase's result."""
    if not any(item.nodeid.startswith("tests/test_rehearsal.py") for item in request.session.items):
        yield None
        return
    from tests.support.containers import engine_available
    from tests.support.rehearsal import Background

    if engine_available() or not (ROOT / ".venv-airflow" / "bin" / "python").exists():
        yield None
        return
    background = Background(tmp_path_factory.mktemp("rehearsal"))
    yield background
    background.stop()


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
