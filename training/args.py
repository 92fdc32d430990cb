"""What the trainer is told: one frozen dataclass, built by one function from the pretrain config and the input
artifacts, serialised to JSON for the processes (and the pods) that train.

The pipeline's pretrain stage, `polyglot-ko train-job`, the tests, the drills and the benchmarks all build their
arguments with `build`, so a test of the trainer exercises what the pipeline passes. Defaults live once, in the
config (components/contract/config.py: PretrainConfig); nothing here or in the trainer repeats them.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from components.contract.artifact import Artifact
from components.contract.config import PretrainConfig
from components.contract.kinds import TokenizedDataset, Tokenizer
from components.contract.typed import Mismatch, build as build_typed

from .plan import resolve

# Polyglot-Ko's bos is id 0 (<pad>); eos is the end-of-document token (POLYGLOT-KO.md sections 2-3).
BOS_ID = 0


@dataclass(frozen=True, kw_only=True)
class DatasetRef:
    uri: str                        # a TokenizedDataset artifact: its directory, local or s3://
    weight: float                   # relative share of training samples
    endpoint_url: str | None        # object storage endpoint for s3:// (None: AWS_ENDPOINT_URL)
    exclude: str | None = None      # a TokenizedDataset whose segments are left out (trained on before)


@dataclass(frozen=True, kw_only=True)
class TrainArgs:
    # the model
    preset: str                     # training/presets.py; ignored with init_from
    init_from: str | None           # continued pretraining: an HF GPT-NeoX directory or hub id
    vocab_size: int                 # embedding rows: the tokenizer's padded vocabulary
    bos_id: int
    eos_id: int                     # the end-of-document token every document ends with
    attention: str
    activation_checkpointing: bool
    # the data
    datasets: list[DatasetRef]      # blended by weight; the pipeline's own dataset first
    seq_length: int
    seed: int
    # batch and schedule (training/plan.py resolved them)
    nodes: int
    nproc: int                      # processes per node
    world_size: int
    micro_batch_size: int
    grad_accum: int
    steps: int
    lr: float
    min_lr: float
    warmup_steps: int
    weight_decay: float
    grad_clip: float
    # the engine
    device: str
    zero_stage: int
    precision: str
    # checkpoints
    checkpoint_dir: str             # shared by every node (DeepSpeed reloads each rank's shard from it)
    checkpoint_every: int
    keep_checkpoints: int
    checkpoint_uri: str | None      # object storage mirror of complete checkpoints
    # outputs
    output_dir: str                 # rank 0 writes the export, metrics.jsonl and train_summary.json here
    output_uri: str | None          # Kubernetes: where the pods upload output_dir for the pipeline task
    export_dtype: str
    cache_dir: str                  # datasets from object storage are staged here (shared by the nodes)
    # evaluation during training (training/live_eval.py); eval_every 0: none
    eval_every: int
    eval_tasks: list[str]           # KoBEST tasks scored on the live weights
    eval_shots: int
    eval_limit: int | None
    eval_tokens: int                # validation tokens for validation_loss
    eval_batch_size: int
    kobest_dir: str | None          # the KoBEST TSVs (evaluate.kobest_dir); None: validation loss only
    tokenizer_uri: str              # the Tokenizer artifact (local or s3://): KoBEST prompts are encoded with it
    # faults (training/watchdog.py)
    step_timeout_s: int
    collective_timeout_s: int
    # tracking
    log_every: int
    mlflow_tracking_uri: str | None
    mlflow_run_id: str | None       # the pretrain stage's run: step metrics go there
    s3_endpoint_url: str | None

    @property
    def tokens_per_step(self) -> int:
        return self.micro_batch_size * self.grad_accum * self.world_size * self.seq_length

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> "TrainArgs":
        try:
            return build_typed(cls, json.loads(text))
        except Mismatch as e:
            raise ValueError(f"train_args: {e}") from None


def init_from(value: str | None, endpoint_url: str | None, tokenizer: Artifact[Tokenizer]) -> str | None:
    """What the trainer loads for `pretrain.init_from`: a TrainedModel artifact's Hugging Face directory (local,
    or on object storage: the trainer stages it), else the value as it is (a directory or a hub id). A
    TrainedModel must have been trained with this run's tokenizer: the same row count is not the same vocabulary."""
    if not value:
        return None
    if value == "champion":
        from components.errors import UserError
        raise UserError("pretrain.init_from: `champion` is resolved when a pipeline run begins (polyglot-ko run, or "
                        "begin); give a TrainedModel artifact's URI or a model directory")
    from components.contract.manifest import read_manifest
    from components.contract.storage import Storage
    manifest = read_manifest(Storage(endpoint_url), value)
    if manifest is None:
        return value
    from components.errors import UserError
    if manifest.kind != "TrainedModel":
        raise UserError(f"pretrain.init_from: {value} is a {manifest.kind}, not a TrainedModel")
    theirs = next((i.digest for i in manifest.inputs if i.role == "tokenizer"), None)
    if theirs and theirs != tokenizer.digest:
        raise UserError(f"pretrain.init_from: {value} was trained with tokenizer {theirs[:12]}, this run's is "
                        f"{tokenizer.digest[:12]}: take its tokenizer (train_tokenizer.reuse) to continue from it")
    return manifest.file_uri("hf")


