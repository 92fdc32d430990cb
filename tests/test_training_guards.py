"""The training guards on their own, in real processes: the checkpoint-directory lock (a live holder on this machine,
one on another machine by its heartbeat, the same job restarting), the watchdog's stack dump and exit code, and
the parent-death signal."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from training import lock
from training.watchdog import EXIT_HUNG

ROOT = Path(__file__).resolve().parents[1]


def _holder(root: Path, **info) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / lock.INFO).write_text(json.dumps({"job": "other-job", "host": "gpu-node-7", "pid": 12345,
                                              "heartbeat": time.time()} | info))


def test_a_live_holder_in_another_process_is_refused_and_its_death_frees_the_directory(tmp_path):
    root = tmp_path / "ckpt"
    code = ("import sys, time; from pathlib import Path; from training.lock import CheckpointLock; "
            "CheckpointLock(Path(sys.argv[1])).acquire(); print('held', flush=True); time.sleep(600)")
    holder = subprocess.Popen([sys.executable, "-c", code, str(root)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(lock.CheckpointDirBusy, match=rf"pid {holder.pid} on {socket.gethostname()}"):
            lock.CheckpointLock(root).acquire()
        assert lock.live_holder(root)["pid"] == holder.pid
    finally:
        holder.kill()
        holder.wait()
    assert lock.live_holder(root) is None, "a dead holder on this machine holds nothing"
    mine = lock.CheckpointLock(root).acquire()
    assert lock.holder(root)["pid"] == os.getpid()
    mine.release()
    assert lock.holder(root) is None


def test_another_machines_fresh_heartbeat_refuses_a_stale_one_or_the_same_job_takes_over(tmp_path, monkeypatch):
    root = tmp_path / "ckpt"
    _holder(root)
    with pytest.raises(lock.CheckpointDirBusy, match="other-job, pid 12345 on gpu-node-7"):
        lock.CheckpointLock(root).acquire()
    _holder(root, heartbeat=time.time() - lock.STALE_S - 1)
    lock.CheckpointLock(root).acquire().release()
    _holder(root)
    monkeypatch.setenv("POLYGLOT_KO_JOB_ID", "other-job")      # the same TrainJob, its pods recreated
    taken = lock.CheckpointLock(root).acquire()
    assert lock.holder(root)["host"] == socket.gethostname()
    taken.release()


def test_the_watchdog_dumps_every_threads_stack_and_exits_with_its_code():
    code = ("import threading, time; from training.watchdog import Watchdog; "
            "threading.Thread(target=lambda: time.sleep(600), daemon=True).start(); "
            "w = Watchdog(rank=3); w.arm(30, 'step 1'); w.arm(1, 'step 2'); time.sleep(600)")
    t0 = time.time()
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == EXIT_HUNG, run.stderr
    assert "watchdog: rank 3 made no progress in 1s (step 2)" in run.stderr
    # the watchdog's own thread ("Current thread"), the main thread and the other one, each with its frames
    assert "Current thread 0x" in run.stderr and run.stderr.count("Thread 0x") >= 2 and "<lambda>" in run.stderr
    assert 'File "<string>", line 1 in <module>' in run.stderr
    assert time.time() - t0 < 30, "re-arming replaced the 30 s deadline"


def test_a_process_with_the_parent_death_signal_ends_with_its_parent():
    # parent: starts a child that asks for SIGTERM on the parent's death, prints the child's pid, then waits
    child = ("import signal, time; from training.lifeline import die_with_parent; die_with_parent(); "
             "print('ready', flush=True); time.sleep(600)")
    parent = (f"import subprocess, sys; c = subprocess.Popen([sys.executable, '-c', {child!r}], "
              "stdout=subprocess.PIPE, text=True); c.stdout.readline(); print(c.pid, flush=True); "
              "import time; time.sleep(600)")
    p = subprocess.Popen([sys.executable, "-c", parent], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    pid = int(p.stdout.readline())
    child_proc = psutil.Process(pid)
    p.send_signal(signal.SIGKILL)
    p.wait()
    child_proc.wait(timeout=30)
    assert not psutil.pid_exists(pid) or child_proc.status() == psutil.STATUS_ZOMBIE


def test_evaluation_reads_only_the_leading_validation_segments_it_scores(tmp_path):
    """validation_loss scores the first eval_tokens tokens: staging and opening stop at the segments holding them,
    however large the split (at 1.2 TB, tens of GB)."""
    from training import synthetic
    from training.args import DatasetRef
    from training.data import _split, open_split

    dataset, _ = synthetic.inputs(tmp_path / "inputs")
    ref = DatasetRef(uri=dataset.uri, weight=1.0, endpoint_url=None)
    segments = _split(ref, "validation")[2]
    assert len(segments) == 2
    first = segments[0].tokens
    assert len(open_split(ref, tmp_path / "cache", "validation", max_tokens=first)) == first
    assert len(open_split(ref, tmp_path / "cache", "validation", max_tokens=first + 1)) == first + segments[1].tokens
    assert len(open_split(ref, tmp_path / "cache", "validation")) == first + segments[1].tokens
