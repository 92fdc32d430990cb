"""Run configuration: one YAML file, one small typed section per stage.

Each stage receives only its own section. Unknown keys are errors (a typo must not silently fall back to a
default). `--set section.key=value` overrides parse their value as YAML.
"""
from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import UserError


@dataclass(kw_only=True)
class Source:
    name: str                       # short name; travels with every record as `source`
    uri: str                        # file, directory or glob; local path or s3://bucket/prefix
    format: str = "auto"            # auto | jsonl | json | txt | parquet | html | warc (auto: from the name)
    text_field: str = "text"        # field holding the document text (jsonl/json/parquet)
    id_field: str | None = None     # field holding a stable id; default: source name + position
    license: str = "unknown"        # licence tag carried in each record's meta
    txt_split: str = "file"         # txt: a document per file, or per blank-line-separated "paragraph"


@dataclass(kw_only=True)
class CollectConfig:
    sources: list[Source] = field(default_factory=list)
    world_size: int = 2                 # shards (parallel workers) the stage is split into
    records_per_file: int = 100_000     # records per output Parquet file
    max_record_chars: int = 1_000_000   # longer records are quarantined (oversized), not truncated
    max_file_bytes: int = 256 << 20     # whole-file formats (json, txt per file, html) larger than this: quarantined


@dataclass(kw_only=True)
class CurateConfig:
    world_size: int = 2
    # The per-document chain, in order. Polyglot-Ko's steps (empty, repeated characters, PII, whitespace, HTML)
    # plus NFC, URLs and the quality filters; HTML goes before whitespace (stripping tags leaves gaps).
    steps: list[str] = field(default_factory=lambda: [
        "empty", "nfc", "html", "url", "repeated_chars", "pii", "whitespace", "empty_after_clean",
        "min_chars", "max_chars", "hangul_ratio", "gopher"])
    min_chars: int = 10                 # shorter after cleaning: dropped (too_short)
    max_chars: int = 100_000            # longer: dropped (too_long); Gopher's bound
    max_repeat: int = 2                 # a character repeated more often collapses to this many (digits never)
    url: str = "remove"                 # remove | mask (<|url|>) | keep
    min_hangul_ratio: float = 0.3       # Hangul among letters; below: dropped (low_hangul)
    gopher_min_words: int = 50          # the Gopher rules judge documents of at least this many words
    min_mean_word_length: float = 1.0   # characters per whitespace-separated word (Korean eojeol)
    max_mean_word_length: float = 15.0
    max_symbol_word_ratio: float = 0.1  # '#' and ellipses per word
    max_bullet_lines: float = 0.9       # share of lines starting with a bullet
    max_ellipsis_lines: float = 0.3     # share of lines ending with an ellipsis
    max_duplicate_lines: float = 0.3    # share of repeated lines
    max_top_2gram: float = 0.2          # characters covered by the most frequent word 2-gram
    max_top_3gram: float = 0.18
    max_dup_5gram: float = 0.15         # characters in word 5-grams seen more than once
    max_dup_10gram: float = 0.10
    dedup: bool = True                  # exact deduplication of whole documents (normalised text hash)
    near_dedup: bool = True             # MinHash-LSH near-duplicate removal
    minhash_shingle: int = 5            # character shingles of this length
    minhash_perm: int = 128             # permutations (signature length)
    minhash_threshold: float = 0.8      # estimated Jaccard similarity above which two documents are duplicates
    records_per_file: int = 100_000


@dataclass(kw_only=True)
class TrainTokenizerConfig:
    vocab_size: int = 30_000            # learned entries incl. the 4 special tokens; PII tokens come after
    sample_chars: int = 5_000_000       # characters of curated text the BPE is trained on (deterministic sample)
    morphemes: str = "kiwi"             # kiwi: merges never cross a morpheme boundary (MBBPE); none: plain BPE
    min_frequency: int = 2
    pretrained: str | None = None       # path to an existing tokenizer.json / HF dir: use it instead of training
    compare_with: str | None = "data/reference/polyglot-ko-tokenizer"   # reference in the quality report
    heldout_fraction: float = 0.02      # documents (by hashed id) never trained on: the quality report's text
    heldout_documents: int = 2000       # at most this many of them measured