def seen_dataset(cfg: PretrainConfig, endpoint_url: str | None) -> str | None:
    """With `train_on: new`, the dataset the init_from TrainedModel was trained on (its segments are left out)."""
    if cfg.train_on != "new" or not cfg.init_from:
        return None
    from components.contract.manifest import read_manifest
    from components.contract.storage import Storage
    from components.errors import UserError
    manifest = read_manifest(Storage(endpoint_url), cfg.init_from)
    if manifest is None or manifest.kind != "TrainedModel":
        raise UserError(f"pretrain.train_on: new needs init_from to be a TrainedModel artifact (what it was trained "
                        f"on is in its lineage), not {cfg.init_from}")
    return next(i.uri for i in manifest.inputs if i.role == "dataset")


def build(cfg: PretrainConfig, *, dataset: Artifact[TokenizedDataset], tokenizer: Artifact[Tokenizer],
          checkpoint_dir: str, output_dir: str, cache_dir: str, checkpoint_uri: str | None = None,
          output_uri: str | None = None, s3_endpoint_url: str | None = None, mlflow_tracking_uri: str | None = None,
          mlflow_run_id: str | None = None, kobest_dir: str | None = None) -> TrainArgs:
    """The arguments for training `cfg` on `dataset` (+ cfg.blend) with `tokenizer`'s vocabulary; the keyword
    arguments after the artifacts say where it runs (the launcher decides them)."""
    plan = resolve(cfg)
    datasets = [DatasetRef(uri=dataset.uri, weight=cfg.dataset_weight, endpoint_url=s3_endpoint_url,
                           exclude=seen_dataset(cfg, s3_endpoint_url))]
    datasets += [DatasetRef(uri=b.uri, weight=b.weight, endpoint_url=s3_endpoint_url) for b in cfg.blend]
    return TrainArgs(
        preset=cfg.preset, init_from=init_from(cfg.init_from, s3_endpoint_url, tokenizer), vocab_size=tokenizer.info.padded_vocab, bos_id=BOS_ID,
        eos_id=tokenizer.info.eod_id, attention=cfg.attention, activation_checkpointing=cfg.activation_checkpointing,
        datasets=datasets, seq_length=cfg.seq_length, seed=cfg.seed,
        nodes=cfg.nodes, nproc=cfg.nproc, world_size=plan.world_size, micro_batch_size=cfg.micro_batch_size,
        grad_accum=plan.grad_accum, steps=plan.steps, lr=cfg.lr, min_lr=cfg.min_lr, warmup_steps=cfg.warmup_steps,
        weight_decay=cfg.weight_decay, grad_clip=cfg.grad_clip,
        device=cfg.device, zero_stage=cfg.zero_stage, precision=cfg.precision,
        checkpoint_dir=str(checkpoint_dir), checkpoint_every=cfg.checkpoint_every,
        keep_checkpoints=cfg.keep_checkpoints, checkpoint_uri=checkpoint_uri,
        output_dir=str(output_dir), output_uri=output_uri, export_dtype=cfg.export_dtype, cache_dir=str(cache_dir),
        eval_every=cfg.eval_every, eval_tasks=list(cfg.eval_tasks), eval_shots=cfg.eval_shots,
        eval_limit=cfg.eval_limit, eval_tokens=cfg.eval_tokens, eval_batch_size=cfg.eval_batch_size,
        kobest_dir=kobest_dir if cfg.eval_tasks else None, tokenizer_uri=tokenizer.uri,
        step_timeout_s=cfg.step_timeout_s, collective_timeout_s=cfg.collective_timeout_s,
        log_every=cfg.log_every, mlflow_tracking_uri=mlflow_tracking_uri, mlflow_run_id=mlflow_run_id,
        s3_endpoint_url=s3_endpoint_url)


def load(where: str) -> TrainArgs:
    """The arguments a launcher wrote: a local path or an s3:// URI (Kubernetes pods read them from there)."""
    from pathlib import Path

    from components.contract.storage import Storage, is_s3
    text = Storage().read_bytes(where).decode() if is_s3(where) else Path(where).read_text()
    return TrainArgs.from_json(text)
