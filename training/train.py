"""The training loop: GPTNeoXForCausalLM under DeepSpeed, launched by torchrun (one process per device).

    torchrun --nproc_per_node N -m training.train --args ARGS.json      (ARGS may also be an s3:// URI)

Runs on CPU with gloo (tests, laptops) and on GPUs with NCCL, from the same code. Deterministic for a given
configuration; resumes from the newest complete checkpoint (local, else the object storage mirror) by itself.
Reads top to bottom: `Trainer.__init__` sets up the process group, model and engine; `resume` finds the newest
checkpoint; `open_data` maps the sample index (`stage_data` put the files in place before the process group); `train` runs `step` until the budget is spent, checkpointing
(`checkpoint`) on schedule and on SIGTERM, then `export` writes the Hugging Face directory.
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

from .args import TrainArgs, load


def ds_config(a: TrainArgs) -> dict:
    """The DeepSpeed configuration for a resolved argument set (training/plan.py decided grad_accum)."""
    return {
        "train_micro_batch_size_per_gpu": a.micro_batch_size,
        "gradient_accumulation_steps": a.grad_accum,
        "train_batch_size": a.micro_batch_size * a.grad_accum * a.world_size,
        "gradient_clipping": a.grad_clip,
        "steps_per_print": 10**9,
        "wall_clock_breakdown": False,
        "optimizer": {"type": "AdamW", "params": {"lr": a.lr, "betas": [0.9, 0.95], "eps": 1e-8,
                                                  "weight_decay": a.weight_decay, "torch_adam": True}},
        "scheduler": {"type": "WarmupCosineLR", "params": {
            "total_num_steps": max(a.steps, a.warmup_steps + 1), "warmup_num_steps": a.warmup_steps,
            "warmup_min_ratio": 0.0, "cos_min_ratio": a.min_lr / a.lr, "warmup_type": "linear"}},
        "zero_optimization": {"stage": a.zero_stage,
                              # gather weights for export without writing a 16-bit copy at every save
                              "stage3_gather_16bit_weights_on_model_save": False},
        "bf16": {"enabled": a.precision == "bf16"},
    }


class Trainer:
    def __init__(self, a: TrainArgs):
        import deepspeed
        import torch

        from . import model as model_io
        from .metrics import device_peak_tflops, flops_per_token

        self.a, self.torch = a, torch
        self.on_gpu = a.device == "cuda"
        torch.use_deterministic_algorithms(not self.on_gpu)
        # Filling every torch.empty with NaN (the deterministic mode's default) made ZeRO-1/2 steps 2.8x slower on
        # CPU (DeepSpeed allocates its flat buffers each step) and is not needed for repeatable results.
        torch.utils.deterministic.fill_uninitialized_memory = False
        deepspeed.init_distributed(dist_backend="nccl" if self.on_gpu else "gloo")
        self.rank, self.world = torch.distributed.get_rank(), torch.distributed.get_world_size()
        self.local_rank = int(os.environ.get("LOCAL_RANK", 0))
        if a.world_size != self.world:
            raise RuntimeError(f"launched with {self.world} processes, but the arguments plan for {a.world_size}")
        if self.on_gpu:
            torch.cuda.set_device(self.local_rank)

        torch.manual_seed(a.seed)
        np.random.seed(a.seed)
        dsc = ds_config(a)
        model = model_io.build(a, dsc)
        self.engine, _, _, _ = deepspeed.initialize(model=model, model_parameters=model.parameters(), config=dsc)
        self.parameters = model_io.parameter_count(self.engine)
        self.flops_per_token = flops_per_token(self.parameters, model.config.num_hidden_layers,
                                               model.config.hidden_size, a.seq_length)
        self.peak_tflops = device_peak_tflops()
        self.ckpt_root = Path(a.checkpoint_dir)
        self.out_dir = Path(a.output_dir)
        self.mirror = None
        self.start = 0
        self.resumed = False
        self.stop = {"signal": None}      # set by the SIGTERM handler (which must not hold the trainer itself)

    # -- resume ----------------------------------------------------------------------------------------------
    def resume(self) -> None:
        """Load the newest complete checkpoint: the local volume's, or the object storage mirror's if newer."""
        from . import checkpoint as ckpt

        a = self.a
        if a.checkpoint_uri:
            from components.contract.storage import Storage

            from .remote import Mirror, download_latest
            storage = Storage(a.s3_endpoint_url)
            if self.rank == 0:
                download_latest(storage, a.checkpoint_uri, self.ckpt_root)
                self.mirror = Mirror(storage, a.checkpoint_uri, a.keep_checkpoints)
            self.torch.distributed.barrier()
        latest = ckpt.latest(self.ckpt_root)
        if latest is not None:
            self.engine.load_checkpoint(str(self.ckpt_root), tag=ckpt.tag(latest))
            self.start, self.resumed = latest, True

    def open_data(self) -> None:
        """Map the sample index (the files are in place: `stage_data` ran before the process group)."""
        from .data import open_blend

        a = self.a
        self.data = open_blend(a.datasets, a.seq_length, a.seed, Path(a.cache_dir))

    # -- one optimizer step ----------------------------------------------------------------------------------
    def step(self, step: int, want_grad_norm: bool) -> tuple[float, bool, float]:
        """Optimizer step `step` (0-based): (mean loss over ranks and micro-steps, whether any rank got SIGTERM,
        the gradient norm when asked for)."""
        torch, a, engine = self.torch, self.a, self.engine
        engine.train()
        grad_norm = float("nan")
        loss_sum = torch.zeros((), dtype=torch.float32, device=engine.device)
        for micro in range(a.grad_accum):
            # (micro_batch, seq_length + 1) token ids: inputs are [:, :-1], labels the same shifted by one
            batch = torch.from_numpy(self.data.batch(step, micro, self.rank, a.micro_batch_size, self.world,
                                                     a.grad_accum)).to(engine.device)
            logits = engine(input_ids=batch[:, :-1], use_cache=False).logits      # (micro_batch, seq, vocab)
            loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.size(-1)),
                                                     batch[:, 1:].reshape(-1))
            engine.backward(loss)
            if micro == a.grad_accum - 1 and a.zero_stage == 0 and want_grad_norm:
                grad_norm = _grad_norm(engine)
            engine.step()
            loss_sum += loss.detach().float()
        # One all-reduce carries the loss and whether any rank got SIGTERM: all ranks must agree to save and
        # stop at the same step, or the save's collectives would hang.
        reduced = torch.stack([loss_sum, torch.tensor(float(self.stop["signal"] is not None), device=engine.device)])
        torch.distributed.all_reduce(reduced)
        loss = reduced[0].item() / (a.grad_accum * self.world)
        if not math.isfinite(loss):
            raise RuntimeError(f"loss is {loss} at step {step + 1}")
        if want_grad_norm and a.zero_stage > 0:
            grad_norm = float(engine.get_global_grad_norm() or 0.0)
        return loss, reduced[1].item() > 0, grad_norm

    # -- checkpoints -----------------------------------------------------------------------------------------
    def checkpoint(self, step: int) -> None:
        """Every rank saves its shard; then rank 0 marks the checkpoint complete, prunes, and mirrors it."""
        from . import checkpoint as ckpt

        self.engine.save_checkpoint(str(self.ckpt_root), tag=ckpt.tag(step), client_state={"step": step})
        self.torch.distributed.barrier()
        if self.rank == 0:
            ckpt.mark_complete(self.ckpt_root, step)
            if self.mirror:
                self.mirror.wait()            # the previous upload must end before prune may remove its source
            ckpt.prune(self.ckpt_root, keep=self.a.keep_checkpoints)
            if self.mirror:
                self.mirror.upload(self.ckpt_root, step)
        self.torch.distributed.barrier()

    # -- the loop --------------------------------------------------------------------------------------------
    def train(self) -> int:
        from .metrics import MetricSink, memory_gb
        from components.contract.progress import Progress

        a = self.a
        stop = self.stop
        signal.signal(signal.SIGTERM, lambda s, f: stop.update(signal=s))   # preemption: checkpoint, then exit
        sink = progress = None
        if self.rank == 0:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            _truncate_metrics(self.out_dir / "metrics.jsonl", self.start)
            sink = MetricSink(self.out_dir / "metrics.jsonl", a.mlflow_tracking_uri, a.mlflow_run_id)
            print(f"[train] {self.parameters:,} parameters, world {self.world}, grad_accum {a.grad_accum}, "
                  f"steps {self.start}->{a.steps}{' (resumed)' if self.resumed else ''}", flush=True)
            progress = Progress("train", total=a.steps, unit="steps", start=self.start, stream="stdout")

        t_last, steps_since, loss = time.time(), 0, float("nan")
        step = self.start
        while step < a.steps:
            logging = self.rank == 0 and ((step + 1) % a.log_every == 0 or step + 1 in (a.steps, self.start + 1))
            loss, stopping, grad_norm = self.step(step, want_grad_norm=logging)
            step += 1
            steps_since += 1
            if logging:
                tps = a.tokens_per_step * steps_since / max(time.time() - t_last, 1e-9)
                rec = {"loss": loss, "lr": self.engine.get_lr()[0], "grad_norm": grad_norm, "tokens_per_s": tps,
                       "tokens": step * a.tokens_per_step, "memory_gb": memory_gb(self.on_gpu)}
                if self.peak_tflops:
                    rec["mfu"] = self.flops_per_token * tps / self.world / (self.peak_tflops * 1e12)
                sink.log(step, rec)
                t_last, steps_since = time.time(), 0
            if progress:
                seen = (step - self.start) * a.tokens_per_step
                progress.set(step, loss=f"{loss:.4f}", **{"tokens/s": f"{seen / max(progress.elapsed, 1e-9):,.0f}"})
            if step % a.checkpoint_every == 0 or step == a.steps or stopping:
                self.checkpoint(step)
            if stopping:
                if progress:
                    progress.close()
                if self.rank == 0:
                    if self.mirror:
                        self.mirror.wait()
                    print(f"[train] stopped by SIGTERM at step {step}; checkpoint saved", flush=True)
                    sink.close()
                self.torch.distributed.destroy_process_group()
                return 143
        if progress:
            progress.close()
        self.export(step, loss, sink)
        return 0

    # -- the result ------------------------------------------------------------------------------------------
    def export(self, step: int, loss: float, sink) -> None:
        """The Hugging Face directory and the run's summary (rank 0); under ZeRO-3 every rank helps gather."""
        from . import model as model_io

        a = self.a
        state = model_io.full_state_dict(self.engine, a.zero_stage)
        if self.rank == 0:
            model_io.export(state, self.engine.module.config, self.out_dir / "hf", a.export_dtype)
            summary = {"final_loss": loss, "steps": step, "parameters": self.parameters, "world_size": self.world,
                       "tokens_seen": step * a.tokens_per_step, "tokens_per_step": a.tokens_per_step}
            (self.out_dir / "train_summary.json").write_text(json.dumps(summary, indent=2))
            if self.mirror:
                self.mirror.wait()
            sink.close()
            if a.output_uri:
                _upload_outputs(self.out_dir, a)
            print(f"[train] done: step {step}, loss {loss:.4f}", flush=True)
        self.torch.distributed.barrier()
        # Tear the process group down explicitly: left to interpreter exit, gloo's threads can abort the process
        # ("terminate called without an active exception") after the work is done.
        self.torch.distributed.destroy_process_group()


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--args", required=True)
    p.add_argument("--local_rank", type=int, default=None)   # the deepspeed launcher passes it
    a = load(p.parse_args(argv).args)
    a = stage_data(a)
    trainer = Trainer(a)
    trainer.resume()
    trainer.open_data()
    return trainer.train()


