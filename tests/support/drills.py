"""Failure drills: what production does to the pipeline, done for real on this machine, with the outcome measured.

Each drill runs the tiny config's corpus stages (or a part of them) in a subprocess, as a user would, against a
real S3-compatible server on loopback, breaks something, and checks that nothing is lost: the run completes or
fails with a message naming the cause, and the artifacts equal an undisturbed run's (same digests). Used by
tests/test_drills.py and by `make drills` (tests/support/run_drills.py), which prints the table for the README.
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

from . import ROOT, training
CLI = str(Path(sys.executable).parent / "polyglot-ko")
CORPUS = ["collect", "curate"]


@dataclass
class Drill:
    name: str
    outcome: str            # what happened, in a few words
    recovery_s: float       # from the fault's end to the run's completion
    lost: str               # records or steps lost, compared with an undisturbed run
    ok: bool
    ran: bool = True        # False: the fault could not be made here (never counted as passed)


def _run(args: list[str], env: dict | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def _start(args: list[str], env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([CLI, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **(env or {})}, start_new_session=True)


def corpus_digests(root: str) -> dict[str, str]:
    """Digest and record count of every complete corpus artifact under an artifact root."""
    from components.contract.manifest import read_manifest
    from components.contract.storage import Storage
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


def _outage(server, seconds: float, proc, timeout: float = 900) -> tuple[int, float, str]:
    """Take `server` down for `seconds` while `proc` runs; (its exit code, seconds from the server's return to
    its end, its output)."""
    server.stop()
    time.sleep(seconds)
    server.start()
    back = time.time()
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, time.time() - back, out or ""


def _lost(expected: dict, got: dict) -> str:
    if got == expected:
        return "0 (same digests)"
    return f"differs: expected {expected}, got {got}"


def s3_outage_mid_stage(work: Path, s3, expected: dict, outage_s: float = 15.0) -> Drill:
    """The S3 server stops for outage_s seconds while curate runs, then comes back."""
    from components.contract.storage import Storage
    root = "s3://artifacts/drill-outage"
    proc = _start(["run", "configs/tiny.yaml", "--workdir", str(work / "outage"), "--until", "curate",
                   "--set", f"artifact_root={root}"])
    # curate starts as soon as collect's manifest is published
    _wait_for(lambda: any(n.endswith("manifest.json") for n in Storage().list_files(f"{root}/collect")))
    _, recovery, out = _outage(s3, outage_s, proc)
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
    from components.contract.storage import Storage
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


def disk_full(work: Path, size: str = "3m") -> Drill:
    """The local disk holding the artifacts fills up during a stage (a tmpfs of `size`)."""
    mnt = work / "small-disk"
    mnt.mkdir(parents=True, exist_ok=True)
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], capture_output=True,
                           text=True)
    if mount.returncode != 0:
        return Drill("local disk full during a stage", f"not run: cannot mount a small filesystem "
                     f"({mount.stderr.strip()[:120]})", 0.0, "-", ok=False, ran=False)
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


def _train_args(work: Path, name: str, **over):
    """A run of tests.support.training's SETTINGS over the synthetic data (the same bytes as the reference's)."""
    return training.train_args(work, name, training.data(work / "train-data"), **over)


def training_baseline(work: Path) -> dict:
    """The uninterrupted run's weights (`make drills`; the tests share one reference run)."""
    return training.reference(work).weights


