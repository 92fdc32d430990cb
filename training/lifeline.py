"""Training processes die with the one that launched them.

torchrun starts its workers in sessions of their own, so a SIGKILL of the pipeline (or of torchrun) reached no
worker: they went on training and checkpointing into the directory the rerun resumes from. Two guards, because
neither alone covers every case:
- the parent-death signal (Linux prctl): the kernel sends SIGTERM when the parent exits. The launcher sets it for
  torchrun (which forwards SIGTERM to its workers: checkpoint, then exit), and each worker sets it for itself;
- a watch on the parent: a thread that notices the worker was re-parented (the platform has no prctl, or the
  signal was lost), delivers the same SIGTERM, and ends the process if it is still alive
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


def _prctl():
    # resolved once, in the parent: a dlopen between fork and exec (preexec_fn) can deadlock on the loader's lock
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _prctl()


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Ask the kernel for `sig` when this process's parent exits (a no-op where there is no prctl)."""
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)


def watch_parent(grace_s: float, poll_s: float = 1.0) -> None:
    """In a thread: once the parent is gone, SIGTERM ourselves; after grace_s more, exit."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(poll_s)
        os.kill(os.getpid(), signal.SIGTERM)
        try:
            print(f"[train] the launcher (pid {parent}) is gone: stopping (checkpoint, then exit)",
                  file=sys.stderr, flush=True)
        except OSError:          # nobody reads the log any more: stopping matters, the line does not
            pass
        time.sleep(grace_s)
        os._exit(1)

    if parent != 1:
        threading.Thread(target=watch, name="parent-watch", daemon=True).start()
