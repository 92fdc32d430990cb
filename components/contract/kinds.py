"""What each artifact kind promises downstream: one typed description per kind.

A stage returns the description of what it made; the runner stores it as the manifest's `stats` (plus the run's
`seconds`) and every consumer reads it back typed (`Artifact.info`). A field that is missing or of the wrong type
is one error naming the artifact and the field, never a default: a consumer cannot silently mistake a broken
contract for an empty corpus. Fields are what downstream stages, the model card and the run summary rely on;
anything else a stage wants to keep goes into a report file of its artifact.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any, ClassVar

from ..errors import StageFailed
from .typed import Mismatch, build


@dataclass(kw_only=True)
class Description:
    KIND: ClassVar[str] = ""

    def to_stats(self) -> dict:
        return dataclasses.asdict(self)

    # The few figures the stage's MLflow run carries as `stats.<name>` tags (a column in the runs table); every
    # number is in the run's stats.json table. Neither is a metric: MLflow's metrics are time series (training).
    KEY_FIGURES: ClassVar[tuple[str, ...]] = ()

    def figures(self) -> dict[str, float]:
        """Every number of the description (nested names joined by dots)."""
        return _numbers(self.to_stats())

    def key_figures(self) -> dict[str, float]:
        found = self.figures()
        return {k: found[k] for k in self.KEY_FIGURES if k in found}


@dataclass(kw_only=True)
class Accounted(Description):
    """Corpus kinds: records_in == records_out + dropped + quarantined (contract/execution.py checks it)."""
    records_in: int
    records_out: int
    dropped: dict[str, int]         # by reason: filtered on purpose
    quarantined: dict[str, int]     # by reason: unreadable input, raw bytes kept


# --------------------------------------------------------------------------------------------- corpus


@dataclass(kw_only=True)
class CollectedSource:
    records: int
    chars: int
    license: str


@dataclass(kw_only=True)
class RawCorpus(Accounted):
    KIND: ClassVar[str] = "RawCorpus"
    KEY_FIGURES: ClassVar[tuple[str, ...]] = ("records_in", "records_out", "chars", "files", "bytes", "files_reused")
    chars: int
    files: int                                  # input files read (or reused from earlier runs)
    bytes: int                                  # their size as stored (compressed)
    sources: dict[str, CollectedSource]         # by source name, in config order
    shard_bytes: list[int]                      # bytes each shard was given (by rank): how even the split was
    files_reused: int                           # of `files`, collected by an earlier run (same file, same reader)
    records_reused: int
    requests: dict[str, int]                    # object-storage requests the shards made, by operation


@dataclass(kw_only=True)
class CuratedSource:
    records_in: int
    records_out: int
    chars_in: int
    chars_out: int
    dropped: dict[str, int]


@dataclass(kw_only=True)
class Cleaning:
    """What curation did, as configured: the model card states these and nothing else."""
    steps: list[str]                # the per-document chain, in order
    url: str                        # remove | mask | keep (when the url step ran)
    max_repeat: int
    exact_dedup: bool
    near_dedup: bool
    minhash_threshold: float


@dataclass(kw_only=True)
class Clusters:
    clusters: int
    largest: int
    documents_in_clusters: int


@dataclass(kw_only=True)
class Decontamination:
    """The evaluation items removed from the corpus: what the promotion gate checks against the scored tasks."""
    tasks: list[str]                # the tasks indexed (empty: the decontaminate step did not run)
    splits: list[str]
    items_digest: str               # the normalised items the index was built from ("" when it did not run)
    items: dict[str, int]           # items indexed, per task
    unmatchable: dict[str, int]     # items too short to tell from ordinary text, per task (not indexed)
    weak: dict[str, int]            # indexed items that count only when a document holds several of their task
    files: dict[str, str]           # the KoBEST files read ("BoolQ/test.tsv") and their sha256 (16 hex)
    documents: dict[str, int]       # documents dropped as contaminated, per task (one may hold several tasks')
    items_found: dict[str, int]     # distinct items found, per task
    per_source: dict[str, dict[str, int]]   # documents dropped, per source and task


@dataclass(kw_only=True)
class CuratedCorpus(Accounted):
    KIND: ClassVar[str] = "CuratedCorpus"
    chars_in: int
    chars_out: int
    per_source: dict[str, CuratedSource]
    edits: dict[str, int]           # documents changed, by step
    pii: dict[str, int]             # masked, by type
    dedup: Clusters
    length_bins: list[int]
    length_histogram: dict[str, list[int]]   # kept documents per length bin, by source
    cleaning: Cleaning
    base: str | None                # the CuratedCorpus this one adds a generation to (curate.base), if any
    base_reason: str                # why the base was used, or not
    generation: int                 # 0: curated from scratch; n: the base's generation + 1
    shards: int                     # shards of every generation so far (document numbering)
    records_reused: int             # kept documents that come from the base
    raw_files_curated: int          # raw files this generation read (the new ones, with a base)
    signature_scheme: str           # the cleaning and signing code: a later generation must match it
    # None only for a corpus curated before decontamination was recorded: the gate does not compare its models
    decontamination: Decontamination | None = None

    KEY_FIGURES: ClassVar[tuple[str, ...]] = ("records_in", "records_out", "chars_out", "records_reused",
                                              "generation", "dedup.clusters")

    def figures(self) -> dict[str, float]:
        return {k: v for k, v in super().figures().items() if not k.startswith("cleaning.")}   # settings, not counts


# ------------------------------------------------------------------------------------------ tokenizer


@dataclass(kw_only=True)
class TokenizerQuality:
    documents: int
    tokens: int
    tokens_per_char: float
    tokens_per_word: float
    byte_fallback_share: float
    roundtrip_failures: int


@dataclass(kw_only=True)
class Tokenizer(Description):
    KIND: ClassVar[str] = "Tokenizer"
    KEY_FIGURES: ClassVar[tuple[str, ...]] = ("vocab_size", "padded_vocab", "quality.tokens_per_char",
                                              "reference_quality.tokens_per_char")
    vocab_size: int                 # entries in tokenizer.json
    learned_vocab: int              # learned BPE entries (the PII tokens follow them)
    padded_vocab: int               # embedding rows: vocab_size rounded up to a multiple of 128
    eod_id: int                     # <|endoftext|>: ends every document
    special_ids: dict[str, int]
    morphemes: str                  # kiwi | none | given (a tokenizer.json supplied, not trained)
    sample_documents: int | None    # what it was trained on (None when given)
    sample_chars: int | None
    quality: TokenizerQuality       # on held-out documents
    reference_quality: TokenizerQuality | None   # the reference tokenizer on the same documents (None: none)


@dataclass(kw_only=True)
class Split:
    documents: int
    tokens: int
    chars: int


@dataclass(kw_only=True)
class TokenizedDataset(Description):
    KIND: ClassVar[str] = "TokenizedDataset"
    KEY_FIGURES: ClassVar[tuple[str, ...]] = ("documents", "tokens", "train.tokens", "validation.tokens",
                                              "segments", "segments_reused")
    train: Split
    validation: Split
    documents: int
    tokens: int
    dtype: str                      # of the .bin token ids
    tokens_per_char: float
    validation_roundtrip_failures: int
    segments: int                   # indexed-dataset pairs, one per curated file (segments.json lists them)
    segments_reused: int            # of them, made by an earlier run from the same file and tokenizer
    tokens_reused: int
    task_seconds: float             # seconds the shard tasks spent encoding (reused segments cost none)


# ------------------------------------------------------------------------------------------- training


@dataclass(kw_only=True)
class TrainedModel(Description):
    KIND: ClassVar[str] = "TrainedModel"
    KEY_FIGURES: ClassVar[tuple[str, ...]] = ("parameters", "steps", "tokens_seen", "final_loss", "world_size")
    preset: str
    parameters: int
    seq_length: int                 # what it was trained on (evaluation scores perplexity over windows of it)
    padded_vocab: int
    steps: int
    tokens_per_step: int
    tokens_seen: int
    final_loss: float
    world_size: int
    grad_accum: int
    device: str
    zero_stage: int
    precision: str
    lr: float
    min_lr: float
    warmup_steps: int
    init_from: str | None
    launcher: str
    checkpoint_uri: str | None      # the object storage mirror of its checkpoints, if any


# ---------------------------------------------------------------------------------- evaluation, registry


@dataclass(kw_only=True)
class EvalReport(Description):
    KIND: ClassVar[str] = "EvalReport"
    model_name: str
    shots: list[int]                # in evaluation order; the first is the headline
    limit: int | None               # test examples per task (None: all)
    kobest: dict[str, dict[str, dict[str, float]]]   # shots -> task -> metric (f1, acc, acc_norm)
    scores: dict[str, dict[str, float]]              # shots -> kobest_macro_f1_mean, kobest_acc_mean
    validation_perplexity: float | None

    @property
    def headline(self) -> dict[str, dict[str, float]]:
        return self.kobest[str(self.shots[0])]

    def figures(self) -> dict[str, float]:
        flat = {f"kobest_{s}shot_{t}_{m}": v for s, tasks in self.kobest.items() for t, r in tasks.items()
                for m, v in r.items()}
        flat.update({f"{k}_{s}shot": v for s, sc in self.scores.items() for k, v in sc.items()})
        flat.update(_numbers({"kobest": self.headline}))
        flat["kobest_shots"] = self.shots[0]
        if self.validation_perplexity is not None:
            flat["validation_perplexity"] = self.validation_perplexity
        if self.limit is not None:
            flat["limit"] = self.limit
        return flat

    def key_figures(self) -> dict[str, float]:
        found = self.figures()
        return {k: v for k, v in found.items() if k.startswith("kobest_macro_f1_mean_") or
                k == "validation_perplexity"}


@dataclass(kw_only=True)
class Generation:
    prompt: str
    text: str


@dataclass(kw_only=True)
class RegisteredModel(Description):
    KIND: ClassVar[str] = "RegisteredModel"
    KEY_FIGURES: ClassVar[tuple[str, ...]] = ("score",)
    model_name: str
    version: str
    model_uri: str                  # models:/NAME@alias, or models:/NAME/VERSION when it got no alias
    aliases: list[str]
    decision: str                   # champion | challenger | not_compared (its corpus kept scored test items)
    reason: str
    score: float
    score_name: str
    generation: Generation          # the registered model, loaded back through MLflow
    logged_model_id: str


KINDS: dict[str, type[Description]] = {c.KIND: c for c in (RawCorpus, CuratedCorpus, Tokenizer, TokenizedDataset,
                                                            TrainedModel, EvalReport, RegisteredModel)}


def read(manifest) -> Description:
    """The typed description of the artifact a manifest describes; one clear error if it breaks the contract."""
    cls = KINDS.get(manifest.kind)
    if cls is None:
        raise StageFailed(f"{manifest.uri}: unknown artifact kind {manifest.kind!r} (known: {', '.join(KINDS)})")
    try:
        return build(cls, manifest.stats, unknown="ignore")
    except Mismatch as e:
        raise StageFailed(f"{manifest.kind} at {manifest.uri}: field {e.where} {e.message} in its manifest; the "
                          f"artifact does not keep the {manifest.kind} contract (written by another version of "
                          "the pipeline? run its stage again with --force)") from None


def of(kind: str) -> type[Description]:
    return KINDS[kind]


def _numbers(d: dict, prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_numbers(v, f"{prefix}{k}."))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[f"{prefix}{k}"] = v
    return out


def annotation_kind(annotation: Any) -> str | None:
    """`Artifact[CuratedCorpus]` -> "CuratedCorpus" (how the runner checks a stage's inputs against the graph)."""
    args = typing.get_args(annotation)
    return args[0].KIND if args and isinstance(args[0], type) and issubclass(args[0], Description) else None

