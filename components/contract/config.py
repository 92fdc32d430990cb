"""Run configuration: one YAML file, one small typed section per stage.

Each stage receives only its own section (and the few named values from elsewhere that its module declares in
NEEDS). Unknown keys are errors (a typo must not silently fall back to a default); enumerated settings are
`Literal` types, checked when the file loads. `--set section.key=value` overrides parse their value as YAML.
Standard library and PyYAML only: the Airflow environment loads configurations too.
"""
from __future__ import annotations

import dataclasses
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from ..errors import UserError
from .typed import Mismatch, build

SourceFormat = Literal["auto", "jsonl", "json", "txt", "parquet", "html", "warc"]
# The cleaning chain's steps (components/corpus/cleaning.py implements each).
CleaningStep = Literal["empty", "nfc", "html", "url", "repeated_chars", "pii", "whitespace", "empty_after_clean",
                       "min_chars", "max_chars", "hangul_ratio", "language", "gopher", "fineweb2", "decontaminate"]
KobestTask = Literal["boolq", "copa", "hellaswag", "sentineg", "wic"]
KOBEST_TASKS: tuple[str, ...] = typing.get_args(KobestTask)   # every loader and table follows this order
KobestSplit = Literal["train", "validation", "test"]
Device = Literal["cpu", "cuda"]


@dataclass(kw_only=True)
class Source:
    name: str                       # short name; travels with every record as `source`
    uri: str                        # file, directory or glob; local path or s3://bucket/prefix
    format: SourceFormat = "auto"   # auto: from the file name
    text_field: str = "text"        # field holding the document text (jsonl/json/parquet)
    id_field: str | None = None     # field holding a stable id; default: source name + position
    license: str = "unknown"        # licence tag carried in each record's meta
    txt_split: Literal["file", "paragraph"] = "file"   # txt: a document per file or per blank-line block


@dataclass(kw_only=True)
class CollectConfig:
    sources: list[Source] = field(default_factory=list)
    world_size: int = 2                 # shards (parallel workers) the stage is split into
    records_per_file: int = 100_000     # records per output Parquet file
    max_record_chars: int = 1_000_000   # longer records are quarantined (oversized), not truncated
    max_file_bytes: int = 256 << 20     # whole-file formats (json, txt per file, html) larger than this: quarantined


@dataclass(kw_only=True)
class DecontaminateConfig:
    """Evaluation items removed from the corpus (components/corpus/decontam.py says how they are matched)."""
    tasks: list[KobestTask] = field(default_factory=lambda: list(KOBEST_TASKS))   # every task evaluate scores
    kobest_dir: str = "data/kobest/v1.0"    # the KoBEST TSVs (the evaluate stage's)
    splits: list[KobestSplit] = field(default_factory=lambda: ["test"])   # the split evaluate scores on
    gram: int = 6                       # n-gram length in normalised characters (letters and digits only)
    coverage: float = 0.7               # share of a field's n-grams a document must hold for the field to count
    long_field: int = 50                # a field this long (a BoolQ passage) is evidence by itself
    min_item: int = 8                   # items shorter than this (normalised) are unmatchable, and counted
    strong_item: int = 20               # shorter items are weak: they count only in numbers (a page of them)
    weak_items: int = 3                 # weak items of one task a document must hold to be dropped
    common: int = 50                    # n-grams shared by more fields than this are formulas, not evidence


@dataclass(kw_only=True)
class FineWeb2Config:
    """FineWeb-2's filters with its published Korean thresholds (github.com/huggingface/fineweb-2,
    configs/kor_Hang.yml and fineweb-2-pipeline.py), words as Kiwi's morphemes like datatrove's Korean tokenizer."""
    dup_line_frac: float = 0.374        # Gopher repetition: duplicated lines
    # n (words) -> the largest share of characters in the most frequent n-gram / in repeated n-grams
    top_n_grams: dict[str, float] = field(default_factory=lambda: {"2": 0.282, "3": 0.228, "4": 0.185})
    dup_n_grams: dict[str, float] = field(default_factory=lambda: {"5": 0.201, "6": 0.184, "7": 0.168, "8": 0.154,
                                                                   "9": 0.14, "10": 0.127})
    line_punct_thr: float = 0.062       # FineWeb quality: lines ending in terminal punctuation, at least
    char_duplicates_ratio: float = 0.1  # characters in duplicated lines, at most
    new_line_ratio: float = 0.196       # newlines per word, at most
    min_doc_words: int = 50             # Gopher quality: words (morphemes) a document needs
    max_doc_words: int = 100_000
    min_avg_word_length: float = 1.0
    max_avg_word_length: float = 6.0
    max_symbol_word_ratio: float = 0.1
    max_bullet_lines_ratio: float = 0.9
    max_ellipsis_lines_ratio: float = 0.3
    max_non_alpha_words_ratio: float = 0.791   # words with a letter, at least this share (the name is datatrove's)
    min_stop_words: int = 2
    stop_words: list[str] = field(default_factory=lambda: [
        "의", "다", "이", "는", "에", "을", "한", "년", "하", "은", "를", "했", "고", "에서", "가", "있", "으로", "인", "월",
        "로", "되"])


