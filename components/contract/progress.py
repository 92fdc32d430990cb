"""What a long step shows while it runs: done / total, rate, time left, and any fields the caller adds.

On a terminal, one line rewritten in place (a few times a second at most); elsewhere (log files, pod logs, shard
workers, whose output interleaves), one plain line every POLYGLOT_KO_PROGRESS_S seconds (default 5), so
non-interactive logs get a heartbeat without being flooded. `advance` costs a counter and a clock read: cheap
enough to call per record.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
import time
from typing import IO


def _interval() -> float:
    try:
        return max(0.5, float(os.environ.get("POLYGLOT_KO_PROGRESS_S", "5")))
    except ValueError:
        return 5.0


def duration(seconds: float) -> str:
    s = int(max(0, seconds))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


class Progress:
    def __init__(self, label: str, total: float | None = None, unit: str = "records", start: float = 0,
                 stream: str = "stderr"):
        self.label, self.total, self.unit = label, total, unit
        self.stream: IO[str] = sys.stdout if stream == "stdout" else sys.stderr
        # Rewriting a line in place only makes sense for one writer on a terminal.
        self.live = self.stream.isatty() and multiprocessing.parent_process() is None
        self.every = 0.25 if self.live else _interval()
        self.start_value = self.done = start
        self.t0 = self.t_last = time.monotonic()
        self.fields: dict[str, str] = {}
        self.shown = False

    def advance(self, n: float = 1, **fields) -> None:
        self.set(self.done + n, **fields)

    def set(self, done: float, **fields) -> None:
        self.done = done
        if fields:
            self.fields.update({k: str(v) for k, v in fields.items()})
        now = time.monotonic()
        if now - self.t_last >= self.every:
            self.t_last = now
            self._show(now)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def line(self, now: float | None = None) -> str:
        now = time.monotonic() if now is None else now
        elapsed = max(now - self.t0, 1e-9)
        rate = (self.done - self.start_value) / elapsed
        parts = [f"[{self.label}]", f"{self.done:,.0f}" + (f"/{self.total:,.0f}" if self.total else ""),
                 f"{self.unit}", f"{rate:,.1f} {self.unit}/s"]
        parts += [f"{k} {v}" for k, v in self.fields.items()]
        if self.total and rate > 0:
            parts.append(f"eta {duration((self.total - self.done) / rate)}")
        parts.append(f"elapsed {duration(elapsed)}")
        return " ".join(parts)

    def _show(self, now: float) -> None:
        if self.live:
            self.stream.write("\r\033[K" + self.line(now))
        else:
            self.stream.write(self.line(now) + "\n")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        """The final figures (only if anything was shown: short steps stay quiet)."""
        if self.shown:
            self._show(time.monotonic())
            if self.live:
                self.stream.write("\n")
                self.stream.flush()
