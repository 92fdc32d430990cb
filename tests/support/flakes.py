"""How often the tests' servers fail to start: `python -m tests.support.flakes [--cycles 20] [--load]`.

Each cycle starts every server the tests use (SeaweedFS's S3, PostgreSQL, an MLflow server on it), checks it
answers, stops it and starts it again at the same address, as the fixtures and the drills do. `--load` keeps
both cores busy meanwhile (the state of a loaded CI machine). Prints the failures, if any, with their messages."""
from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

from .services import MlflowServer, PostgresServer, SeaweedS3


def _burn(stop) -> None:
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def cycle(root: Path) -> None:
    s3 = SeaweedS3(root / "s3").start()
    try:
        s3.client().create_bucket(Bucket="cycle")
        s3.stop()
        s3.start()
        assert [b["Name"] for b in s3.client().list_buckets()["Buckets"]] == ["cycle"]
    finally:
        s3.stop()
    pg = PostgresServer(root / "pg")
    backend = pg.start().uri if pg.bindir is not None else None
    server = MlflowServer(root / "mlflow", backend=backend)
    try:
        server.start()
        server.stop()
        server.start()
    finally:
        server.stop()
        if backend:
            pg.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cycles", type=int, default=20)
    ap.add_argument("--load", action="store_true", help="two processes burning CPU meanwhile")
    a = ap.parse_args(argv)
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    stop = multiprocessing.Event()
    burners = [multiprocessing.Process(target=_burn, args=(stop,)) for _ in range(2 if a.load else 0)]
    for b in burners:
        b.start()
    failures, started = [], time.time()
    try:
        for i in range(a.cycles):
            with tempfile.TemporaryDirectory() as d:
                try:
                    cycle(Path(d))
                except Exception as e:         # counted and shown, the next cycle goes on
                    failures.append(f"cycle {i}: {type(e).__name__}: {str(e)[:1500]}")
    finally:
        stop.set()
        for b in burners:
            b.join()
    print(f"{a.cycles} cycles{' under load' if a.load else ''} in {time.time() - started:.0f} s: "
          f"{len(failures)} failed")
    for f in failures:
        print(f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
