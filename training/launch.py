"""The local launcher: torchrun on this machine (Kubernetes jobs: training/k8s/)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

from components.errors import StageFailed, UserError

from . import train as trainer   # the program torchrun starts (imported so code versions cover it)
from .args import TrainArgs

# After SIGTERM, torchrun waits this long for the workers to checkpoint and exit before it kills them.
SHUTDOWN_TIMEOUT_S = 300
TRAINER = trainer.__name__


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun_command(args: TrainArgs, workdir: Path) -> tuple[list[str], dict]:
    """The torchrun command line and environment for one local training job (its arguments written to workdir)."""
    workdir.mkdir(parents=True, exist_ok=True)
    args_path = workdir / "train_args.json"
    args_path.write_text(args.to_json())
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", str(args.nproc),
           "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
           "--shutdown-timeout", str(SHUTDOWN_TIMEOUT_S), "-m", TRAINER, "--args", str(args_path)]
    env = dict(os.environ)
    # One thread per process: the processes already share the cores, and fixed threading keeps runs repeatable.
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("DS_ACCELERATOR", "cuda" if args.device == "cuda" else "cpu")
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH", "")])
    env.pop("MLFLOW_RUN_ID", None)
    return cmd, env


def torchrun_local(args: TrainArgs, workdir: Path, timeout_s: int, log_path: Path,
                   echo: Callable[[str], None] | None = None) -> None:
    """Run the trainer as `args.nproc` local processes; every line goes to `log_path`, and the trainer's own
    "[train]" lines (start, progress, end) also to `echo`. Raises StageFailed with the log's tail on failure."""
    from .lifeline import die_with_parent
    from .lock import busy_message, live_holder

    if info := live_holder(Path(args.checkpoint_dir)):
        raise UserError(f"pretrain: {busy_message(Path(args.checkpoint_dir), info)}")
    cmd, env = torchrun_command(args, workdir)
    # torchrun dies with this process (it forwards the SIGTERM: every rank checkpoints and exits), and each worker
    # with torchrun (training/lifeline.py): a SIGKILL of the pipeline leaves no worker training on its own. They
    # write the log file themselves, not a pipe to us, so they can still log (and finish) once we are gone.
    log_path.parent.mkdir(parents=True, exist_ok=True)
    start = log_path.stat().st_size if log_path.exists() else 0
    with open(log_path, "ab") as log, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                                       preexec_fn=die_with_parent) as proc:
        done = threading.Event()
        copier = threading.Thread(target=_echo, args=(log_path, start, echo, done), daemon=True)
        copier.start()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _stop(proc)
            raise StageFailed(f"pretrain: training did not finish within {timeout_s}s (log: {log_path})") from None
        except BaseException:      # interrupted, or the task is being torn down: training must not go on alone
            _stop(proc)
            raise
        finally:
            done.set()
            copier.join(timeout=30)
    if proc.returncode != 0:
        tail = log_path.read_text(errors="replace").splitlines()[-25:]
        raise StageFailed(f"pretrain: torchrun exited with {proc.returncode}; log {log_path}:\n" + "\n".join(tail))


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM (torchrun forwards it: every rank checkpoints and exits), then SIGKILL if it outlasts the grace."""
    proc.terminate()
    try:
        proc.wait(timeout=SHUTDOWN_TIMEOUT_S + 30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _echo(path: Path, offset: int, echo, done: threading.Event) -> None:
    """Pass the trainer's own "[train]" lines (start, progress, end) from the log to `echo` as they arrive."""
    if echo is None:
        return
    with open(path, "rb") as f:
        f.seek(offset)
        pending = b""
        while True:
            chunk = f.readline()
            if chunk:
                pending += chunk
                if pending.endswith(b"\n"):
                    if pending.startswith(b"[train]"):
                        echo(pending.decode("utf-8", "replace").rstrip())
                    pending = b""
                continue
            if done.is_set():
                return
            time.sleep(0.2)
