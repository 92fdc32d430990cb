"""Training under faults, for real on CPU (2 DeepSpeed processes over gloo): a job killed and resumed on another
world size, evaluation during training that leaves the weights alone, a SIGKILLed launcher that leaves no worker
behind, a second job refused on a busy checkpoint directory, and the step watchdog on a rank that hangs."""
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch
from safetensors.torch import load_file

from components.errors import UserError
from tests.support.training import kill_tree
from training import checkpoint as ckpt
from training import synthetic
from training.launch import torchrun_command, torchrun_local
from training.watchdog import EXIT_HUNG

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
# 8 sequences of 32 tokens per step, whatever the world: 2 processes x 2 x 2 micro-steps, or 1 x 2 x 4
COMMON = {"preset": "micro", "device": "cpu", "seq_length": 32, "micro_batch_size": 2, "global_batch_tokens": 256,
          "lr": 3e-3, "min_lr": 3e-4, "warmup_steps": 3, "weight_decay": 0.01, "grad_clip": 1.0, "zero_stage": 1,
          "precision": "fp32", "seed": 7, "log_every": 1}


def _args(tmp_path: Path, name: str, data, **over):
    return synthetic.train_args(tmp_path, name, *data, **(COMMON | over))


def _start(args, workdir: Path, log: Path) -> subprocess.Popen:
    cmd, env = torchrun_command(args, workdir)
    return subprocess.Popen(cmd, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True)


def _wait_for_checkpoint(args, proc, at_least: int, timeout: float = 300) -> int:
    deadline = time.time() + timeout
    while (ckpt.latest(Path(args.checkpoint_dir)) or 0) < at_least and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    return ckpt.latest(Path(args.checkpoint_dir)) or 0


def _losses(args) -> list:
    return [(r["step"], r["loss"]) for r in map(json.loads, (Path(args.output_dir) / "metrics.jsonl").read_text()
                                                 .splitlines())]


def _weights(args) -> dict:
    return load_file(str(Path(args.output_dir) / "hf" / "model.safetensors"))


def test_killed_job_resumes_on_another_world_size_and_evaluation_changes_no_weight(tmp_path):
    data = synthetic.inputs(tmp_path / "inputs", learnable=True)
    steps = 30
    # the uninterrupted reference, evaluating its live weights every 10 steps
    ref = _args(tmp_path, "ref", data, nproc=2, steps=steps, checkpoint_every=10, eval_every=10, eval_limit=4,
                eval_tasks=["copa"], eval_tokens=512)
    torchrun_local(ref, tmp_path / "ref", 600, tmp_path / "ref.log")
    evals = [json.loads(x) for x in (Path(ref.output_dir) / "evaluations.jsonl").read_text().splitlines()]
    assert [e["step"] for e in evals] == [10, 20, 30]
    assert all(e["validation_loss"] > 0 and 0 <= e["kobest_copa_f1"] <= 1 and "kobest_mean_f1" in e for e in evals)
    assert evals[-1]["validation_loss"] < evals[0]["validation_loss"], "validation loss follows training"
    assert all((Path(e["checkpoint"]["dir"]) / ckpt.COMPLETE).exists() or e["step"] < 20 for e in evals), \
        "each evaluated step is a checkpoint (older ones pruned to keep_checkpoints)"

    # the same job without evaluation, SIGKILLed after a checkpoint, resumed on the same 2 processes: bit-exact
    same = _args(tmp_path, "same", data, nproc=2, steps=steps, checkpoint_every=5)
    proc = _start(same, tmp_path / "same", tmp_path / "same.log")
    _wait_for_checkpoint(same, proc, at_least=10)
    kill_tree(proc.pid)
    proc.wait()
    killed_at = ckpt.latest(Path(same.checkpoint_dir))    # the newest complete one, where both resumes start
    assert 10 <= killed_at < steps, killed_at
    # a copy of that checkpoint directory: the job that lost a node and continues on one process
    other = _args(tmp_path, "other", data, nproc=1, steps=steps, checkpoint_every=5)
    shutil.copytree(same.checkpoint_dir, other.checkpoint_dir)
    shutil.copytree(same.output_dir, other.output_dir)

    torchrun_local(same, tmp_path / "same", 600, tmp_path / "same.log")
    w_ref, w_same = _weights(ref), _weights(same)
    assert all(torch.equal(w_ref[k], w_same[k]) for k in w_ref), \
        "resumed on the same world size, and evaluation during the reference changed nothing: identical weights"
    assert _losses(same) == _losses(ref)

    t0 = time.time()
    torchrun_local(other, tmp_path / "other", 600, tmp_path / "other.log")
    resume_s = time.time() - t0
    log = (tmp_path / "other.log").read_text()
    assert "written by 2 processes, this run has 1: converted to a universal checkpoint" in log, log[-3000:]
    assert "world 1, grad_accum 4" in log and "(resumed)" in log
    losses, ref_losses = _losses(other), _losses(ref)
    assert [s for s, _ in losses] == list(range(1, steps + 1)), "no step lost or repeated across the change"
    assert losses[:killed_at] == ref_losses[:killed_at]
    final, ref_final = losses[-1][1], ref_losses[-1][1]
    assert ref_final < ref_losses[0][1] - 0.5, "the data is learnable: the comparison below means something"
    assert abs(final - ref_final) <= 0.02 * ref_final, (final, ref_final)
    # the first step after the resume continues the curve (same samples, restored optimizer and schedule)
    assert abs(losses[killed_at][1] - ref_losses[killed_at][1]) <= 0.02 * ref_losses[killed_at][1]
    print(f"resume on 1 process: {resume_s:.1f}s for {steps - killed_at} steps incl. the conversion; final loss "
          f"{final:.4f} vs {ref_final:.4f} uninterrupted")