def killed_mid_checkpoint(work: Path, expected_weights: dict) -> Drill:
    """Training is SIGKILLed (all processes) while a checkpoint is being written; the rerun ignores the partial
    checkpoint, resumes from the previous complete one, and ends with the uninterrupted run's weights."""
    from training import checkpoint as ckpt
    from training.launch import torchrun_command, torchrun_local
    args = _train_args(work, "train-kill")
    root = Path(args.checkpoint_dir)
    cmd, env = torchrun_command(args, work / "train-kill")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)

    def saving() -> bool:   # a checkpoint directory past the first complete one, not yet marked complete
        done = ckpt.latest(root) or 0
        return done >= 6 and any(d.name != ckpt.tag(done) and not (d / ckpt.COMPLETE).exists()
                                 for d in root.glob("step*"))
    caught = _wait_for(lambda: saving() or proc.poll() is not None, timeout=300, every=0.002) and proc.poll() is None
    training.kill_tree(proc.pid)
    proc.wait()
    partial = sorted(d.name for d in root.glob("step*") if not (d / ckpt.COMPLETE).exists())
    resume_from = ckpt.latest(root)
    killed = time.time()
    torchrun_local(args, work / "train-kill", 600, work / "train-kill.log")
    same = training.same_weights(expected_weights, training.weights(args))
    steps = [json.loads(x)["step"] for x in (Path(args.output_dir) / "metrics.jsonl").read_text().splitlines()]
    ok = same and steps == list(range(1, 31))
    where = f"mid-save of {partial[0]}" if caught and partial else "right after a checkpoint (save not caught)"
    return Drill("training killed mid-checkpoint", f"killed {where}; resumed from step {resume_from}, same "
                 "weights" if ok else f"weights equal: {same}, steps {steps[:5]}...", time.time() - killed,
                 f"0 steps (30 logged once each), {30 - (resume_from or 0)} recomputed", ok)


def mlflow_restart_during_training(work: Path, expected_weights: dict, down_s: float = 8.0) -> Drill:
    """The MLflow server restarts while 2-process training streams its metrics: training goes on, and every step's
    metrics arrive exactly once."""
    from mlflow import MlflowClient

    from .services import MlflowServer
    from training.launch import torchrun_command
    server = MlflowServer(work / "mlflow-drill").start()
    try:
        client = MlflowClient(server.uri)
        run_id = client.create_run(client.create_experiment("drill")).info.run_id
        args = _train_args(work, "train-mlflow", mlflow_tracking_uri=server.uri, mlflow_run_id=run_id)
        cmd, env = torchrun_command(args, work / "train-mlflow")
        proc = subprocess.Popen(cmd, env={**env, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1"},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        metrics = Path(args.output_dir) / "metrics.jsonl"
        _wait_for(lambda: metrics.exists() and len(metrics.read_text().splitlines()) >= 5)
        rc, recovery, _ = _outage(server, down_s, proc, timeout=600)
        history = sorted(m.step for m in client.get_metric_history(run_id, "train/loss"))
        ok = rc == 0 and history == list(range(1, 31)) and training.same_weights(expected_weights,
                                                                                   training.weights(args))
        return Drill(f"MLflow server down {down_s:.0f}s during training",
                     "training went on; every metric arrived once" if ok else f"rc {rc}, steps {history}",
                     recovery, f"{30 - len(set(history))} metric steps lost, {len(history) - len(set(history))} "
                     "duplicated", ok)
    finally:
        server.stop()


def s3_outage_during_checkpoint_upload(work: Path, s3, expected_weights: dict, outage_s: float = 15.0) -> Drill:
    """S3 stops while rank 0 mirrors checkpoints to it, then returns: training completes, the mirror's newest
    checkpoint is complete (COMPLETE written last), and the weights equal an undisturbed run's."""
    from components.contract.storage import Storage
    from training.launch import torchrun_command
    from training.remote import remote_complete_steps
    uri = "s3://artifacts/drill-ckpt"
    args = _train_args(work, "train-s3", checkpoint_uri=uri)
    cmd, env = torchrun_command(args, work / "train-s3")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for(lambda: any(n.startswith("step") for n in Storage().list_files(uri)) or proc.poll() is not None)
    rc, recovery, _ = _outage(s3, outage_s, proc)
    steps = remote_complete_steps(Storage(), uri) if rc == 0 else []
    present = {n.split("/", 1)[0] for n in Storage().list_files(uri)}
    ok = rc == 0 and steps and steps[-1] == 30 and training.same_weights(expected_weights, training.weights(args)) \
        and present == {f"step{s:08d}" for s in steps}     # every checkpoint in the mirror is a complete one
    return Drill(f"S3 down {outage_s:.0f}s during checkpoint uploads", "training completed, mirror complete"
                 if ok else f"rc {rc}, mirror {steps}", recovery, "0 steps; no partial checkpoint in the mirror"
                 if ok else "?", bool(ok))
