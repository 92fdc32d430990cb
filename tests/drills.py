"""Failure drills: what production does to the pipeline, done for real on this machine, with the outcome measured.

Each drill runs the tiny config's corpus stages (or a part of them) in a subprocess, as a user would, against a
real S3-compatible server on loopback, breaks something, and checks that nothing is lost: the run completes or
fails with a message naming the cause, and the artifacts equal an undisturbed run's (same digests). Used by
tests/test_drills.py and by `make drills` (tests/run_drills.py), which prints the table for the README.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).parent / "polyglot-ko")
CORPUS = ["collect", "curate"]


@dataclass
class Drill:
    name: str
    outcome: str            # what happened, in a few words
    recovery_s: float       # from the fault's end to the run's completion
    lost: str               # records or steps lost, compared with an undisturbed run
    ok: bool


def _run(args: list[str], env: dict | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def _start(args: list[str], env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([CLI, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **(env or {})}, start_new_session=True)


def corpus_digests(root: str) -> dict[str, str]:
    """Digest and record count of every complete corpus artifact under an artifact root."""
    from components.artifacts import read_manifest
    from components.storage import Storage
    storage, out = Storage(), {}
    for stage in CORPUS:
        names = [n for n in storage.list_files(f"{root}/{stage}") if n.endswith("/manifest.json")
                 and n.count("/") == 1]
        for n in names:
            m = read_manifest(storage, f"{root}/{stage}/{n.rsplit('/', 1)[0]}")
            out[stage] = f"{m.digest[:16]} ({m.stats['records_out']} records)"
    return out


def baseline(work: Path) -> dict[str, str]:
    root = "s3://artifacts/drill-baseline"
    proc = _run(["run", "configs/tiny.yaml", "--workdir", str(work / "baseline"), "--until", "curate",
                 "--set", f"artifact_root={root}"])
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return corpus_digests(root)


def _wait_for(predicate, timeout: float = 300, every: float = 0.05) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(every)
    return False


def _lost(expected: dict, got: dict) -> str:
    if got == expected:
        return "0 (same digests)"
    return f"differs: expected {expected}, got {got}"


def s3_outage_mid_stage(work: Path, s3, expected: dict, outage_s: float = 15.0) -> Drill:
    """The S3 server stops for outage_s seconds while curate runs, then comes back."""
    from components.storage import Storage
    root = "s3://artifacts/drill-outage"
    proc = _start(["run", "configs/tiny.yaml", "--workdir", str(work / "outage"), "--until", "curate",
                   "--set", f"artifact_root={root}"])
    # curate starts as soon as collect's manifest is published
    _wait_for(lambda: any(n.endswith("manifest.json") for n in Storage().list_files(f"{root}/collect")))
    s3.stop()
    time.sleep(outage_s)
    s3.start()
    back = time.time()
    out, _ = proc.communicate(timeout=900)
    recovery = time.time() - back
    got = corpus_digests(root) if proc.returncode == 0 else {}
    ok = proc.returncode == 0 and got == expected
    return Drill(f"S3 down {outage_s:.0f}s during curate", "completed (retried with backoff)" if proc.returncode == 0
                 else f"failed: {out[-300:]}", recovery, _lost(expected, got), ok)


def s3_stays_down(work: Path, s3, expected: dict) -> Drill:
    """The S3 server is down for good: the stage fails, naming the endpoint; after it returns, a rerun completes."""
    root = "s3://artifacts/drill-down"
    s3.stop()
    failed = _run(["run", "configs/tiny.yaml", "--workdir", str(work / "down"), "--until", "curate",
                   "--set", f"artifact_root={root}"], env={"POLYGLOT_KO_S3_RETRY_S": "8"}, timeout=600)
    s3.start()
    back = time.time()
    named = f"object storage at {s3.endpoint} unreachable" in failed.stderr
    rerun = _run(["run", "configs/tiny.yaml", "--workdir", str(work / "down"), "--until", "curate",
                  "--set", f"artifact_root={root}"])
    recovery = time.time() - back
    got = corpus_digests(root) if rerun.returncode == 0 else {}
    ok = failed.returncode == 2 and named and rerun.returncode == 0 and got == expected
    outcome = ("failed clearly, rerun completed" if ok else
               f"rc {failed.returncode}/{rerun.returncode}: {failed.stderr[-300:]} {rerun.stderr[-300:]}")
    return Drill("S3 down for good, then back", outcome, recovery, _lost(expected, got), ok)


def worker_killed_mid_shard(work: Path, expected: dict) -> Drill:
    """The whole run (its shard workers included) is SIGKILLed while curate's shards run; a rerun finishes."""
    from components.storage import Storage
    root = "s3://artifacts/drill-kill"
    proc = _start(["run", "configs/tiny.yaml", "--workdir", str(work / "kill"), "--until", "curate",
                   "--set", f"artifact_root={root}"])
    _wait_for(lambda: any(n.endswith("manifest.json") for n in Storage().list_files(f"{root}/collect")))
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed = time.time()
    rerun = _run(["run", "configs/tiny.yaml", "--workdir", str(work / "kill"), "--until", "curate",
                  "--set", f"artifact_root={root}"])
    recovery = time.time() - killed
    got = corpus_digests(root) if rerun.returncode == 0 else {}
    ok = rerun.returncode == 0 and got == expected
    return Drill("run SIGKILLed mid-curate, rerun", "rerun completed, byte-identical" if ok else
                 f"rerun rc {rerun.returncode}: {rerun.stderr[-300:]}", recovery, _lost(expected, got), ok)


