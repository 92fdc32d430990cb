"""Synthetic inputs for the trainer: a real TokenizedDataset artifact of generated documents and a Tokenizer
artifact of the matching vocabulary, published under the artifact contract.

With them the trainer's tests, the failure drills and the benchmarks start training exactly as the pipeline's
pretrain stage does (training/args.py: `build` from a PretrainConfig and the two artifacts), without running the
corpus stages first.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from components.contract.artifact import Artifact
from components.contract.kinds import Split, TokenizedDataset, Tokenizer, TokenizerQuality
from components.contract.manifest import Manifest, publish_dir, read_manifest, write_manifest
from components.contract.storage import Storage
from components.tokenizer.indexed_dataset import IndexedDatasetWriter
from components.tokenizer.segments import SEGMENTS

EOD_ID = 2


def _documents(rng: np.random.RandomState, n: int, vocab: int, learnable: bool, lengths: tuple[int, int]):
    lo, hi = lengths
    for _ in range(n):
        k = int(rng.randint(lo, hi))
        if learnable:   # counting sequences (start, start+d, ...): a tiny model picks them up in a few steps
            top = vocab - 10
            yield list(4 + (rng.randint(0, top) + rng.randint(1, 3) * np.arange(k)) % top)
        else:
            yield list(rng.randint(4, vocab - 6, size=k))


def inputs(root: Path, *, vocab: int = 256, documents: int = 300, tokens: int | None = None,
           learnable: bool = False, lengths: tuple[int, int] = (5, 60), seed: int = 0,
           storage: Storage | None = None) -> tuple[Artifact[TokenizedDataset], Artifact[Tokenizer]]:
    """(dataset, tokenizer) artifacts under root/ (made once; later calls with the same root reuse them).
    `tokens`: generate documents until about this many tokens instead of `documents` documents."""
    from components.contract.address import stable_hash

    storage = storage or Storage()
    # named by what they hold, so a call with other settings never reuses a different artifact
    made = stable_hash([vocab, documents, tokens, learnable, list(lengths), seed])[:12]
    dataset_uri, tokenizer_uri = str(root / f"dataset-{made}"), str(root / f"tokenizer-{vocab}")
    if read_manifest(storage, dataset_uri) is None:
        staging = root / f".staging-dataset-{made}"
        staging.mkdir(parents=True, exist_ok=True)
        rng = np.random.RandomState(seed)
        splits, segments = {}, [{"name": f"segments/{i:05d}", "file": f"synthetic-{i}", "dtype": "",
                                 "roundtrip_failures": 0} for i in range(2)]
        for split, n in (("train", documents), ("validation", max(8, documents // 50))):
            # two segments, the documents split between them, as the tokenize stage lays out its shards' files
            for seg in segments:
                (staging / seg["name"]).mkdir(parents=True, exist_ok=True)
            writers = [IndexedDatasetWriter(staging / seg["name"] / split, np.uint16 if vocab < 65500 else np.int32)
                       for seg in segments]
            made, count = 0, 0
            for ids in _documents(rng, n if tokens is None or split == "validation" else 10**12, vocab, learnable,
                                  lengths):
                by_tokens = tokens is not None and split == "train"
                w = writers[0] if (made < tokens // 2 if by_tokens else count < n // 2) else writers[1]
                w.add_document(ids + [EOD_ID])
                made += len(ids) + 1
                count += 1
                if tokens is not None and split == "train" and made >= tokens:
                    break
            for seg, w in zip(segments, writers):
                w.close()
                seg[split] = {"documents": w.documents, "tokens": w.tokens, "chars": 0}
                seg["dtype"] = w.dtype.name
            splits[split] = Split(documents=sum(w.documents for w in writers), tokens=sum(w.tokens for w in writers),
                                  chars=0)
        (staging / SEGMENTS).write_text(json.dumps({"segments": segments}))
        info = TokenizedDataset(train=splits["train"], validation=splits["validation"],
                                documents=splits["train"].documents + splits["validation"].documents,
                                tokens=splits["train"].tokens + splits["validation"].tokens,
                                dtype=segments[0]["dtype"], tokens_per_char=0.0, validation_roundtrip_failures=0,
                                segments=len(segments), segments_reused=0, tokens_reused=0, task_seconds=0.0)
        _publish(storage, staging, dataset_uri, info)
    if read_manifest(storage, tokenizer_uri) is None:
        staging = root / f".staging-tokenizer-{vocab}"
        staging.mkdir(parents=True, exist_ok=True)
        _word_level(vocab).save(str(staging / "tokenizer.json"))
        quality = TokenizerQuality(documents=0, tokens=0, tokens_per_char=0.0, tokens_per_word=0.0,
                                   byte_fallback_share=0.0, roundtrip_failures=0)
        info = Tokenizer(vocab_size=vocab, learned_vocab=vocab - 4, padded_vocab=-(-vocab // 128) * 128,
                         eod_id=EOD_ID, special_ids={"<pad>": 0, "<eos>": 1, "<|endoftext|>": EOD_ID, "<|sep|>": 3},
                         morphemes="given", sample_documents=None, sample_chars=None, quality=quality,
                         reference_quality=None)
        _publish(storage, staging, tokenizer_uri, info)
    cache = root / "cache"
    return (Artifact("dataset", read_manifest(storage, dataset_uri), storage, cache),
            Artifact("tokenizer", read_manifest(storage, tokenizer_uri), storage, cache))


def _word_level(vocab: int):
    """A real tokenizer.json with ids 0-3 as Polyglot-Ko's and `vocab` entries in all."""
    from tokenizers import Tokenizer as HfTokenizer
    from tokenizers import models, pre_tokenizers

    names = ["<pad>", "<eos>", "<|endoftext|>", "<|sep|>"] + [f"t{i}" for i in range(4, vocab)]
    tok = HfTokenizer(models.WordLevel({n: i for i, n in enumerate(names)}, unk_token="<pad>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()    # text (KoBEST prompts) encodes word by word
    return tok


def _publish(storage: Storage, staging: Path, uri: str, info) -> None:
    files = publish_dir(storage, staging, uri)
    write_manifest(storage, Manifest(kind=info.KIND, stage={"TokenizedDataset": "tokenize"}.get(info.KIND,
                                                                                             "train-tokenizer"),
                                     key="synthetic", uri=uri, files=files, stats=info.to_stats()))


def train_args(root: Path, name: str, dataset: Artifact[TokenizedDataset], tokenizer: Artifact[Tokenizer], *,
               checkpoint_uri: str | None = None, mlflow_tracking_uri: str | None = None,
               mlflow_run_id: str | None = None, kobest_dir: str | None = "data/kobest/v1.0", **settings):
    """The arguments of a training run named `name` under root/: PretrainConfig(**settings) on the two artifacts,
    built as the pretrain stage builds them (local launcher layout: root/name/ckpt, root/name/out)."""
    from components.contract.config import PretrainConfig

    from .args import build
    return build(PretrainConfig(**settings), dataset=dataset, tokenizer=tokenizer,
                 checkpoint_dir=str(root / name / "ckpt"), output_dir=str(root / name / "out"),
                 cache_dir=str(root / "cache"), checkpoint_uri=checkpoint_uri, mlflow_tracking_uri=mlflow_tracking_uri,
                 mlflow_run_id=mlflow_run_id, kobest_dir=kobest_dir)
