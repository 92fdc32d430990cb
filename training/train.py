"""The training loop: GPTNeoXForCausalLM under DeepSpeed, launched by torchrun (one process per device).

    torchrun --nproc_per_node N -m training.train --args ARGS.json      (ARGS may also be an s3:// URI)

Runs on CPU with gloo (tests, laptops) and on GPUs with NCCL, from the same code. Deterministic for a given
configuration; resumes from the newest complete checkpoint (local, else the object storage mirror) by itself.
Reads top to bottom: `Trainer.__init__` sets up the process group, takes the checkpoint directory's lock, plans
the resume (converting the checkpoint when the world size changed) and builds the model and engine; `resume`
loads the newest checkpoint; `open_data` maps the sample index (`stage_data` put the files in place before the
process group); `train` runs `step` until the budget is spent, checkpointing (`checkpoint`) on schedule and on
SIGTERM and evaluating the live weights every eval_every steps, then `export` writes the Hugging Face directory.
Every phase is watched (training/watchdog.py): a rank that stops making progress dumps its stacks and exits.
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import signal
import time
from pathlib import Path

import numpy as np

from .args import TrainArgs, load
from .watchdog import Watchdog


def ds_config(a: TrainArgs, load_universal: bool = False) -> dict:
    """The DeepSpeed configuration for a resolved argument set (training/plan.py decided grad_accum);
    `load_universal`: the checkpoint to resume from is a universal one (written by another world size)."""
    return {
        "checkpoint": {"load_universal": load_universal},
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
        deepspeed.init_distributed(dist_backend="nccl" if self.on_gpu else "gloo",
                                   timeout=datetime.timedelta(seconds=a.collective_timeout_s))
        self.rank, self.world = torch.distributed.get_rank(), torch.distributed.get_world_size()
        self.local_rank = int(os.environ.get("LOCAL_RANK", 0))
        if a.world_size != self.world:
            raise RuntimeError(f"launched with {self.world} processes, but the arguments plan for {a.world_size}")
        if self.on_gpu:
            torch.cuda.set_device(self.local_rank)
        self.watchdog = Watchdog(self.rank)
        self.ckpt_root = Path(a.checkpoint_dir)
        self.lock = None
        if self.rank == 0:
            from .lock import CheckpointLock
            self.lock = CheckpointLock(self.ckpt_root).acquire()
        self.watchdog.arm(a.collective_timeout_s, "resume: fetching and converting the checkpoint")
        self.mirror = None
        self.plan = self._plan_resume()

        torch.manual_seed(a.seed)
        np.random.seed(a.seed)
        dsc = ds_config(a, load_universal=bool(self.plan and self.plan.universal))
        model = model_io.build(a, dsc)
        self.engine, _, _, _ = deepspeed.initialize(model=model, model_parameters=model.parameters(), config=dsc)
        self.parameters = model_io.parameter_count(self.engine)
        self.flops_per_token = flops_per_token(self.parameters, model.config.num_hidden_layers,
                                               model.config.hidden_size, a.seq_length)
        self.peak_tflops = device_peak_tflops()
        self.out_dir = Path(a.output_dir)
        self.global_batch = a.micro_batch_size * a.grad_accum * a.world_size
        self.start = 0
        self.resumed = False
        self.live = None
        self.stop = {"signal": None}      # set by the SIGTERM handler (which must not hold the trainer itself)

    # -- resume ----------------------------------------------------------------------------------------------
    def _plan_resume(self):
        """Rank 0 brings the mirror's newest checkpoint to the volume (if newer) and, when it was written by
        another world size, converts it to a universal checkpoint; then every rank reads the same plan."""
        from . import checkpoint as ckpt

        a = self.a
        global_batch = a.micro_batch_size * a.grad_accum * a.world_size
        if self.rank == 0:
            if a.checkpoint_uri:
                from components.contract.storage import Storage

                from .remote import Mirror, download_latest
                storage = Storage(a.s3_endpoint_url)
                download_latest(storage, a.checkpoint_uri, self.ckpt_root)
                self.mirror = Mirror(storage, a.checkpoint_uri, a.keep_checkpoints)
            plan = ckpt.plan(self.ckpt_root, self.world, global_batch)
            if plan and plan.universal:
                t0 = time.time()
                ckpt.to_universal(self.ckpt_root, plan.step)
                print(f"[train] the checkpoint at step {plan.step} was written by {plan.from_world} processes, this "
                      f"run has {self.world}: converted to a universal checkpoint in {time.time() - t0:.1f}s",
                      flush=True)
        else:
            plan = None
        # rank 0's plan for every rank: another node's view of a shared volume may lag behind what rank 0 just
        # downloaded or converted
        box = [plan]
        self.torch.distributed.broadcast_object_list(box, src=0)
        return box[0]

    def resume(self) -> None:
        """Load the checkpoint the plan chose (the same-size one, or its universal conversion)."""
        from . import checkpoint as ckpt

        if self.plan is not None:
            self.engine.load_checkpoint(str(self.plan.load_dir), tag=ckpt.tag(self.plan.step))
            self.start, self.resumed = self.plan.step, True

    def open_data(self) -> None:
        """Map the sample index (the files are in place: `stage_data` ran before the process group)."""
        from .data import open_blend

        a = self.a
        self.data = open_blend(a.datasets, a.seq_length, a.seed, Path(a.cache_dir))
        self.live = None
        if a.eval_every:
            from .live_eval import LiveEval
            self.live = LiveEval(a, self.engine, self.rank, self.world, Path(a.cache_dir))

    # -- one optimizer step ----------------------------------------------------------------------------------
    def step(self, step: int, want_grad_norm: bool) -> tuple[float, bool, float, list[float]]:
        """Optimizer step `step` (0-based): (mean loss over ranks and micro-steps, whether any rank got SIGTERM,
        the gradient norm when asked for, every rank's forward time in seconds)."""
        torch, a, engine = self.torch, self.a, self.engine
        engine.train()
        grad_norm = float("nan")
        loss_sum = torch.zeros((), dtype=torch.float32, device=engine.device)
        forward_s = 0.0
        for micro in range(a.grad_accum):
            # (micro_batch, seq_length + 1) token ids: inputs are [:, :-1], labels the same shifted by one
            t0 = time.perf_counter()
            batch = torch.from_numpy(self.data.batch(step, micro, self.rank, a.micro_batch_size, self.world,
                                                     a.grad_accum)).to(engine.device)
            logits = engine(input_ids=batch[:, :-1], use_cache=False).logits      # (micro_batch, seq, vocab)
            loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.size(-1)),
                                                     batch[:, 1:].reshape(-1))
            if self.on_gpu:
                torch.cuda.synchronize()
            # data + forward involve no collective under ZeRO-1/2: a slow rank (a throttled GPU, a slow volume)
            # shows here, where the step's wall time is the same on every rank (they wait for each other)
            forward_s += time.perf_counter() - t0
            engine.backward(loss)
            if micro == a.grad_accum - 1 and a.zero_stage == 0 and want_grad_norm:
                grad_norm = _grad_norm(engine)
            engine.step()
            loss_sum += loss.detach().float()
        # One all-reduce carries the loss, whether any rank got SIGTERM (all ranks must agree to save and stop at
        # the same step, or the save's collectives would hang) and each rank's forward time (slot 2 + rank).
        reduced = torch.zeros(2 + self.world, dtype=torch.float32, device=engine.device)
        reduced[0] = loss_sum
        reduced[1] = float(self.stop["signal"] is not None)
        reduced[2 + self.rank] = forward_s
        torch.distributed.all_reduce(reduced)
        loss = reduced[0].item() / (a.grad_accum * self.world)
        if not math.isfinite(loss):
            raise RuntimeError(f"loss is {loss} at step {step + 1}")
        if want_grad_norm and a.zero_stage > 0:
            grad_norm = float(engine.get_global_grad_norm() or 0.0)
        return loss, reduced[1].item() > 0, grad_norm, reduced[2:].tolist()

    # -- checkpoints -----------------------------------------------------------------------------------------
    def checkpoint(self, step: int) -> None:
        """Every rank saves its shard; then rank 0 marks the checkpoint complete, prunes, and mirrors it."""
        from . import checkpoint as ckpt

        self.watchdog.arm(self.a.collective_timeout_s, f"saving the checkpoint of step {step}")
        self.engine.save_checkpoint(str(self.ckpt_root), tag=ckpt.tag(step), client_state={"step": step})
        self.torch.distributed.barrier()
        if self.rank == 0:
            ckpt.mark_complete(self.ckpt_root, step, world_size=self.world, global_batch=self.global_batch,
                               partitioned=self.a.zero_stage > 0 or self.a.precision == "bf16")
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
            _truncate_metrics(self.out_dir / "evaluations.jsonl", self.start)
            sink = MetricSink(self.out_dir / "metrics.jsonl", a.mlflow_tracking_uri, a.mlflow_run_id)
            print(f"[train] {self.parameters:,} parameters, world {self.world}, grad_accum {a.grad_accum}, "
                  f"steps {self.start}->{a.steps}{' (resumed)' if self.resumed else ''}", flush=True)
            progress = Progress("train", total=a.steps, unit="steps", start=self.start, stream="stdout")

        if self.live is not None and self.resumed and self.live.due(self.start) and \
                not self._evaluated(self.start):
            self.evaluate(self.start, sink)      # killed between that checkpoint and its evaluation
        t_last, steps_since, loss = time.time(), 0, float("nan")
        step = self.start
        while step < a.steps:
            logging = self.rank == 0 and ((step + 1) % a.log_every == 0 or step + 1 in (a.steps, self.start + 1))
            self.watchdog.arm(a.step_timeout_s, f"step {step + 1}")
            loss, stopping, grad_norm, forward_s = self.step(step, want_grad_norm=logging)
            step += 1
            steps_since += 1
            if logging:
                elapsed = max(time.time() - t_last, 1e-9)
                tps = a.tokens_per_step * steps_since / elapsed
                rec = {"loss": loss, "lr": self.engine.get_lr()[0], "grad_norm": grad_norm, "tokens_per_s": tps,
                       "tokens": step * a.tokens_per_step, "memory_gb": memory_gb(self.on_gpu),
                       "step_time_s": elapsed / steps_since, **_rank_times(forward_s)}
                if self.peak_tflops:
                    rec["mfu"] = self.flops_per_token * tps / self.world / (self.peak_tflops * 1e12)
                sink.log(step, rec)
                t_last, steps_since = time.time(), 0
            if progress:
                seen = (step - self.start) * a.tokens_per_step
                progress.set(step, loss=f"{loss:.4f}", **{"tokens/s": f"{seen / max(progress.elapsed, 1e-9):,.0f}"})
            evaluating = self.live is not None and self.live.due(step) and not stopping
            if step % a.checkpoint_every == 0 or step == a.steps or stopping or evaluating:
                self.checkpoint(step)
            if evaluating:
                t0 = time.time()
                self.evaluate(step, sink)
                t_last += time.time() - t0        # the evaluation's time is not training throughput
            if stopping:
                if progress:
                    progress.close()
                if self.rank == 0:
                    if self.mirror:
                        self.mirror.wait()
                    print(f"[train] stopped by SIGTERM at step {step}; checkpoint saved", flush=True)
                    sink.close()
                self.close()
                return 143
        if progress:
            progress.close()
        self.export(step, loss, sink)
        return 0

    def _evaluated(self, step: int) -> bool:
        """Whether the evaluation of checkpoint `step` was started (its marker, in the checkpoint directory on the
        shared volume, which outlives a pod; rank 0 looks, every rank gets the answer). Started counts: an
        evaluation that itself killed the job is not retried forever."""
        from . import checkpoint as ckpt

        flag = self.torch.zeros(1, device=self.engine.device)
        if self.rank == 0:
            flag[0] = float((self.ckpt_root / ckpt.tag(step) / EVALUATED).exists())
        self.torch.distributed.broadcast(flag, src=0)
        return bool(flag.item())

    def evaluate(self, step: int, sink) -> None:
        """Score the live weights (checkpointed at this step): the step's metrics and a LoggedModel for it."""
        from . import checkpoint as ckpt
        from .live_eval import metrics

        a = self.a
        self.watchdog.arm(a.collective_timeout_s, f"evaluating step {step}")
        if self.rank == 0:
            (self.ckpt_root / ckpt.tag(step) / EVALUATED).write_text(str(step))
        t0 = time.time()
        result = self.live.run()
        if self.rank == 0:
            values = {**metrics(result), "eval_time_s": time.time() - t0}
            where = {"step": step, "tag": ckpt.tag(step), "dir": str(self.ckpt_root / ckpt.tag(step))}
            if a.checkpoint_uri:
                where["uri"] = f"{a.checkpoint_uri.rstrip('/')}/{ckpt.tag(step)}"
            sink.log_evaluation(step, values, where)
            shown = ", ".join(f"{k} {v:.4f}" for k, v in values.items() if k in ("validation_loss", "kobest_mean_f1"))
            print(f"[train] eval at step {step}: {shown} ({values['eval_time_s']:.1f}s)", flush=True)

    def close(self) -> None:
        self.watchdog.disarm()
        if self.live is not None:
            self.live.close()
        if self.lock is not None:
            self.lock.release()
        # Tear the process group down explicitly: left to interpreter exit, gloo's threads can abort the process
        # ("terminate called without an active exception") after the work is done.
        self.torch.distributed.destroy_process_group()

    # -- the result ------------------------------------------------------------------------------------------
    def export(self, step: int, loss: float, sink) -> None:
        """The Hugging Face directory and the run's summary (rank 0); under ZeRO-3 every rank helps gather."""
        from . import model as model_io

        a = self.a
        self.watchdog.arm(a.collective_timeout_s, "exporting the model")
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
        self.close()


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--args", required=True)
    p.add_argument("--local_rank", type=int, default=None)   # the deepspeed launcher passes it
    from .lifeline import die_with_parent, watch_parent

    die_with_parent()                          # the launcher died: SIGTERM, i.e. checkpoint and exit
    watch_parent(grace_s=LAUNCHER_GONE_GRACE_S)
    a = load(p.parse_args(argv).args)
    a = stage_data(a)
    trainer = Trainer(a)
    trainer.resume()
    trainer.open_data()
    return trainer.train()


