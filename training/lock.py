"""One writer per checkpoint directory: a job never trains into a directory that another live job is writing.

Rank 0 holds the lock for the job's lifetime. Two mechanisms, because checkpoint volumes differ:
- an exclusive `flock` on <dir>/.lock: on one machine (and on file systems that pass locks between clients) a
  second job fails at once, and a dead holder's lock is released by the kernel, so a rerun after a crash is never
  refused;
- a heartbeat in <dir>/LOCK.json (job, host, pid, time), rewritten every HEARTBEAT_S: on a shared volume whose
  locks do not cross machines, a job on another host refuses while the holder's heartbeat is fresh (STALE_S).
The same job (a restarted attempt: the same torchrun, or the same TrainJob after its pods were recreated) takes
the lock over; its id comes from POLYGLOT_KO_JOB_ID (the Kubernetes job's name), else this host and torchrun's pid.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import threading
import time
from pathlib import Path

HEARTBEAT_S = 20.0
STALE_S = 90.0
INFO = "LOCK.json"
# A volume without file locks (Lustre's noflock, NFS's nolock, some FUSE mounts): the heartbeat alone decides.
NO_FLOCK = {errno.ENOSYS, errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL}


class CheckpointDirBusy(RuntimeError):
    pass


def job_id() -> str:
    return os.environ.get("POLYGLOT_KO_JOB_ID") or f"{socket.gethostname()}:{os.getppid()}"


def holder(root: Path) -> dict | None:
    try:
        return json.loads((Path(root) / INFO).read_text())
    except (FileNotFoundError, ValueError):
        return None


def busy_message(root: Path, info: dict) -> str:
    age = time.time() - info.get("heartbeat", 0)
    return (f"checkpoint directory {root} is being written by another training job ({info.get('job')}, pid "
            f"{info.get('pid')} on {info.get('host')}, heartbeat {age:.0f}s ago): stop that job first, or give this "
            f"run another checkpoint directory; two jobs writing one directory corrupt each other's resume")


def live_holder(root: Path, me: str | None = None) -> dict | None:
    """The holder of root's lock if it is another job that is alive, else None (checked without taking it)."""
    root = Path(root)
    info = holder(root)
    if info is None or info.get("job") == (me or job_id()):
        return None
    if (root / ".lock").exists():
        with open(root / ".lock", "a") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(f, fcntl.LOCK_UN)
                flock_works = True
            except BlockingIOError:
                return info                     # held right now by a process that is alive
            except OSError as e:
                if e.errno not in NO_FLOCK:
                    raise
                flock_works = False
        if flock_works and info.get("host") == socket.gethostname():
            return None                         # same machine and the flock was free: its holder is dead
    return info if time.time() - info.get("heartbeat", 0) < STALE_S else None


class CheckpointLock:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.me = job_id()
        self._file = None
        self._stop = threading.Event()
        self._thread = None

    def acquire(self) -> "CheckpointLock":
        self.root.mkdir(parents=True, exist_ok=True)
        self._file = open(self.root / ".lock", "a")
        for attempt in range(10):      # a launcher's check (live_holder) holds the flock for an instant
            try:
                fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as e:
                if e.errno in NO_FLOCK:
                    self._file.close()
                    self._file = None
                    break
                if not isinstance(e, BlockingIOError):
                    raise
                if attempt == 9:
                    self._file.close()
                    raise CheckpointDirBusy(busy_message(self.root, holder(self.root) or {})) from None
                time.sleep(0.2)
        info = holder(self.root)
        fresh = info and info.get("job") != self.me and time.time() - info.get("heartbeat", 0) < STALE_S
        # with flock, a holder on this machine is dead (we got the lock); without, only its heartbeat tells
        if fresh and (self._file is None or info.get("host") != socket.gethostname()):
            self._release_file()
            raise CheckpointDirBusy(busy_message(self.root, info))
        self._beat()
        self._thread = threading.Thread(target=self._heartbeat, name="checkpoint-lock", daemon=True)
        self._thread.start()
        return self

    def _beat(self) -> None:
        info = {"job": self.me, "host": socket.gethostname(), "pid": os.getpid(), "heartbeat": time.time()}
        tmp = self.root / f".{INFO}.{os.getpid()}"
        tmp.write_text(json.dumps(info))
        os.replace(tmp, self.root / INFO)

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                self._beat()
            except OSError:          # the volume hiccuped: the next beat retries; staleness needs several misses
                pass

    def _release_file(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def release(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)
        if (holder(self.root) or {}).get("pid") == os.getpid():
            (self.root / INFO).unlink(missing_ok=True)
        self._release_file()
