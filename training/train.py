"""The training loop: GPTNeoXForCausalLM under DeepSpeed, launched by torchrun (one process per device).

    torchrun --nproc_per_node N -m training.train --args ARGS.json

Runs on CPU with gloo (tests, laptops) and on GPUs with NCCL, from the same code. Deterministic for a given
configuration and world size; resumes from the newest complete checkpoint by itself.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import signal
import time
from pathlib import Path

import numpy as np


def _ds_config(a: dict, world: int) -> dict:
    return {
        "train_micro_batch_size_per_gpu": a["micro_batch_size"],
        "gradient_accumulation_steps": a["grad_accum"],
        "train_batch_size": a["micro_batch_size"] * a["grad_accum"] * world,
        "gradient_clipping": a["grad_clip"],
        "steps_per_print": 10**9,
        "wall_clock_breakdown": False,
        "optimizer": {"type": "AdamW", "params": {"lr": a["lr"], "betas": [0.9, 0.95], "eps": 1e-8,
                                                  "weight_decay": a["weight_decay"], "torch_adam": True}},
        "scheduler": {"type": "WarmupCosineLR", "params": {
            "total_num_steps": max(a["steps"], a["warmup_steps"] + 1), "warmup_num_steps": a["warmup_steps"],
            "warmup_min_ratio": 0.0, "cos_min_ratio": a["min_lr"] / a["lr"], "warmup_type": "linear"}},
        "zero_optimization": {"stage": a["zero_stage"]},
        "bf16": {"enabled": a["precision"] == "bf16"},
        "activation_checkpointing": {"partition_activations": False},
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--args", required=True)
    p.add_argument("--local_rank", type=int, default=None)   # the deepspeed launcher passes it
    cli = p.parse_args(argv)
    a = json.loads(Path(cli.args).read_text())

    import torch
    import deepspeed
    from transformers import GPTNeoXForCausalLM

    from . import checkpoint as ckpt
    from .data import SampleIndex
    from .metrics import MetricSink, device_peak_tflops, flops_per_token
    from .presets import PRESETS, hf_config

    on_gpu = a["device"] == "cuda"
    torch.use_deterministic_algorithms(not on_gpu)
    deepspeed.init_distributed(dist_backend="nccl" if on_gpu else "gloo")
    rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if on_gpu:
        torch.cuda.set_device(local_rank)

    preset = PRESETS[a["preset"]]
    torch.manual_seed(a["seed"])
    np.random.seed(a["seed"])
    config = hf_config(preset, a["vocab_size"], a["bos_id"], a["eos_id"])
    config._attn_implementation = "sdpa"
    if a.get("init_from"):       # continued pretraining from an HF GPT-NeoX checkpoint
        model = GPTNeoXForCausalLM.from_pretrained(a["init_from"], torch_dtype=torch.float32)
    else:
        model = GPTNeoXForCausalLM(config)
    if a.get("activation_checkpointing"):
        model.gradient_checkpointing_enable()
    n_params = sum(p.numel() for p in model.parameters())

    engine, _, _, _ = deepspeed.initialize(model=model, model_parameters=model.parameters(),
                                           config=_ds_config(a, world))
    ckpt_root = Path(a["checkpoint_dir"])
    start = 0
    resume = ckpt.latest(ckpt_root)
    if resume is not None:
        engine.load_checkpoint(str(ckpt_root), tag=ckpt.tag(resume))
        start = resume
    data = SampleIndex(Path(a["dataset_prefix"]), a["seq_length"], a["seed"])

    stop = {"signal": None}
    signal.signal(signal.SIGTERM, lambda s, f: stop.update(signal=s))   # preemption: checkpoint, then exit

    out_dir = Path(a["output_dir"])
    sink = None
    if rank == 0:
        out_dir.mkdir(parents=True, exist_ok=True)
        if resume is None and (out_dir / "metrics.jsonl").exists():
            (out_dir / "metrics.jsonl").unlink()
        _truncate_metrics(out_dir / "metrics.jsonl", start)
        sink = MetricSink(out_dir / "metrics.jsonl", a.get("mlflow_tracking_uri"), a.get("mlflow_run_id"))
        print(f"[train] {n_params:,} parameters, world {world}, steps {start}->{a['steps']}"
              f"{' (resumed)' if resume is not None else ''}", flush=True)

    device = engine.device
    tokens_per_step = a["micro_batch_size"] * a["grad_accum"] * world * a["seq_length"]
    fpt = flops_per_token(n_params, preset.layers, preset.hidden, a["seq_length"])
    peak = device_peak_tflops()
    last_loss = grad_norm = float("nan")
    t_last = time.time()

    def save(step: int) -> None:
        engine.save_checkpoint(str(ckpt_root), tag=ckpt.tag(step), client_state={"step": step})
        torch.distributed.barrier()
        if rank == 0:
            ckpt.mark_complete(ckpt_root, step)
            ckpt.prune(ckpt_root, keep=a.get("keep_checkpoints", 2))
        torch.distributed.barrier()

    step = start
    while step < a["steps"]:
        engine.train()
        loss_sum = torch.zeros((), dtype=torch.float32, device=device)
        for micro in range(a["grad_accum"]):
            batch = torch.from_numpy(data.batch(step, micro, rank, a["micro_batch_size"], world, a["grad_accum"]))
            batch = batch.to(device)
            logits = engine(input_ids=batch[:, :-1], use_cache=False).logits
            loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.size(-1)),
                                                     batch[:, 1:].reshape(-1))
            engine.backward(loss)
            if micro == a["grad_accum"] - 1 and a["zero_stage"] == 0:
                # Without ZeRO, DeepSpeed does not report the norm; gradients are already averaged here.
                grad_norm = torch.sqrt(sum(p.grad.detach().float().pow(2).sum() for p in engine.module.parameters()
                                           if p.grad is not None)).item()
            engine.step()
            loss_sum += loss.detach().float()
        step += 1
        torch.distributed.all_reduce(loss_sum)
        last_loss = loss_sum.item() / (a["grad_accum"] * world)
        if not math.isfinite(last_loss):
            raise RuntimeError(f"loss is {last_loss} at step {step}")
        if rank == 0 and (step % a["log_every"] == 0 or step == a["steps"] or step == start + 1):
            dt = max(time.time() - t_last, 1e-9)
            steps_done = a["log_every"] if step % a["log_every"] == 0 else 1
            tps = tokens_per_step * steps_done / dt
            rec = {"loss": last_loss, "lr": engine.get_lr()[0], "grad_norm": grad_norm if a["zero_stage"] == 0 else float(engine.get_global_grad_norm() or 0.0),
                   "tokens_per_s": tps, "tokens": step * tokens_per_step}
            if peak:
                rec["mfu"] = fpt * tps / world / (peak * 1e12)
            if on_gpu:
                rec["memory_gb"] = torch.cuda.max_memory_allocated() / 2**30
            sink.log(step, rec)
            t_last = time.time()
        if step % a["checkpoint_every"] == 0 or step == a["steps"] or stop["signal"]:
            save(step)
        if stop["signal"]:
            if rank == 0:
                print(f"[train] stopped by signal {stop['signal']} at step {step}; checkpoint saved", flush=True)
                sink.close()
            torch.distributed.destroy_process_group()
            return 143

    if rank == 0:
        _export(engine, out_dir / "hf", a)
        summary = {"final_loss": last_loss, "steps": step, "parameters": n_params, "world_size": world,
                   "tokens_seen": step * tokens_per_step}
        (out_dir / "train_summary.json").write_text(json.dumps(summary, indent=2))
        sink.close()
        print(f"[train] done: step {step}, loss {last_loss:.4f}", flush=True)
    torch.distributed.barrier()
    # Tear the process group down explicitly: left to interpreter exit, gloo's threads can abort the process
    # ("terminate called without an active exception") after the work is done.
    torch.distributed.destroy_process_group()
    return 0


def _truncate_metrics(path: Path, step: int) -> None:
    """After a resume, drop lines logged past the checkpoint: they are recomputed, never duplicated."""
    if not path.exists():
        return
    keep = [ln for ln in path.read_text().splitlines() if ln and json.loads(ln)["step"] <= step]
    path.write_text("".join(ln + "\n" for ln in keep))


def _export(engine, out: Path, a: dict) -> None:
    """A Hugging Face directory: safetensors weights, GPTNeoXConfig, generation config and the tokenizer."""
    import shutil

    import torch

    model = engine.module
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.float32).cpu().contiguous() for k, v in model.state_dict().items()}
    model.save_pretrained(str(out), state_dict=state, safe_serialization=True)
    tok = Path(a["tokenizer_dir"])
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (tok / name).exists():
            shutil.copyfile(tok / name, out / name)


if __name__ == "__main__":
    raise SystemExit(main())
