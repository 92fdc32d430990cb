"""The peers for benchmarks/training.py, launched with torchrun on the same argument file as training/train.py.

--mode deepspeed: the loop a user would write around DeepSpeed themselves: same model, same DeepSpeed config,
                  same batches, nothing else (no sample index, no metrics, no checkpoints, no signal handling).
--mode torch:     a plain PyTorch loop without DeepSpeed: fp32 master weights, bf16 autocast on GPU, fused AdamW,
                  the same schedule and clipping; one process per device, DistributedDataParallel above one.
Prints one JSON line from rank 0: seconds per optimizer step (median over the timed steps).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--args", required=True)
    ap.add_argument("--mode", choices=["deepspeed", "torch"], required=True)
    ap.add_argument("--warmup", type=int, default=5)
    cli = ap.parse_args()
    from training.args import load
    a = load(cli.args)

    import numpy as np
    import torch

    from training.train import ds_config, stage_data
    from training.data import open_blend

    on_gpu = a.device == "cuda"
    torch.manual_seed(a.seed)
    a = stage_data(a)      # as the trainer does: the data in place before the process group
    data = open_blend(a.datasets, a.seq_length, a.seed, Path(a.cache_dir))
    if cli.mode == "deepspeed":
        import deepspeed
        deepspeed.init_distributed(dist_backend="nccl" if on_gpu else "gloo")
    else:
        torch.distributed.init_process_group("nccl" if on_gpu else "gloo")
    rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
    if on_gpu:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    device = torch.device("cuda") if on_gpu else torch.device("cpu")

    from training import model as model_io
    dsc = ds_config(a)
    model = model_io.build(a, dsc)
    if cli.mode == "deepspeed":
        engine, _, _, _ = deepspeed.initialize(model=model, model_parameters=model.parameters(), config=dsc)
        forward, backward, step = engine, engine.backward, engine.step
    else:
        model.to(device)
        net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
        opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.95), eps=1e-8,
                                weight_decay=a.weight_decay, fused=on_gpu)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=a.steps + 1,
                                                    pct_start=a.warmup_steps / (a.steps + 1))

        def forward(**kw):
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=a.precision == "bf16"):
                return net(**kw)

        def backward(loss):
            (loss / a.grad_accum).backward()

        micro_seen = {"n": 0}

        def step():
            micro_seen["n"] += 1
            if micro_seen["n"] % a.grad_accum == 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), a.grad_clip)
                opt.step()
                sched.step()
                opt.zero_grad(set_to_none=True)

    times = []
    for s in range(a.steps):
        if on_gpu:
            torch.cuda.synchronize()
        t = time.perf_counter()
        for micro in range(a.grad_accum):
            batch = torch.from_numpy(np.ascontiguousarray(
                data.batch(s, micro, rank, a.micro_batch_size, world, a.grad_accum))).to(device)
            logits = forward(input_ids=batch[:, :-1], use_cache=False).logits
            loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.size(-1)),
                                                     batch[:, 1:].reshape(-1))
            backward(loss)
            step()
        loss.item()
        if on_gpu:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    if rank == 0:
        timed = times[cli.warmup:]
        print(json.dumps({"mode": cli.mode, "step_s": statistics.median(timed), "steps": len(timed),
                          "memory_gb": torch.cuda.max_memory_allocated() / 2**30 if on_gpu else None}), flush=True)
    torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
