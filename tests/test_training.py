"""Real 2-process DeepSpeed training on CPU (gloo): ZeRO-1/2/3, deterministic, exact resume after kill -9 and after
SIGTERM from a checkpoint mirrored to a real S3 server, export that transformers loads, continued pretraining."""
import json
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.support import training as tr
from training import checkpoint as ckpt
from training.launch import torchrun_local

pytestmark = pytest.mark.slow


def _dataset(tmp_path: Path, learnable: bool = False) -> tuple:
    return tr.data(tmp_path / "inputs", learnable=learnable)


def _args(tmp_path: Path, name: str, data: tuple, **over):
    """What the pretrain stage builds (training/args.py) for the micro preset on 2 CPU processes."""
    return tr.train_args(tmp_path, name, data, **over)


def _start_and_wait_for_checkpoint(args, workdir: Path, log_path: Path, at_least: int) -> subprocess.Popen:
    proc = tr.start(args, workdir, log_path)
    tr.wait_for_checkpoint(args, proc, at_least)
    return proc


def _weights(out: Path) -> dict:
    return load_file(str(out / "hf" / "model.safetensors"))


def _losses(out: Path) -> list:
    return [(r["step"], r["loss"]) for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines())]


def test_two_process_training_is_deterministic_and_resumes_exactly_after_kill9(tmp_path, training_reference):
    """Run a is the session's reference run (tests.support.training), b the same again here."""
    data = training_reference.inputs
    a = training_reference.args
    b = _args(tmp_path, "b", data)
    torchrun_local(b, tmp_path / "b", 600, tmp_path / "b.log")
    wa, wb = _weights(Path(a.output_dir)), _weights(Path(b.output_dir))
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa), "same config, same weights"
    losses = _losses(Path(a.output_dir))
    assert [s for s, _ in losses] == list(range(1, 31))
    assert losses[-1][1] < losses[0][1], "the loss goes down"

    # kill -9 the whole job once a checkpoint beyond step 6 is complete, then start it again
    c = _args(tmp_path, "c", data)
    killed = _start_and_wait_for_checkpoint(c, tmp_path / "c", tmp_path / "c.log", at_least=6)
    tr.kill_tree(killed.pid)
    killed.wait()
    killed_at = ckpt.latest(Path(c.checkpoint_dir))
    assert killed_at is not None and 6 <= killed_at < 30, f"killed at {killed_at}"
    # a half-written checkpoint (no COMPLETE marker) must be ignored
    (Path(c.checkpoint_dir) / ckpt.tag(killed_at + 1)).mkdir(exist_ok=True)
    torchrun_local(c, tmp_path / "c", 600, tmp_path / "c.log")
    wc = _weights(Path(c.output_dir))
    assert all(torch.equal(wa[k], wc[k]) for k in wa), "resumed run ends with the uninterrupted run's weights"
    assert _losses(Path(c.output_dir)) == losses, "same loss curve, no step lost or duplicated"
    assert "(resumed)" in (tmp_path / "c.log").read_text()


def test_zero2_bf16_sigterm_checkpoint_mirrored_to_s3_resumes_on_a_fresh_volume(tmp_path, s3):
    """Preemption on Kubernetes: SIGTERM -> every rank checkpoints the same step -> the mirror in object storage
    gets it, COMPLETE last -> a new pod with an empty volume downloads it and finishes exactly as if never stopped."""
    from components.contract.storage import Storage
    from training.remote import remote_complete_steps

    data = _dataset(tmp_path)
    common = {"zero_stage": 2, "precision": "bf16", "steps": 16, "checkpoint_every": 4}
    a = _args(tmp_path, "a", data, **common)
    torchrun_local(a, tmp_path / "a", 600, tmp_path / "a.log")

    b = _args(tmp_path, "b", data, **common, checkpoint_uri="s3://artifacts/ckpt-b")
    proc = _start_and_wait_for_checkpoint(b, tmp_path / "b", tmp_path / "b.log", at_least=4)
    proc.send_signal(signal.SIGTERM)       # what the kubelet sends torchrun, PID 1 of the pod
    proc.wait(timeout=120)
    log = (tmp_path / "b.log").read_text()
    assert "stopped by SIGTERM at step" in log, log[-2000:]
    stopped_at = int(log.split("stopped by SIGTERM at step ")[1].split(";")[0])
    assert 4 <= stopped_at < 16
    assert ckpt.latest(Path(b.checkpoint_dir)) == stopped_at, "the step it stopped at was saved, complete"
    assert stopped_at in remote_complete_steps(Storage(), b.checkpoint_uri), "and mirrored"

    shutil.rmtree(b.checkpoint_dir)     # a new node: the volume is empty, object storage is not
    torchrun_local(b, tmp_path / "b", 600, tmp_path / "b.log")
    assert "(resumed)" in (tmp_path / "b.log").read_text().split("stopped by SIGTERM")[1]
    wa, wb = _weights(Path(a.output_dir)), _weights(Path(b.output_dir))
    assert all(torch.equal(wa[k], wb[k]) for k in wa), "resumed from the mirror: the uninterrupted run's weights"
    assert _losses(Path(b.output_dir)) == _losses(Path(a.output_dir))
    assert remote_complete_steps(Storage(), b.checkpoint_uri)[-1] == 16
    assert len(remote_complete_steps(Storage(), b.checkpoint_uri)) <= 2, "the mirror is pruned like the volume"


def test_zero3_export_loads_in_transformers_and_continued_pretraining_starts_from_it(tmp_path):
    from transformers import AutoModelForCausalLM

    data = _dataset(tmp_path, learnable=True)
    a = _args(tmp_path, "z3", data, zero_stage=3, steps=30, checkpoint_every=10)
    torchrun_local(a, tmp_path / "z3", 600, tmp_path / "z3.log")
    hf = Path(a.output_dir) / "hf"
    cfg = json.loads((hf / "config.json").read_text())
    assert (cfg["bos_token_id"], cfg["eos_token_id"], cfg["vocab_size"]) == (0, 2, 256)
    assert cfg["architectures"] == ["GPTNeoXForCausalLM"] and cfg["use_parallel_residual"] is True
    model = AutoModelForCausalLM.from_pretrained(str(hf))
    assert sum(p.numel() for p in model.parameters()) == json.loads(
        (Path(a.output_dir) / "train_summary.json").read_text())["parameters"], "ZeRO-3 shards all gathered"
    out = model.generate(torch.tensor([[0, 17, 42]]), max_new_tokens=6, do_sample=False)
    assert out.shape == (1, 9) and int(out[0, 3:].max()) < 256

    # continued pretraining: a run initialised from that export starts where it ended, not from scratch
    fresh_first = _losses(Path(a.output_dir))[0][1]
    trained_last = _losses(Path(a.output_dir))[-1][1]
    c = _args(tmp_path, "cont", data, zero_stage=1, steps=4, warmup_steps=1, lr=1e-4, seed=11,
              init_from=str(hf))
    torchrun_local(c, tmp_path / "cont", 600, tmp_path / "cont.log")
    cont_first = _losses(Path(c.output_dir))[0][1]
    assert trained_last < fresh_first - 0.4, "the export learned something"
    assert abs(cont_first - trained_last) < 0.25 * (fresh_first - trained_last), (fresh_first, trained_last,
                                                                                 cont_first)