def concurrent_runs(work: Path, expected: dict) -> Drill:
    """Two runs of the same config start at once on the same workdir and bucket."""
    root = "s3://artifacts/drill-twins"
    args = ["run", "configs/tiny.yaml", "--workdir", str(work / "twins"), "--until", "curate",
            "--set", f"artifact_root={root}"]
    t0 = time.time()
    a, b = _start(args), _start(args)
    out_a, _ = a.communicate(timeout=900)
    out_b, _ = b.communicate(timeout=900)
    got = corpus_digests(root) if a.returncode == b.returncode == 0 else {}
    ok = a.returncode == 0 and b.returncode == 0 and got == expected
    return Drill("two runs at once, same workdir and bucket", "both completed, one set of artifacts" if ok else
                 f"rc {a.returncode}/{b.returncode}: {out_a[-300:]} {out_b[-300:]}", time.time() - t0,
                 _lost(expected, got), ok)


def disk_full(work: Path) -> Drill:
    """The local disk holding the artifacts fills up during a stage (a 3 MB tmpfs)."""
    mnt = work / "small-disk"
    mnt.mkdir(parents=True, exist_ok=True)
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], capture_output=True,
                           text=True)
    if mount.returncode != 0:
        return Drill("local disk full during a stage", f"not run: cannot mount a small filesystem "
                     f"({mount.stderr.strip()[:120]})", 0.0, "-", True)
    try:
        proc = _run(["run", "configs/demo.yaml", "--workdir", str(work / "disk"), "--until", "collect",
                     "--set", f"artifact_root={mnt}"])
        # Finished shard parts may stay (each complete, reused by the rerun); the artifact has no manifest, so
        # nothing downstream can ever read it.
        published = list(mnt.glob("collect/*/manifest.json"))
        clear = proc.returncode == 2 and "no space left on the device" in proc.stderr
        ok = clear and not published
        return Drill("local disk full during a stage", "failed clearly, no artifact published" if ok else
                     f"rc {proc.returncode}: {proc.stderr[-300:]}", 0.0, "nothing published", ok)
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def table(drills: list[Drill]) -> str:
    rows = ["| drill | outcome | recovery | lost |", "|---|---|---|---|"]
    for d in drills:
        rows.append(f"| {d.name} | {d.outcome} | {d.recovery_s:.1f} s | {d.lost} |")
    return "\n".join(rows)


def as_json(drills: list[Drill]) -> str:
    return json.dumps([d.__dict__ for d in drills], indent=2)