CurationPreset = Literal["polyglot-ko", "fineweb2-kor"]
# What a preset sets; any key the configuration gives itself wins over its preset's.
CURATE_PRESETS: dict[str, dict[str, Any]] = {
    "polyglot-ko": {},
    # FineWeb-2's Korean thresholds: its language score (0.842, for GlotLID's kor_Hang; here lid.176's `ko`) and
    # its three quality filters in place of the Hangul ratio and our Gopher rules; cleaning, PII masking,
    # deduplication and decontamination stay
    "fineweb2-kor": {"steps": ["empty", "nfc", "html", "url", "pii", "whitespace", "empty_after_clean",
                               "max_chars", "language", "fineweb2", "decontaminate"],
                     "min_language_score": 0.842},
}


@dataclass(kw_only=True)
class CurateConfig:
    preset: CurationPreset = "polyglot-ko"   # the defaults below (polyglot-ko) or FineWeb-2's Korean thresholds
    world_size: int = 2
    # an earlier CuratedCorpus (URI, or `champion`: the registered champion's): only new raw files are curated,
    # their documents deduplicated against it; None: the whole corpus
    base: str | None = None
    # The per-document chain, in order. Polyglot-Ko's steps (empty, repeated characters, PII, whitespace, HTML)
    # plus NFC, URLs and the quality filters; HTML goes before whitespace (stripping tags leaves gaps).
    # Then language identification and the quality rules, and last decontamination (what else is kept).
    steps: list[CleaningStep] = field(default_factory=lambda: [
        "empty", "nfc", "html", "url", "repeated_chars", "pii", "whitespace", "empty_after_clean",
        "min_chars", "max_chars", "hangul_ratio", "language", "gopher", "decontaminate"])
    min_chars: int = 10                 # shorter after cleaning: dropped (too_short)
    max_chars: int = 100_000            # longer: dropped (too_long); Gopher's bound
    max_repeat: int = 2                 # a character repeated more often collapses to this many (digits never)
    url: Literal["remove", "mask", "keep"] = "remove"   # mask: <|url|>
    min_hangul_ratio: float = 0.3       # Hangul among letters; below: dropped (low_hangul)
    languages: list[str] = field(default_factory=lambda: ["ko"])   # kept languages (lid.176 codes)
    min_language_score: float = 0.5     # the language model's score for its top language, at least (else dropped)
    # letters at least this share Hangul: Korean whatever the model says (it misreads unspaced and very short
    # Korean; components/corpus/langid.py); above 1: the model alone
    language_script_share: float = 0.8
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
    dedup_buckets: int = 4              # hash-range buckets: dedup's bucket tasks, each reading 1/B of the signatures
    records_per_file: int = 100_000
    decontaminate: DecontaminateConfig = field(default_factory=DecontaminateConfig)
    fineweb2: FineWeb2Config = field(default_factory=FineWeb2Config)


@dataclass(kw_only=True)
class TrainTokenizerConfig:
    vocab_size: int = 30_000            # learned entries incl. the 4 special tokens; PII tokens come after
    sample_chars: int = 5_000_000       # characters of curated text the BPE is trained on (deterministic sample)
    morphemes: Literal["kiwi", "none"] = "kiwi"   # kiwi: merges never cross a morpheme boundary (MBBPE)
    min_frequency: int = 2
    pretrained: str | None = None       # path to an existing tokenizer.json / HF dir: use it instead of training
    # a Tokenizer artifact to take as it is (URI, or `champion`: the registered champion's), keeping its
    # vocabulary; None: train (or take `pretrained`)
    reuse: str | None = None
    compare_with: str | None = "data/reference/polyglot-ko-tokenizer"   # reference in the quality report
    heldout_fraction: float = 0.02      # documents (by hashed id) never trained on: the quality report's text
    heldout_documents: int = 2000       # at most this many of them measured