@dataclass(kw_only=True)
class TokenizeConfig:
    validation_fraction: float = 0.02   # share of documents (by hashed id) held out for validation
    min_validation_documents: int = 8
    batch_chars: int = 4_000_000        # characters per encode_batch call (read ahead on a thread)


@dataclass(kw_only=True)
class BlendSource:
    uri: str                            # another TokenizedDataset artifact (its directory, local or s3://)
    weight: float = 1.0                 # relative share of training samples


@dataclass(kw_only=True)
class KubernetesConfig:
    """Where pretraining runs when `pretrain.launcher` is trainjob or pytorchjob (one pod per node)."""
    namespace: str = "polyglot-ko"
    image: str = "ghcr.io/polyglot-ko/train-cuda:0.1.0"   # images/cuda.Dockerfile, pushed to your registry
    runtime: str = "torch-distributed"  # the Kubeflow Trainer ClusterTrainingRuntime a TrainJob refers to
    service_account: str = "polyglot-ko-trainer"
    gpu_resource: str = "nvidia.com/gpu"
    cpu: str = "48"                     # per node (pod)
    memory: str = "640Gi"
    node_selector: dict[str, str] = field(default_factory=lambda: {"polyglot-ko.org/pool": "gpu"})
    tolerations: list[dict[str, str]] = field(default_factory=lambda: [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}])
    shm_size: str = "64Gi"              # /dev/shm for NCCL and data loading (memory-backed emptyDir)
    checkpoint_claim: str = "polyglot-ko-checkpoints"   # ReadWriteMany PVC shared by all nodes
    checkpoint_mount: str = "/checkpoints"
    cache_dir: str = "/tmp/polyglot-ko-cache"          # node-local copies of the dataset and tokenizer
    s3_secret: str | None = "polyglot-ko-s3"            # Secret with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
    mlflow_secret: str | None = "polyglot-ko-mlflow"    # Secret with MLFLOW_TRACKING_USERNAME / _PASSWORD
    env: dict[str, str] = field(default_factory=dict)   # extra environment (NCCL settings and the like)
    termination_grace_s: int = 600      # SIGTERM -> checkpoint -> exit must fit in this
    max_restarts: int = 3               # PyTorchJob backoffLimit (TrainJob: the JobSet's failure policy)
    poll_s: float = 15.0                # how often the watcher reads the job's status


@dataclass(kw_only=True)
class PretrainConfig:
    preset: str = "tiny"                # see `polyglot-ko presets`; ignored (taken from it) with init_from
    launcher: str = "local"             # local (torchrun here) | trainjob (Kubeflow Trainer v2) | pytorchjob (v1)
    nodes: int = 1                      # machines; local runs use 1
    nproc: int = 2                      # processes per node (torchrun --nproc_per_node; GPUs per node)
    device: str = "cpu"                 # cpu (gloo) or cuda (nccl)
    steps: int = 200                    # optimizer steps (train_tokens, when set, decides instead)
    train_tokens: int | None = None     # token budget: steps = ceil(train_tokens / tokens per step)
    seq_length: int = 128
    micro_batch_size: int = 8           # sequences per process per micro-step
    grad_accum: int = 1                 # micro-steps per optimizer step (global_batch_tokens, when set, decides)
    global_batch_tokens: int | None = None  # tokens per optimizer step, reached by gradient accumulation
    lr: float = 1.0e-3
    min_lr: float = 1.0e-4
    warmup_steps: int = 20
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    zero_stage: int = 1
    precision: str = "fp32"             # fp32 | bf16
    attention: str = "sdpa"             # sdpa (PyTorch; flash kernels on GPU) | flash_attention_2 | eager
    activation_checkpointing: bool = False
    init_from: str | None = None        # continued pretraining: an HF GPT-NeoX directory or hub id
    dataset_weight: float = 1.0         # share of the pipeline's own tokenized dataset in the blend
    blend: list[BlendSource] = field(default_factory=list)   # more tokenized datasets mixed in by weight
    seed: int = 1234
    checkpoint_every: int = 100         # steps between checkpoints (and one at the end, and on SIGTERM)
    keep_checkpoints: int = 2           # complete checkpoints kept locally and in object storage
    checkpoint_uri: str | None = None   # object storage mirror; default <artifact_root>/checkpoints when on s3
    export_dtype: str = "float32"       # float32 | bfloat16 | float16 (the published weights are float16)
    log_every: int = 10
    timeout_s: int = 3600               # the launcher gives up after this long
    kubernetes: KubernetesConfig = field(default_factory=KubernetesConfig)


