"""Training processes die with the one that launched them.

torchrun starts its workers in sessions of their own, so a SIGKILL of the pipeline (or of torchrun) reached no
worker: they went on training and checkpointing into the directory the rerun resumes from. Two guards, because
neither alone covers every case:
- the parent-death signal (Linux prctl): the kernel sends SIGTERM when the parent exits. The launcher sets it for
  torchrun (which forwards SIGTERM to its workers: checkpoint, then exit), and each worker sets it for itself;
- a watch on the parent: a thread that notices the worker was re-parented (the parent died before the prctl took
  effect, or the platform has no prctl), delivers the same SIGTERM, and ends the process if it is still alive
  after the grace period (a rank that cannot reach the others to checkpoint).
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Ask the kernel for `sig` when this process's parent exits (a no-op where there is no prctl)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def watch_parent(grace_s: float, poll_s: float = 1.0) -> None:
    """In a thread: once the parent is gone, SIGTERM ourselves; after grace_s more, exit."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(poll_s)
        print(f"[train] the launcher (pid {parent}) is gone: stopping (checkpoint, then exit)", file=sys.stderr,
              flush=True)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace_s)
        os._exit(1)

    if parent != 1:
        threading.Thread(target=watch, name="parent-watch", daemon=True).start()
