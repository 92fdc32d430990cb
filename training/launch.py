"""The local launcher: torchrun on this machine (Kubernetes jobs: training/k8s/)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from components.errors import StageFailed


# After SIGTERM, torchrun waits this long for the workers to checkpoint and exit before it kills them.
SHUTDOWN_TIMEOUT_S = 300


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun_command(args: dict, nproc: int, workdir: Path) -> tuple[list[str], dict]:
    """The torchrun command line and environment for one local training job."""
    workdir.mkdir(parents=True, exist_ok=True)
    args_path = workdir / "train_args.json"
    args_path.write_text(json.dumps(args, indent=2))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", str(nproc),
           "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
           "--shutdown-timeout", str(SHUTDOWN_TIMEOUT_S), "-m", "training.train", "--args", str(args_path)]
    env = dict(os.environ)
    # One thread per process: the processes already share the cores, and fixed threading keeps runs repeatable.
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("DS_ACCELERATOR", "cuda" if args["device"] == "cuda" else "cpu")
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH", "")])
    env.pop("MLFLOW_RUN_ID", None)
    return cmd, env


def torchrun_local(args: dict, nproc: int, workdir: Path, timeout_s: int, log_path: Path) -> None:
    """Run training/train.py as `nproc` local processes; raise StageFailed with the log's tail on failure."""
    cmd, env = torchrun_command(args, nproc, workdir)
    with open(log_path, "ab") as log:
        try:
            proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise StageFailed(f"pretrain: training did not finish within {timeout_s}s (log: {log_path})") from None
    if proc.returncode != 0:
        tail = log_path.read_text(errors="replace").splitlines()[-25:]
        raise StageFailed(f"pretrain: torchrun exited with {proc.returncode}; log {log_path}:\n" + "\n".join(tail))