@dataclass(kw_only=True)
class EvaluateConfig:
    source: str = "tsv"                 # tsv: the KoBEST TSVs in kobest_dir | hub: skt/kobest_v1 (needs network)
    kobest_dir: str = "data/kobest/v1.0"
    tasks: list[str] = field(default_factory=lambda: ["boolq", "copa", "hellaswag", "sentineg", "wic"])
    shots: list[int] = field(default_factory=lambda: [0, 5, 10, 50])   # few-shot examples from train, seed 42
    limit: int | None = None            # first N test examples per task (None: all, as published)
    batch_size: int = 16
    device: str = "cpu"                 # where lm-eval runs the model: cpu | cuda
    perplexity_max_tokens: int = 100_000  # validation tokens scored for perplexity
    prompts: list[str] = field(default_factory=lambda: [
        "대한민국의 수도는", "오늘 영화는 정말", "파이썬에서 리스트는", "한국어 언어 모델은",
        "옛날 옛적에 작은 마을에", "다음 문장을 영어로 번역하면"])
    max_new_tokens: int = 32


@dataclass(kw_only=True)
class RegisterConfig:
    model_name: str = "polyglot-ko-demo"
    score: str = "kobest_macro_f1_mean"   # kobest_macro_f1_mean | kobest_acc_mean: what the promotion gate compares
    score_shots: int | None = None        # at this shot count (default: the first of evaluate.shots)
    margin: float = 0.0                   # the candidate must beat the champion by more than this
    task_tolerance: float = 0.05          # and no task's macro-F1 may fall by more than this


@dataclass(kw_only=True)
class ClusterConfig:
    """Cluster mode: every stage task is a pod (KFP or Airflow) running `polyglot-ko stage ...` in an image."""
    namespace: str = "polyglot-ko"
    cpu_image: str = "ghcr.io/polyglot-ko/cpu:0.1.0"          # images/cpu.Dockerfile
    cuda_image: str = "ghcr.io/polyglot-ko/train-cuda:0.1.0"  # images/cuda.Dockerfile (GPU stages)
    image_pull_policy: str = "IfNotPresent"
    service_account: str = "polyglot-ko-pipeline"  # may create and watch TrainJobs and read pods (infra/)
    mlflow_tracking_uri: str = "http://mlflow.polyglot-ko.svc.cluster.local:5000"
    s3_secret: str | None = "polyglot-ko-s3"        # AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
    mlflow_secret: str | None = "polyglot-ko-mlflow"  # MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD
    gpu_resource: str = "nvidia.com/gpu"
    gpu_node_selector: dict[str, str] = field(default_factory=lambda: {"polyglot-ko.org/pool": "gpu"})
    gpu_tolerations: list[dict[str, str]] = field(default_factory=lambda: [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}])
    retries: int = 2                    # task retries (stages are idempotent: a retry reuses finished work)
    max_parallel_shards: int = 64       # shard tasks of a corpus stage running at once
    schedule: str | None = None         # Airflow: cron for periodic retraining (collection is incremental)
    workdir: str = "/tmp/polyglot-ko"   # scratch inside each pod; artifacts live in artifact_root (s3://)


