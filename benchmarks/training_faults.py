"""What training's safety nets cost, side by side in one run (2 CPU processes, `tiny` preset, vocabulary 30,080,
micro-batch 8 x 128, the published Polyglot-Ko tokenizer for the KoBEST prompts):

- evaluation during training: the same run with and without `eval_every` (BoolQ + COPA, 100 examples each, 0-shot,
  validation loss over 16k tokens), wall time of the whole torchrun against the run without;
- resume: from the same checkpoint, on the same 2 processes and on 1 process (through the universal conversion):
  time from launch to the end of the remaining steps, and the conversion's own time.

    python benchmarks/training_faults.py [--steps 100] [--eval-every 50]
"""
from __future__ import annotations

import argparse
import dataclasses
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TOKENIZER = ROOT / "data" / "reference" / "polyglot-ko-tokenizer"


def _args(work: Path, name: str, data, **over):
    from training import synthetic
    settings = {"preset": "tiny", "device": "cpu", "nproc": 2, "seq_length": 128, "micro_batch_size": 8,
                "global_batch_tokens": 2 * 8 * 128, "lr": 1e-3, "min_lr": 1e-4, "warmup_steps": 5, "seed": 1,
                "zero_stage": 1, "precision": "fp32", "log_every": 10, "eval_tasks": ["boolq", "copa"],
                "eval_limit": 100, "eval_tokens": 16_384} | over
    args = synthetic.train_args(work, name, *data, **settings)
    return dataclasses.replace(args, tokenizer_uri=str(TOKENIZER))


def _timed(args, work: Path, name: str) -> float:
    from training.launch import torchrun_local
    t0 = time.perf_counter()
    torchrun_local(args, work / name, 3600, work / f"{name}.log")
    return time.perf_counter() - t0


def main() -> None:
    from training import synthetic

    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--eval-every", type=int, default=50)
    o = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        data = synthetic.inputs(work / "inputs", vocab=30_080, tokens=2_000_000, lengths=(50, 2000))
        plain = _timed(_args(work, "plain", data, steps=o.steps, checkpoint_every=o.eval_every), work, "plain")
        evaluated = _timed(_args(work, "eval", data, steps=o.steps, checkpoint_every=o.eval_every,
                                 eval_every=o.eval_every), work, "eval")
        evals = re.findall(r"eval at step \d+: .*\(([\d.]+)s\)", (work / "eval.log").read_text())
        print(f"eval during training: {o.steps} steps, {len(evals)} evaluations of "
              f"{', '.join(s + 's' for s in evals)} | without {plain:.1f}s | with {evaluated:.1f}s | "
              f"with/without {evaluated / plain:.3f}", flush=True)

        # resume from the plain run's step-(steps - eval_every) checkpoint, on 2 and on 1 process(es)
        half = o.steps - o.eval_every
        src = _args(work, "plain", data, steps=o.steps)
        times = {}
        for nproc in (2, 1):
            name = f"resume{nproc}"
            args = _args(work, name, data, steps=o.steps, nproc=nproc)
            shutil.copytree(Path(src.checkpoint_dir) / f"step{half:08d}", Path(args.checkpoint_dir) / f"step{half:08d}")
            times[nproc] = _timed(args, work, name)
        conv = re.search(r"converted to a universal checkpoint in ([\d.]+)s", (work / "resume1.log").read_text())
        print(f"resume at step {half} for {o.eval_every} steps | same world (2) {times[2]:.1f}s | other world (1) "
              f"{times[1]:.1f}s, of which the universal conversion {float(conv.group(1)) if conv else float('nan'):.1f}s"
              f" | other/same {times[1] / times[2]:.3f}", flush=True)


if __name__ == "__main__":
    main()