# In a checkpoint's directory once its evaluation has started.
EVALUATED = "EVALUATED"
# After its launcher is gone, a worker gets this long to checkpoint and exit before it ends itself.
LAUNCHER_GONE_GRACE_S = 300


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
    first_node = fetch and int(os.environ.get("GROUP_RANK", 0)) == 0
    if a.init_from and a.init_from.startswith("s3://"):
        local = stage_model(a.init_from, a.s3_endpoint_url, Path(a.cache_dir), fetch=first_node)
        a = dataclasses.replace(a, init_from=str(local))
    if a.eval_every:        # evaluation during training: the validation split, and the tokenizer for KoBEST
        if a.eval_tokens:
            try:
                stage(a.datasets[:1], Path(a.cache_dir), node=int(os.environ.get("GROUP_RANK", 0)), nodes=a.nodes,
                      fetch=fetch, split="validation", max_tokens=a.eval_tokens + 1)
            except ValueError:       # no validation segment: live_eval says so and scores KoBEST only
                pass
        if a.kobest_dir and a.tokenizer_uri.startswith("s3://"):
            local = stage_model(a.tokenizer_uri, a.s3_endpoint_url, Path(a.cache_dir), fetch=first_node)
            a = dataclasses.replace(a, tokenizer_uri=str(local))
    return a


