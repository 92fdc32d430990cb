"""Real multi-process training runs for the tests: the arguments the pretrain stage builds, over synthetic
artifacts, and what a run left (weights, losses). One uninterrupted reference run serves every test that compares
a disturbed run with it (`training_reference`)."""
from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

# The micro preset on 2 CPU processes (gloo): 30 steps of 2 x 2 sequences of 32 tokens, a checkpoint every 3.
SETTINGS = {"preset": "micro", "nproc": 2, "device": "cpu", "steps": 30, "seq_length": 32, "micro_batch_size": 2,
            "grad_accum": 2, "lr": 3e-3, "min_lr": 3e-4, "warmup_steps": 3, "weight_decay": 0.01, "grad_clip": 1.0,
            "zero_stage": 1, "precision": "fp32", "seed": 7, "checkpoint_every": 3, "log_every": 1}


def data(root: Path, learnable: bool = False) -> tuple:
    """A TokenizedDataset of random documents (`learnable`: counting sequences a tiny model picks up in steps) and
    a Tokenizer artifact of 256 entries, published as the pipeline would; the same bytes wherever `root` is."""
    from training import synthetic
    return synthetic.inputs(root, learnable=learnable)


def train_args(root: Path, name: str, inputs: tuple, **over):
    """The arguments of run `name` under root/: SETTINGS with `over`, built as the pretrain stage builds them."""
    from training import synthetic
    return synthetic.train_args(root, name, *inputs, **(SETTINGS | over))


def start(args, workdir: Path, log: Path) -> subprocess.Popen:
    """torchrun in a session of its own (so the whole job can be killed as a lost node would be)."""
    from training.launch import torchrun_command
    cmd, env = torchrun_command(args, workdir)
    return subprocess.Popen(cmd, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True)


def wait_for_checkpoint(args, proc, at_least: int, timeout: float = 300) -> int:
    """Until a complete checkpoint at step >= at_least exists (or the job ended): the newest complete step."""
    from training import checkpoint as ckpt
    deadline = time.time() + timeout
    while (ckpt.latest(Path(args.checkpoint_dir)) or 0) < at_least and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    return ckpt.latest(Path(args.checkpoint_dir)) or 0


def kill_tree(pid: int) -> None:
    """SIGKILL a process and all its descendants (torchrun's workers run in sessions of their own), as a lost
    node would; then wait for them."""
    import signal

    import psutil
    tree = psutil.Process(pid).children(recursive=True) + [psutil.Process(pid)]
    for p in tree:
        try:
            p.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(tree, timeout=30)


def weights(args) -> dict:
    from safetensors.torch import load_file
    return load_file(str(Path(args.output_dir) / "hf" / "model.safetensors"))


def same_weights(a: dict, b: dict) -> bool:
    import torch
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def losses(args) -> list[tuple[int, float]]:
    return [(r["step"], r["loss"]) for r in map(json.loads, (Path(args.output_dir) / "metrics.jsonl").read_text()
                                                 .splitlines())]


@dataclass
class Reference:
    """An uninterrupted run of SETTINGS: what a resumed or disturbed run must end with."""
    inputs: tuple
    args: object
    weights: dict
    losses: list


def reference(work: Path) -> Reference:
    from training.launch import torchrun_local
    inputs = data(work / "inputs")
    args = train_args(work, "reference", inputs)
    torchrun_local(args, work / "reference", 600, work / "reference.log")
    return Reference(inputs, args, weights(args), losses(args))