@dataclass(kw_only=True)
class RunConfig:
    experiment: str = "polyglot-ko"          # MLflow experiment name
    artifact_root: str | None = None         # local dir or s3://bucket/prefix; default <workdir>/artifacts
    s3_endpoint_url: str | None = None       # else AWS_ENDPOINT_URL from the environment
    collect: CollectConfig = field(default_factory=CollectConfig)
    curate: CurateConfig = field(default_factory=CurateConfig)
    train_tokenizer: TrainTokenizerConfig = field(default_factory=TrainTokenizerConfig)
    tokenize: TokenizeConfig = field(default_factory=TokenizeConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    register: RegisterConfig = field(default_factory=RegisterConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)

    def section(self, stage: str) -> Any:
        return getattr(self, stage.replace("-", "_"))


def _build(cls: type, data: Any, where: str) -> Any:
    """Turn plain YAML data into the dataclass `cls`, checking keys and basic types."""
    if not isinstance(data, dict):
        raise UserError(f"config: {where or 'top level'} must be a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise UserError(f"config: unknown key {where + '.' if where else ''}{unknown[0]} "
                        f"(known: {', '.join(sorted(names))})")
    kwargs = {k: _coerce(hints[k], v, f"{where}.{k}" if where else k) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise UserError(f"config: {where or 'top level'}: {e}") from None


def _coerce(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _coerce(args[0], value, where)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where)
    if origin is dict:
        if not isinstance(value, dict):
            raise UserError(f"config: {where} must be a mapping")
        _, item = typing.get_args(tp)
        return {str(k): _coerce(item, v, f"{where}.{k}") for k, v in value.items()}
    if origin is list:
        if not isinstance(value, list):
            raise UserError(f"config: {where} must be a list")
        (item,) = typing.get_args(tp)
        return [_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):   # YAML 1.1 reads 1e-4 (no dot) as a string
        try:
            return float(value)
        except ValueError:
            pass
    if tp in (int, float, str, bool) and not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
        raise UserError(f"config: {where} must be {tp.__name__}, got {value!r}")
    return value


def _set_path(data: dict, dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = data
    for k in keys[:-1]:
        node = node.setdefault(k, {})
        if not isinstance(node, dict):
            raise UserError(f"--set {dotted}: {k} is not a section")
    node[keys[-1]] = value


def load_config(path: str | os.PathLike, overrides: list[str] | None = None) -> RunConfig:
    p = Path(path)
    if str(path).startswith("s3://"):     # cluster runs: the submitted config lives in object storage
        from .storage import Storage
        text = Storage().read_bytes(str(path)).decode("utf-8")
    elif not p.is_file():
        raise UserError(f"config file not found: {p}")
    else:
        text = p.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise UserError(f"config {path}: invalid YAML: {e}") from None
    for item in overrides or []:
        if "=" not in item:
            raise UserError(f"--set expects key=value, got {item!r}")
        key, raw = item.split("=", 1)
        try:
            _set_path(data, key.strip(), yaml.safe_load(raw))
        except yaml.YAMLError as e:
            raise UserError(f"--set {key}: value is not valid YAML: {e}") from None
    return _build(RunConfig, data, "")


def config_from_dict(data: dict) -> RunConfig:
    return _build(RunConfig, data, "")


def config_to_dict(cfg: Any) -> dict:
    return dataclasses.asdict(cfg)


def dump_config(cfg: RunConfig, path: Path) -> None:
    path.write_text(yaml.safe_dump(config_to_dict(cfg), allow_unicode=True, sort_keys=False), encoding="utf-8")
