"""Training metrics to MLflow from rank 0, batched on a background thread so a slow server never stalls a step."""
from __future__ import annotations

import json
import queue
import threading
import time
from pathlib import Path

# Tries at recording one evaluated checkpoint as a LoggedModel (about a second apart).
MODEL_ATTEMPTS = 30

# metrics.jsonl's names -> MLflow's, grouped by prefix so the run's chart page has one section per group (and
# `system/` shows on MLflow's System metrics tab). A name that has a group already (forward_time/rank_000) is kept.
SYSTEM = ("memory_gb",)
RENAMED = {"eval_time_s": "eval/time_s"}


def mlflow_name(key: str, evaluation: bool = False) -> str:
    """The MLflow metric name of a metrics.jsonl key (evaluations.jsonl's, with `evaluation`)."""
    if "/" in key:
        return key
    if key in RENAMED:
        return RENAMED[key]
    if evaluation:
        return f"eval/{key}"
    return f"system/{key}" if key in SYSTEM else f"train/{key}"


# Dense bf16 peak of common accelerators, TFLOP/s, for model FLOPs utilisation.
PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L40S": 362.0, "A10": 125.0}


def flops_per_token(params: int, layers: int, hidden: int, seq_length: int) -> float:
    # 6N for the matmuls forward and backward, plus attention scores and values (PaLM appendix B).
    return 6 * params + 12 * layers * hidden * seq_length


def device_peak_tflops() -> float | None:
    import torch

    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name()
    return next((v for k, v in PEAK_TFLOPS.items() if k in name), None)


def memory_gb(on_gpu: bool) -> float:
    """Peak accelerator memory on GPU; resident memory of this process on CPU."""
    if on_gpu:
        import torch
        return torch.cuda.max_memory_allocated() / 2**30
    import psutil
    return psutil.Process().memory_info().rss / 2**30


class MetricSink:
    """Appends every record to metrics.jsonl at once; ships them to MLflow in batches in the background.

    An evaluation during training goes to evaluations.jsonl (beside metrics.jsonl) and, in MLflow, becomes a
    LoggedModel for its checkpoint (MLflow 3's deep-learning pattern: the run's outputs list one model per
    evaluated step, each carrying its scores), so checkpoints can be compared by score on the models page.
    """

    def __init__(self, path: Path, tracking_uri: str | None, run_id: str | None, flush_s: float = 2.0):
        self.file = open(path, "a", encoding="utf-8")
        self.evaluations_path, self.evaluations = path.with_name("evaluations.jsonl"), None
        self.q: queue.Queue = queue.Queue()
        self.run_id, self.tracking_uri, self.flush_s = run_id, tracking_uri, flush_s
        self._stop = threading.Event()
        self.thread = None
        if run_id and tracking_uri:
            self.thread = threading.Thread(target=self._ship, daemon=True)
            self.thread.start()

    def log(self, step: int, values: dict) -> None:
        self.file.write(json.dumps({"step": step, **values}) + "\n")
        self.file.flush()
        if self.thread:
            self.q.put((step, int(time.time() * 1000), values, None))

    def log_evaluation(self, step: int, values: dict, checkpoint: dict) -> None:
        """The scores of the checkpoint saved at `step` (checkpoint: where it is, for the LoggedModel's tags)."""
        if self.evaluations is None:
            self.evaluations = open(self.evaluations_path, "a", encoding="utf-8")
        self.evaluations.write(json.dumps({"step": step, **values, "checkpoint": checkpoint}) + "\n")
        self.evaluations.flush()
        if self.thread:
            self.q.put((step, int(time.time() * 1000), values, checkpoint))

    def _ship(self) -> None:
        from mlflow import MlflowClient
        from mlflow.entities import Metric

        client = MlflowClient(tracking_uri=self.tracking_uri)
        pending: list = []
        while not (self._stop.is_set() and self.q.empty() and not pending):
            try:
                while True:
                    step, ts, values, checkpoint = self.q.get(timeout=self.flush_s if not pending else 0.05)
                    model_id = self._logged_model(client, step, checkpoint) if checkpoint is not None else None
                    pending += [Metric(mlflow_name(k, checkpoint is not None), float(v), ts, step, model_id=model_id)
                                for k, v in values.items()]
                    if len(pending) >= 500:
                        break
            except queue.Empty:
                pass
            if pending:
                try:
                    client.log_batch(self.run_id, metrics=pending[:1000])
                    pending = pending[1000:]
                except Exception:          # server away: keep the batch and retry later, never lose it
                    if self._stop.is_set() and self._deadline_passed():
                        break
                    time.sleep(1.0)

    def _logged_model(self, client, step: int, checkpoint: dict) -> str | None:
        """A LoggedModel for the checkpoint of `step`, an output of the run at that step. Each of the three calls
        is retried on its own (a model created once is never created again), for MODEL_ATTEMPTS tries at most: a
        server that cannot keep LoggedModels must not hold the training metrics back. None: not recorded (the
        scores still reach the run)."""
        from mlflow.entities import LoggedModelOutput

        model_id, linked = None, False
        for _ in range(MODEL_ATTEMPTS):
            try:
                if model_id is None:
                    experiment = client.get_run(self.run_id).info.experiment_id
                    model_id = client.create_logged_model(
                        experiment_id=experiment, name=f"checkpoint-step{step:08d}", source_run_id=self.run_id,
                        model_type="deepspeed-checkpoint",
                        tags={f"polyglot_ko.checkpoint.{k}": str(v) for k, v in checkpoint.items()}).model_id
                if not linked:
                    client.log_outputs(self.run_id, [LoggedModelOutput(model_id, step)])
                    linked = True
                client.finalize_logged_model(model_id, "READY")
                return model_id
            except Exception:
                if self._stop.is_set() and self._deadline_passed():
                    break
                time.sleep(1.0)
        return model_id if linked else None

    def _deadline_passed(self) -> bool:
        return time.time() > getattr(self, "_deadline", float("inf"))

    def close(self, timeout_s: float = 60.0) -> None:
        self.file.close()
        if self.evaluations is not None:
            self.evaluations.close()
        if self.thread:
            self._deadline = time.time() + timeout_s
            self._stop.set()
            self.thread.join(timeout_s + 5)
