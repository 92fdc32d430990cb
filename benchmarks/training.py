"""Training throughput, side by side in one run.

CPU (default):  our trainer (training/train.py: sample index, metrics, loss/stop all-reduce, checkpoint bookkeeping)
                against a bare DeepSpeed loop over the same model, config and batches (benchmarks/bare_loop.py),
                2 processes, gloo. Goal: our step time within 5% of the bare loop's.
GPU (--gpu):    the 1.3B preset on one GPU, sequence 2048, bf16, ZeRO-1: tokens/s and model FLOPs utilisation of
                our trainer against the same model trained by a plain PyTorch loop (no DeepSpeed). Goal: MFU of at
                least 50% on an H100 or H200.

GPU attention (--gpu --attention):  our trainer on the same model and batch with PyTorch's sdpa against
                flash-attention-2 (needs the flash-attn package).

Runs alternate (ours, peer, ours, peer, ...) so that drift in the machine's speed hits both alike.
    python benchmarks/training.py [--gpu [--attention]] [--rounds 2] [--steps 60]
benchmarks/gpu_check.sh runs every GPU figure in one go.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _args(work: Path, gpu: bool, steps: int, micro: int, zero: int):
    """Built as the pretrain stage builds them (training/args.py), over a synthetic TokenizedDataset artifact."""
    from training import synthetic
    data = synthetic.inputs(work / "inputs", vocab=30_080, tokens=4_000_000 if not gpu else 40_000_000,
                            lengths=(50, 2000))
    common = {"device": "cuda" if gpu else "cpu", "steps": steps, "grad_accum": 1, "lr": 2e-4, "min_lr": 2e-5,
              "warmup_steps": 2, "weight_decay": 0.1, "grad_clip": 1.0, "zero_stage": zero, "seed": 1,
              "checkpoint_every": 10**9, "log_every": 5, "export_dtype": "bfloat16" if gpu else "float32",
              "attention": "sdpa", "micro_batch_size": micro}
    if gpu:
        common |= {"preset": "polyglot-ko-1.3b", "seq_length": 2048, "precision": "bf16", "nproc": 1}
    else:
        common |= {"preset": "tiny", "seq_length": 128, "precision": "fp32", "nproc": 2}
    return synthetic.train_args(work, "run", *data, **common)


def _torchrun(module_args: list[str], nproc: int, gpu: bool, log: Path) -> None:
    from training.launch import free_port
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"),
               DS_ACCELERATOR="cuda" if gpu else "cpu")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", str(nproc),
           "--master_addr", "127.0.0.1", "--master_port", str(free_port()), *module_args]
    with open(log, "ab") as f:
        rc = subprocess.run(cmd, env=env, stdout=f, stderr=subprocess.STDOUT).returncode
    if rc:
        sys.exit(f"{' '.join(module_args[:3])} failed; see {log}:\n" + "\n".join(log.read_text().splitlines()[-20:]))


def ours(args, work: Path, warmup: int) -> float:
    import shutil
    shutil.rmtree(args.checkpoint_dir, ignore_errors=True)
    shutil.rmtree(args.output_dir, ignore_errors=True)
    path = work / "args.json"
    path.write_text(args.to_json())
    _torchrun(["-m", "training.train", "--args", str(path)], args.nproc, args.device == "cuda", work / "ours.log")
    # Each record averages the steps since the previous one (log_every of them), as users see it.
    rows = [json.loads(x) for x in (Path(args.output_dir) / "metrics.jsonl").read_text().splitlines()]
    return statistics.median(args.tokens_per_step / r["tokens_per_s"] for r in rows if r["step"] > warmup)


def peer(args, work: Path, mode: str, warmup: int) -> float:
    path = work / "args.json"
    path.write_text(args.to_json())
    log = work / f"{mode}.log"
    log.write_text("")
    _torchrun([str(ROOT / "benchmarks" / "bare_loop.py"), "--args", str(path), "--mode", mode,
               "--warmup", str(warmup)], args.nproc, args.device == "cuda", log)
    line = [x for x in log.read_text().splitlines() if x.startswith("{\"mode\"")][-1]
    return json.loads(line)["step_s"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gpu", action="store_true")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--micro", type=int, default=None)
    ap.add_argument("--zero", type=int, default=None)
    ap.add_argument("--attention", action="store_true", help="GPU: sdpa against flash-attention-2")
    o = ap.parse_args()
    steps = o.steps or (30 if o.gpu else 60)
    warmup = 10 if o.gpu else 10
    micro = o.micro or 8
    zeros = [o.zero] if o.zero is not None else ([1] if o.gpu else [0, 1])
    mode = "torch" if o.gpu else "deepspeed"
    if o.attention:
        return attention(o, steps, warmup, micro)
    for zero in zeros:
        with tempfile.TemporaryDirectory() as d:
            work = Path(d)
            args = _args(work, o.gpu, steps, micro, zero)
            t_ours, t_peer = [], []
            for _ in range(o.rounds):
                t_ours.append(ours(args, work, warmup))
                t_peer.append(peer(args, work, mode, warmup))
            a, b = statistics.median(t_ours), statistics.median(t_peer)
            tokens = args.micro_batch_size * args.nproc * args.seq_length
            line = (f"train {args.preset} ZeRO-{zero} {args.precision} {args.nproc}x{args.device} "
                    f"micro {micro}x{args.seq_length} | ours {a * 1000:.1f} ms/step ({tokens / a:,.0f} tok/s) | "
                    f"{'plain PyTorch' if o.gpu else 'bare DeepSpeed loop'} {b * 1000:.1f} ms/step "
                    f"({tokens / b:,.0f} tok/s) | ours/peer step time {a / b:.3f}")
            if o.gpu:
                from training.metrics import device_peak_tflops, flops_per_token
                from training.presets import PRESETS
                import torch
                p = PRESETS[args.preset]
                fpt = flops_per_token(p.param_count(args.vocab_size), p.layers, p.hidden, args.seq_length)
                peak = device_peak_tflops()
                name = torch.cuda.get_device_name()
                if peak:
                    line += (f" | {name}: MFU ours {fpt * tokens / a / (peak * 1e12):.1%}, "
                             f"plain {fpt * tokens / b / (peak * 1e12):.1%}")
                else:
                    line += f" | {name}: peak FLOP/s unknown, no MFU"
            print(line, flush=True)


def attention(o, steps: int, warmup: int, micro: int) -> None:
    import dataclasses

    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        args = _args(work, True, steps, micro, 1)
        times = {"sdpa": [], "flash_attention_2": []}
        for _ in range(o.rounds):
            for impl in times:
                times[impl].append(ours(dataclasses.replace(args, attention=impl), work, warmup))
        a, b = statistics.median(times["sdpa"]), statistics.median(times["flash_attention_2"])
        tokens = args.micro_batch_size * args.seq_length
        print(f"attention {args.preset} bf16 micro {micro}x{args.seq_length} | sdpa {a * 1000:.1f} ms/step "
              f"({tokens / a:,.0f} tok/s) | flash-attention-2 {b * 1000:.1f} ms/step ({tokens / b:,.0f} tok/s) | "
              f"sdpa/flash step time {a / b:.3f}", flush=True)


if __name__ == "__main__":
    main()