@dataclass(kw_only=True)
class TokenizeConfig:
    world_size: int = 2                 # shards: each takes consecutive curated files, one segment per file
    validation_fraction: float = 0.02   # share of documents (by hashed id) held out for validation
    min_validation_documents: int = 8   # fewer at that share fails the stage (raise the share)
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
    # the Kubeflow Trainer ClusterTrainingRuntime a TrainJob refers to: infra/trainer's, which restarts every node
    # when one fails (upstream's torch-distributed has no failure policy: one failed pod fails the job)
    runtime: str = "polyglot-ko-torch"
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
    # the training data's copy, on the shared volume: staged once for all nodes and every restart
    cache_dir: str = "/checkpoints/datasets"
    s3_secret: str | None = "polyglot-ko-s3"            # Secret with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
    mlflow_secret: str | None = "polyglot-ko-mlflow"    # Secret with MLFLOW_TRACKING_USERNAME / _PASSWORD
    env: dict[str, str] = field(default_factory=dict)   # extra environment (NCCL settings and the like)
    termination_grace_s: int = 600      # SIGTERM -> checkpoint -> exit must fit in this
    max_restarts: int = 3               # PyTorchJob backoffLimit (TrainJob: infra/trainer's maxRestarts)
    poll_s: float = 15.0                # how often the watcher reads the job's status


@dataclass(kw_only=True)
class PretrainConfig:
    preset: str = "tiny"                # see `polyglot-ko presets`; ignored (taken from it) with init_from
    launcher: Literal["local", "trainjob", "pytorchjob"] = "local"   # torchrun here | Kubeflow Trainer v2 | v1
    nodes: int = 1                      # machines; local runs use 1
    nproc: int = 2                      # processes per node (torchrun --nproc_per_node; GPUs per node)
    device: Device = "cpu"              # cpu (gloo) or cuda (nccl)
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
    zero_stage: Literal[0, 1, 2, 3] = 1
    precision: Literal["fp32", "bf16"] = "fp32"
    attention: Literal["sdpa", "flash_attention_2", "eager"] = "sdpa"   # sdpa: PyTorch's flash kernels on GPU
    activation_checkpointing: bool = False
    # continued pretraining: an HF GPT-NeoX directory or hub id, a TrainedModel artifact's URI, or `champion`
    init_from: str | None = None
    # with init_from a TrainedModel: `new` trains only on the segments its dataset did not hold (what arrived
    # since), `all` on the whole dataset again
    train_on: Literal["all", "new"] = "all"
    dataset_weight: float = 1.0         # share of the pipeline's own tokenized dataset in the blend
    blend: list[BlendSource] = field(default_factory=list)   # more tokenized datasets mixed in by weight
    seed: int = 1234
    checkpoint_every: int = 100         # steps between checkpoints (and one at the end, and on SIGTERM)
    keep_checkpoints: int = 2           # complete checkpoints kept locally and in object storage
    checkpoint_uri: str | None = None   # object storage mirror; default <artifact_root>/checkpoints when on s3
    export_dtype: Literal["float32", "bfloat16", "float16"] = "float32"   # the published weights: float16
    log_every: int = 10
    # evaluation during training, on the live weights (the evaluate stage still scores the final model):
    # validation loss and a KoBEST subset every eval_every steps (0: never), each evaluated step a checkpoint
    eval_every: int = 0
    eval_tasks: list[KobestTask] = field(default_factory=lambda: ["boolq", "copa"])
    eval_shots: int = 0                 # few-shot examples per KoBEST prompt (from train, as evaluate draws them)
    eval_limit: int | None = 100        # first N test examples per task (None: all)
    eval_tokens: int = 262_144          # validation tokens scored for validation_loss (split over the ranks)
    eval_batch_size: int = 16
    # faults: a rank with no finished step for step_timeout_s dumps every thread's stack and exits non-zero (the
    # job restarts from its checkpoint); a collective that waits longer than collective_timeout_s fails
    step_timeout_s: int = 900
    collective_timeout_s: int = 1800    # also bounds a checkpoint save, an evaluation and a checkpoint conversion
    timeout_s: int = 3600               # the launcher gives up after this long
    kubernetes: KubernetesConfig = field(default_factory=KubernetesConfig)


@dataclass(kw_only=True)
class EvaluateConfig:
    source: Literal["tsv", "hub"] = "tsv"   # tsv: the KoBEST TSVs in kobest_dir | hub: skt/kobest_v1 (network)
    kobest_dir: str = "data/kobest/v1.0"
    tasks: list[KobestTask] = field(default_factory=lambda: ["boolq", "copa", "hellaswag", "sentineg", "wic"])
    shots: list[int] = field(default_factory=lambda: [0, 5, 10, 50])   # few-shot examples from train, seed 42
    limit: int | None = None            # first N test examples per task (None: all, as published)
    batch_size: int = 16
    device: Device = "cpu"              # where lm-eval runs the model
    perplexity_max_tokens: int = 100_000  # validation tokens scored for perplexity
    prompts: list[str] = field(default_factory=lambda: [
        "대한민국의 수도는", "오늘 영화는 정말", "파이썬에서 리스트는", "한국어 언어 모델은",
        "옛날 옛적에 작은 마을에", "다음 문장을 영어로 번역하면"])
    max_new_tokens: int = 32