def _rank_times(forward_s: list[float]) -> dict:
    """Each rank's forward time of the step (forward_time/rank_NNN), the slowest rank and its lead over the
    median: a straggler is the rank whose time stands out while the others wait for it."""
    ordered = sorted(forward_s)
    median = ordered[len(ordered) // 2]
    slowest = max(range(len(forward_s)), key=forward_s.__getitem__)
    out = {f"forward_time/rank_{r:03d}": t for r, t in enumerate(forward_s)}
    out.update({"forward_time/slowest_rank": slowest,
                "forward_time/max_over_median": forward_s[slowest] / median if median > 0 else 1.0})
    return out


def _grad_norm(engine) -> float:
    # Without ZeRO, DeepSpeed does not report the norm; the gradients are already averaged over ranks here.
    import torch
    return torch.sqrt(sum(p.grad.detach().float().pow(2).sum() for p in engine.module.parameters()
                          if p.grad is not None)).item()


def _truncate_metrics(path: Path, step: int) -> None:
    """After a resume, drop lines logged past the checkpoint: they are recomputed, never duplicated."""
    if not path.exists():
        return
    keep = [ln for ln in path.read_text().splitlines() if (r := _record(ln)) is not None and r["step"] <= step]
    path.write_text("".join(ln + "\n" for ln in keep))


def _record(line: str) -> dict | None:
    """A metrics line, or None for a torn one (the node died mid-write): it is recomputed like the rest."""
    try:
        return json.loads(line) if line.strip() else None
    except ValueError:
        return None


def _upload_outputs(out_dir: Path, a: TrainArgs) -> None:
    """Cluster runs: the pipeline's pretrain task reads the export from object storage; DONE goes last."""
    from components.contract.storage import Storage, join
    storage = Storage(a.s3_endpoint_url)
    for f in sorted(p for p in out_dir.rglob("*") if p.is_file()):
        storage.put_file(f, join(a.output_uri, str(f.relative_to(out_dir))))
    storage.write_bytes(join(a.output_uri, "DONE"), b"")


if __name__ == "__main__":
    raise SystemExit(main())
