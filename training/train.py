"""The training loop: GPTNeoXForCausalLM under DeepSpeed, launched by torchrun (one process per device).

    torchrun --nproc_per_node N -m training.train --args ARGS.json      (ARGS may also be an s3:// URI)

Runs on CPU with gloo (tests, laptops) and on GPUs with NCCL, from the same code. Deterministic for a given
configuration; resumes from the newest complete checkpoint (local, else the object storage mirror) by itself.
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


def ds_config(a: dict, world: int) -> dict:
    """The DeepSpeed configuration for a resolved argument set (training/plan.py decided grad_accum)."""
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
        "zero_optimization": {"stage": a["zero_stage"],
                              # gather weights for export without writing a 16-bit copy at every save
                              "stage3_gather_16bit_weights_on_model_save": False},
        "bf16": {"enabled": a["precision"] == "bf16"},
    }


def load_args(where: str) -> dict:
    from components.contract.storage import Storage, is_s3
    text = Storage().read_bytes(where).decode() if is_s3(where) else Path(where).read_text()
    return json.loads(text)


def datasets_of(a: dict) -> list[dict]:
    if "datasets" in a:
        return a["datasets"]
    return [{"prefix": a["dataset_prefix"], "weight": 1.0}]


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--args", required=True)
    p.add_argument("--local_rank", type=int, default=None)   # the deepspeed launcher passes it
    a = load_args(p.parse_args(argv).args)

    import deepspeed
    import torch

    from . import checkpoint as ckpt
    from . import model as model_io
    from .data import open_blend
    from .metrics import MetricSink, device_peak_tflops, flops_per_token, memory_gb

    on_gpu = a["device"] == "cuda"
    torch.use_deterministic_algorithms(not on_gpu)
    # Filling every torch.empty with NaN (the deterministic mode's default) made ZeRO-1/2 steps 2.8x slower on CPU
    # (DeepSpeed allocates its flat buffers each step) and is not needed for repeatable results.
    torch.utils.deterministic.fill_uninitialized_memory = False
    deepspeed.init_distributed(dist_backend="nccl" if on_gpu else "gloo")
    rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if a.get("world_size") and a["world_size"] != world:
        raise RuntimeError(f"launched with {world} processes, but the config plans for {a['world_size']}")
    if on_gpu:
        torch.cuda.set_device(local_rank)

    torch.manual_seed(a["seed"])
    np.random.seed(a["seed"])
    dsc = ds_config(a, world)
    model = model_io.build(a, dsc)
    engine, _, _, _ = deepspeed.initialize(model=model, model_parameters=model.parameters(), config=dsc)
    n_params = model_io.parameter_count(engine)
    preset_layers, preset_hidden = model.config.num_hidden_layers, model.config.hidden_size

    ckpt_root = Path(a["checkpoint_dir"])
    mirror = None
    if a.get("checkpoint_uri"):
        from components.contract.storage import Storage

        from .remote import Mirror, download_latest
        storage = Storage(a.get("s3_endpoint_url"))
        if rank == 0:
            download_latest(storage, a["checkpoint_uri"], ckpt_root)
            mirror = Mirror(storage, a["checkpoint_uri"], a.get("keep_checkpoints", 2))
        torch.distributed.barrier()
    start = 0
    resume = ckpt.latest(ckpt_root)
    if resume is not None:
        engine.load_checkpoint(str(ckpt_root), tag=ckpt.tag(resume))
        start = resume
    cache_dir = Path(a.get("cache_dir") or ckpt_root / "data-cache")
    if local_rank == 0:      # one download per node; the others wait, then map the same files
        data = open_blend(datasets_of(a), a["seq_length"], a["seed"], cache_dir)
    torch.distributed.barrier()
    if local_rank != 0:
        data = open_blend(datasets_of(a), a["seq_length"], a["seed"], cache_dir)

    stop = {"signal": None}
    signal.signal(signal.SIGTERM, lambda s, f: stop.update(signal=s))   # preemption: checkpoint, then exit

    out_dir = Path(a["output_dir"])
    sink = None
    if rank == 0:
        out_dir.mkdir(parents=True, exist_ok=True)
        _truncate_metrics(out_dir / "metrics.jsonl", start if resume is not None else 0)
        sink = MetricSink(out_dir / "metrics.jsonl", a.get("mlflow_tracking_uri"), a.get("mlflow_run_id"))
        print(f"[train] {n_params:,} parameters, world {world}, grad_accum {a['grad_accum']}, "
              f"steps {start}->{a['steps']}{' (resumed)' if resume is not None else ''}", flush=True)

    device = engine.device
    tokens_per_step = a["micro_batch_size"] * a["grad_accum"] * world * a["seq_length"]
    fpt = flops_per_token(n_params, preset_layers, preset_hidden, a["seq_length"])
    peak = device_peak_tflops()
    last_loss = grad_norm = float("nan")
    t_last, steps_since = time.time(), 0

    def save(step: int) -> None:
        engine.save_checkpoint(str(ckpt_root), tag=ckpt.tag(step), client_state={"step": step})
        torch.distributed.barrier()
        if rank == 0:
            ckpt.mark_complete(ckpt_root, step)
            if mirror:
                mirror.wait()            # the previous upload must end before prune may remove its source
            ckpt.prune(ckpt_root, keep=a.get("keep_checkpoints", 2))
            if mirror:
                mirror.upload(ckpt_root, step)
        torch.distributed.barrier()

    def logs_at(s: int) -> bool:
        return s % a["log_every"] == 0 or s == a["steps"] or s == start + 1

    step = start
    while step < a["steps"]:
        engine.train()
        logging = rank == 0 and logs_at(step + 1)
        loss_sum = torch.zeros((), dtype=torch.float32, device=device)
        for micro in range(a["grad_accum"]):
            batch = torch.from_numpy(data.batch(step, micro, rank, a["micro_batch_size"], world, a["grad_accum"]))
            batch = batch.to(device)
            logits = engine(input_ids=batch[:, :-1], use_cache=False).logits
            loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.size(-1)),
                                                     batch[:, 1:].reshape(-1))
            engine.backward(loss)
            if micro == a["grad_accum"] - 1 and a["zero_stage"] == 0 and logging:
                grad_norm = _grad_norm(engine)
            engine.step()
            loss_sum += loss.detach().float()
        step += 1
        steps_since += 1
        # One all-reduce carries the loss and whether any rank got SIGTERM: all ranks must agree to save and
        # stop at the same step, or the save's collectives would hang.
        reduced = torch.stack([loss_sum, torch.tensor(float(stop["signal"] is not None), device=device)])
        torch.distributed.all_reduce(reduced)
        last_loss, stopping = reduced[0].item() / (a["grad_accum"] * world), reduced[1].item() > 0
        if not math.isfinite(last_loss):
            raise RuntimeError(f"loss is {last_loss} at step {step}")
        if logging:
            if a["zero_stage"] > 0:
                grad_norm = float(engine.get_global_grad_norm() or 0.0)
            tps = tokens_per_step * steps_since / max(time.time() - t_last, 1e-9)
            rec = {"loss": last_loss, "lr": engine.get_lr()[0], "grad_norm": grad_norm,
                   "tokens_per_s": tps, "tokens": step * tokens_per_step, "memory_gb": memory_gb(on_gpu)}
            if peak:
                rec["mfu"] = fpt * tps / world / (peak * 1e12)
            sink.log(step, rec)
            t_last, steps_since = time.time(), 0
        if step % a["checkpoint_every"] == 0 or step == a["steps"] or stopping:
            save(step)
        if stopping:
            if rank == 0:
                if mirror:
                    mirror.wait()
                print(f"[train] stopped by SIGTERM at step {step}; checkpoint saved", flush=True)
                sink.close()
            torch.distributed.destroy_process_group()
            return 143

    state = model_io.full_state_dict(engine, a["zero_stage"])
    if rank == 0:
        model_io.export(state, engine.module.config, out_dir / "hf",
                        Path(a["tokenizer_dir"]) if a.get("tokenizer_dir") else None,
                        a.get("export_dtype", "float32"))
        summary = {"final_loss": last_loss, "steps": step, "parameters": n_params, "world_size": world,
                   "tokens_seen": step * tokens_per_step, "tokens_per_step": tokens_per_step}
        (out_dir / "train_summary.json").write_text(json.dumps(summary, indent=2))
        if mirror:
            mirror.wait()
        sink.close()
        if a.get("output_uri"):
            _upload_outputs(out_dir, a)
        print(f"[train] done: step {step}, loss {last_loss:.4f}", flush=True)
    torch.distributed.barrier()
    # Tear the process group down explicitly: left to interpreter exit, gloo's threads can abort the process
    # ("terminate called without an active exception") after the work is done.
    torch.distributed.destroy_process_group()
    return 0


def _grad_norm(engine) -> float:
    # Without ZeRO, DeepSpeed does not report the norm; the gradients are already averaged over ranks here.
    import torch
    return torch.sqrt(sum(p.grad.detach().float().pow(2).sum() for p in engine.module.parameters()
                          if p.grad is not None)).item()


def _truncate_metrics(path: Path, step: int) -> None:
    """After a resume, drop lines logged past the checkpoint: they are recomputed, never duplicated."""
    if not path.exists():
        return
    keep = [ln for ln in path.read_text().splitlines() if ln and json.loads(ln)["step"] <= step]
    path.write_text("".join(ln + "\n" for ln in keep))


def _upload_outputs(out_dir: Path, a: dict) -> None:
    """Cluster runs: the pipeline's pretrain task reads the export from object storage; DONE goes last."""
    from components.contract.storage import Storage, join
    storage = Storage(a.get("s3_endpoint_url"))
    for f in sorted(p for p in out_dir.rglob("*") if p.is_file()):
        storage.put_file(f, join(a["output_uri"], str(f.relative_to(out_dir))))
    storage.write_bytes(join(a["output_uri"], "DONE"), b"")


if __name__ == "__main__":
    raise SystemExit(main())