@dataclass(kw_only=True)
class RegisterConfig:
    model_name: str = "polyglot-ko-demo"
    score: Literal["kobest_macro_f1_mean", "kobest_acc_mean"] = "kobest_macro_f1_mean"   # what the gate compares
    score_shots: int | None = None        # at this shot count (default: the first of evaluate.shots)
    margin: float = 0.0                   # the candidate must beat the champion by more than this
    task_tolerance: float = 0.05          # and no task's macro-F1 may fall by more than this


@dataclass(kw_only=True)
class ClusterConfig:
    """Cluster mode: every stage task is a pod (KFP or Airflow) running `polyglot-ko stage ...` in an image."""
    namespace: str = "polyglot-ko"
    cpu_image: str = "ghcr.io/polyglot-ko/cpu:0.1.0"          # images/cpu.Dockerfile
    cuda_image: str = "ghcr.io/polyglot-ko/train-cuda:0.1.0"  # images/cuda.Dockerfile (GPU stages)
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
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
    """Plain YAML data into the dataclass `cls`; a value that does not fit is one line naming its key."""
    try:
        return build(cls, data, where)
    except Mismatch as e:
        if e.known is not None:
            raise UserError(f"config: unknown key {e.where} (known: {', '.join(e.known)})") from None
        raise UserError(f"config: {e.where or 'top level'} {e.message}") from None


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
    return config_from_dict(data)


def _with_preset(data: dict) -> dict:
    """curate.preset's values under the keys the configuration gives itself."""
    curate = data.get("curate")
    if not isinstance(curate, dict) or "preset" not in curate:
        return data
    if not isinstance(curate["preset"], str) or curate["preset"] not in CURATE_PRESETS:
        raise UserError(f"config: curate.preset {curate['preset']!r} is not one of {', '.join(CURATE_PRESETS)}")
    return {**data, "curate": {**CURATE_PRESETS[curate["preset"]], **curate}}


def _check_decontamination(cfg: RunConfig) -> None:
    """Every task the evaluation scores must be removed from the corpus, from the split it scores, by settings that
    can find something, or the gate cannot compare the model: said now, not after training."""
    if "decontaminate" not in cfg.curate.steps:
        return
    d, where = cfg.curate.decontaminate, "config: curate.decontaminate"
    missing = [t for t in cfg.evaluate.tasks if t not in d.tasks]
    if missing:
        raise UserError(f"config: evaluate.tasks scores {', '.join(missing)}, which curate.decontaminate.tasks does "
                        "not remove from the corpus: add them (or drop the decontaminate step, and the promotion "
                        "gate will not compare the model)")
    if "test" not in d.splits:
        raise UserError(f"{where}.splits must include test: the split evaluate scores on")
    bad = [f"gram {d.gram} (at least 3)"] * (d.gram < 3) + [f"coverage {d.coverage} (in (0, 1])"] * (
        not 0 < d.coverage <= 1) + [f"min_item {d.min_item} (1 to strong_item {d.strong_item})"] * (
        not 1 <= d.min_item <= d.strong_item) + [f"long_field {d.long_field} (at least gram)"] * (
        d.long_field < d.gram) + [f"weak_items {d.weak_items} (at least 1)"] * (d.weak_items < 1) + [
        f"common {d.common} (at least 1)"] * (d.common < 1)
    if bad:
        raise UserError(f"{where}: {'; '.join(bad)}")


def config_from_dict(data: dict) -> RunConfig:
    cfg = _build(RunConfig, _with_preset(data), "")
    _check_decontamination(cfg)
    from . import graph
    # every fan-out width (the stages' shards, curate's dedup buckets) and the parallelism: at least one task
    widths = {f"{n.name.replace('-', '_')}.{s.width}": graph.width(n, s, cfg)
              for n in graph.STAGES for s in n.steps if s.fans_out}
    widths["cluster.max_parallel_shards"] = cfg.cluster.max_parallel_shards
    for key, value in widths.items():
        if value < 1:
            raise UserError(f"config: {key} must be at least 1 (got {value})")
    return cfg


def config_to_dict(cfg: Any) -> dict:
    return dataclasses.asdict(cfg)


def dump_config(cfg: RunConfig, path: Path) -> None:
    path.write_text(yaml.safe_dump(config_to_dict(cfg), allow_unicode=True, sort_keys=False), encoding="utf-8")