def test_sigkill_of_the_launcher_leaves_no_worker_and_a_busy_directory_is_refused(tmp_path):
    data = synthetic.inputs(tmp_path / "inputs")
    args = _args(tmp_path, "job", data, nproc=2, steps=100_000, checkpoint_every=5)
    # the launcher as the pretrain stage runs it, in a process of its own (what `polyglot-ko run` is)
    code = ("import sys; from pathlib import Path; from training.args import TrainArgs; "
            "from training.launch import torchrun_local; "
            "a = TrainArgs.from_json(Path(sys.argv[1]).read_text()); "
            "torchrun_local(a, Path(sys.argv[2]), 3600, Path(sys.argv[3]))")
    (tmp_path / "args.json").write_text(args.to_json())
    launcher = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "args.json"), str(tmp_path / "job"),
                                 str(tmp_path / "job.log")], cwd=ROOT, start_new_session=True)
    family = []
    try:
        assert _wait_for_checkpoint(args, launcher, at_least=5) >= 5
        family = psutil.Process(launcher.pid).children(recursive=True)
        assert sorted(_role(p) for p in family) == ["torchrun", "worker", "worker"], [p.cmdline() for p in family]

        # a second job on the same checkpoint directory is refused, with the holder named
        with pytest.raises(UserError, match="is being written by another training job"):
            torchrun_local(args, tmp_path / "second", 600, tmp_path / "second.log")

        before = ckpt.latest(Path(args.checkpoint_dir))
        launcher.send_signal(signal.SIGKILL)      # only the launcher, as `kill -9 <pid of polyglot-ko run>` does
        launcher.wait()
        gone, alive = psutil.wait_procs(family, timeout=120)
        assert not alive, f"still running after the launcher's SIGKILL: {[p.cmdline() for p in alive]}"
    finally:
        for p in family + [psutil.Process(launcher.pid)] if launcher.poll() is None else family:
            if p.is_running():
                p.kill()
    # they stopped the way a preemption does: the step they reached was checkpointed, and they said so in the log
    final = ckpt.latest(Path(args.checkpoint_dir))
    assert final > before, (before, final)
    assert f"stopped by SIGTERM at step {final}; checkpoint saved" in (tmp_path / "job.log").read_text()
    # and the directory is free again: nothing holds its lock
    from training.lock import live_holder
    assert live_holder(Path(args.checkpoint_dir)) is None


def _role(p: psutil.Process) -> str:
    cmd = " ".join(p.cmdline())
    return "torchrun" if "torch.distributed.run" in cmd else "worker" if "training.train" in cmd else cmd


def test_watchdog_dumps_the_stacks_and_fails_the_job_when_a_rank_hangs(tmp_path):
    data = synthetic.inputs(tmp_path / "inputs")
    args = _args(tmp_path, "hang", data, nproc=2, steps=100_000, checkpoint_every=5, step_timeout_s=5,
                 collective_timeout_s=20)     # a save under way when rank 1 stops is caught within 20 s too
    log_path = tmp_path / "hang.log"
    proc = _start(args, tmp_path / "hang", log_path)
    assert _wait_for_checkpoint(args, proc, at_least=5) >= 5
    workers = [p for p in psutil.Process(proc.pid).children(recursive=True) if _role(p) == "worker"]
    stuck = next(p for p in workers if p.environ().get("RANK") == "1")
    stuck.suspend()                 # rank 1 stops: rank 0 waits in the step's all-reduce
    t0 = time.time()
    deadline = t0 + 120
    while "watchdog: rank 0" not in log_path.read_text(errors="replace") and time.time() < deadline:
        time.sleep(0.2)
    detected_s = time.time() - t0
    stuck.resume()
    rc = proc.wait(timeout=120)
    log = log_path.read_text(errors="replace")
    # rank 1 stopped mid-step (5 s) or while a checkpoint was being saved (20 s)
    assert re.search(r"watchdog: rank 0 made no progress in (5s \(step|20s \(saving)", log), log[-3000:]
    assert "Thread" in log and "training/train.py" in log and "in step" in log, "the stuck rank's stack is logged"
    assert rc != 0
    assert f"exitcode  : {EXIT_HUNG}" in log, "the hung rank exits with the watchdog's code"
    assert 5 <= detected_s < 60, detected_s
