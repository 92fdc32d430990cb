"""Hang detection for one training rank: no progress for the armed time -> every thread's stack to the log,
then a non-zero exit, so the launcher (torchrun, the JobSet) restarts the job from its last checkpoint instead of
waiting out the collective timeout on every incident.

Two layers: a Python thread that prints which rank and phase stopped, dumps the stacks and exits with
EXIT_HUNG; and, 60 s later, faulthandler's C-level timer, which dumps and exits even when a C call holds the GIL
(a stuck collective inside a kernel launch, for example). Each rank has its own watchdog: a hang in a collective
stops every rank, so every rank's stack reaches the log.
"""
from __future__ import annotations

import faulthandler
import os
import sys
import threading
import time

EXIT_HUNG = 86          # distinct from a crash (1) and from SIGTERM's 143: the log says which
BACKSTOP_S = 60


class Watchdog:
    def __init__(self, rank: int):
        self.rank = rank
        self._deadline = None           # (monotonic deadline, seconds, what) or None when disarmed
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="step-watchdog", daemon=True)
        self._thread.start()

    def arm(self, seconds: float, what: str) -> None:
        """Expect progress within `seconds` (`what` is being done); re-arming pushes the deadline on."""
        with self._lock:
            self._deadline = (time.monotonic() + seconds, seconds, what)
        faulthandler.cancel_dump_traceback_later()
        faulthandler.dump_traceback_later(seconds + BACKSTOP_S, exit=True, file=sys.stderr)
        self._wake.set()

    def disarm(self) -> None:
        with self._lock:
            self._deadline = None
        faulthandler.cancel_dump_traceback_later()

    def _watch(self) -> None:
        while True:
            with self._lock:
                d = self._deadline
            if d is None:
                self._wake.wait()
                self._wake.clear()
                continue
            left = d[0] - time.monotonic()
            if left > 0:
                self._wake.wait(min(left, 5.0))
                self._wake.clear()
                continue
            with self._lock:
                if self._deadline is not d:      # re-armed meanwhile
                    continue
            print(f"[train] watchdog: rank {self.rank} made no progress in {d[1]:.0f}s ({d[2]}); the stacks of "
                  f"its threads follow, then it exits with {EXIT_HUNG} so the job restarts from its checkpoint",
                  file=sys.stderr, flush=True)
            faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
            sys.stderr.flush()
            os._exit(EXIT_HUNG)