def stage_data(a: TrainArgs) -> TrainArgs:
    """The datasets (and an init_from model on object storage) on the shared volume before the process group
    exists: no rank waits on staging inside a collective (DeepSpeed's 30-minute timeout). One process per node
    fetches that node's share; all wait for the rest. torchrun's GROUP_RANK is the node. Returns the arguments
    with init_from pointing at the staged copy."""
    import dataclasses

    from .data import stage, stage_model

    if a.nodes > 1 and "GROUP_RANK" not in os.environ:
        raise RuntimeError("training on several nodes needs torchrun's GROUP_RANK (which node this is) to stage "
                           "the data")
    fetch = int(os.environ.get("LOCAL_RANK", 0)) == 0
    t0 = time.time()
    done = stage(a.datasets, Path(a.cache_dir), node=int(os.environ.get("GROUP_RANK", 0)), nodes=a.nodes,
                 fetch=fetch)
    if fetch and done["staged"]:
        print(f"[train] data: {done['staged']} files in {a.cache_dir}, {done['files']} fetched by this node "
              f"({done['bytes'] / 1e9:.2f} GB) in {time.time() - t0:.0f}s", flush=True)
    if a.init_from and a.init_from.startswith("s3://"):
        local = stage_model(a.init_from, a.s3_endpoint_url, Path(a.cache_dir),
                            fetch=fetch and int(os.environ.get("GROUP_RANK", 0)) == 0)
        a = dataclasses.replace(a, init_from=str(local))
    return a


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


def _upload_outputs(out_dir: Path, a: TrainArgs) -> None:
    """Cluster runs: the pipeline's pretrain task reads the export from object storage; DONE goes last."""
    from components.contract.storage import Storage, join
    storage = Storage(a.s3_endpoint_url)
    for f in sorted(p for p in out_dir.rglob("*") if p.is_file()):
        storage.put_file(f, join(a.output_uri, str(f.relative_to(out_dir))))
    storage.write_bytes(join(a.output_uri, "DONE"), b"")


if __name__ == "__main__":
    raise SystemExit(main())
