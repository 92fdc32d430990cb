"""Real 2-process DeepSpeed training on CPU (gloo): deterministic, and exact resume after kill -9."""
import json
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
import torch
from safetensors.torch import load_file

from components.indexed_dataset import IndexedDatasetWriter
from training import checkpoint as ckpt
from training.launch import torchrun_command, torchrun_local

pytestmark = pytest.mark.slow


def _dataset(tmp_path: Path) -> Path:
    rng = np.random.RandomState(0)
    w = IndexedDatasetWriter(tmp_path / "train", np.uint16)
    for _ in range(300):
        w.add_document(list(rng.randint(4, 250, size=rng.randint(5, 60))) + [2])
    w.close()
    return tmp_path / "train"


def _args(tmp_path: Path, name: str, data: Path, steps: int = 30) -> dict:
    tok = tmp_path / "tok"
    tok.mkdir(exist_ok=True)
    return {"preset": "micro", "nproc": 2, "device": "cpu", "steps": steps, "seq_length": 32,
            "micro_batch_size": 2, "grad_accum": 2, "lr": 3e-3, "min_lr": 3e-4, "warmup_steps": 3,
            "weight_decay": 0.01, "grad_clip": 1.0, "zero_stage": 1, "precision": "fp32", "seed": 7,
            "checkpoint_every": 3, "log_every": 1, "vocab_size": 256, "bos_id": 0, "eos_id": 2,
            "dataset_prefix": str(data), "checkpoint_dir": str(tmp_path / name / "ckpt"),
            "output_dir": str(tmp_path / name / "out"), "tokenizer_dir": str(tok)}


def _weights(out: Path) -> dict:
    return load_file(str(out / "hf" / "model.safetensors"))


def _losses(out: Path) -> list:
    return [(r["step"], r["loss"]) for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines())]


def test_two_process_training_is_deterministic_and_resumes_exactly_after_kill9(tmp_path):
    data = _dataset(tmp_path)
    a = _args(tmp_path, "a", data)
    torchrun_local(a, 2, tmp_path / "a", 600, tmp_path / "a.log")
    b = _args(tmp_path, "b", data)
    torchrun_local(b, 2, tmp_path / "b", 600, tmp_path / "b.log")
    wa, wb = _weights(Path(a["output_dir"])), _weights(Path(b["output_dir"]))
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa), "same config, same weights"
    losses = _losses(Path(a["output_dir"]))
    assert [s for s, _ in losses] == list(range(1, 31))
    assert losses[-1][1] < losses[0][1], "the loss goes down"

    # kill -9 the whole job once a checkpoint beyond step 6 is complete, then start it again
    c = _args(tmp_path, "c", data)
    cmd, env = torchrun_command(c, 2, tmp_path / "c")
    with open(tmp_path / "c.log", "wb") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 300
        while (ckpt.latest(Path(c["checkpoint_dir"])) or 0) < 6 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        # torchrun's workers run in process groups of their own: kill the whole tree, as a lost node would
        tree = psutil.Process(proc.pid).children(recursive=True) + [psutil.Process(proc.pid)]
        for p in tree:
            p.send_signal(signal.SIGKILL)
        proc.wait()
        psutil.wait_procs(tree, timeout=30)
    killed_at = ckpt.latest(Path(c["checkpoint_dir"]))
    assert killed_at is not None and 6 <= killed_at < 30, f"killed at {killed_at}"
    # a half-written checkpoint (no COMPLETE marker) must be ignored
    (Path(c["checkpoint_dir"]) / ckpt.tag(killed_at + 1)).mkdir(exist_ok=True)
    torchrun_local(c, 2, tmp_path / "c", 600, tmp_path / "c.log")
    wc = _weights(Path(c["output_dir"]))
    assert all(torch.equal(wa[k], wc[k]) for k in wa), "resumed run ends with the uninterrupted run's weights"
    assert _losses(Path(c["output_dir"])) == losses, "same loss curve, no step lost or duplicated"
    assert "(resumed)" in (tmp_path / "c.log").read_text()
