"""train-tokenizer: CuratedCorpus (a deterministic sample) -> Tokenizer (HF files), or a given tokenizer."""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from ..artifacts import sha256_file
from ..config import TrainTokenizerConfig
from ..corpus_io import read_records
from ..errors import UserError
from ..tokenizer_build import EOD, PII, SPECIAL, padded_vocab, save_hf, segment_morphemes, train_bpe

CODE_DEPS = ["components.tokenizer_build"]


def _given(cfg: TrainTokenizerConfig) -> Path | None:
    if not cfg.pretrained:
        return None
    p = Path(cfg.pretrained)
    p = p / "tokenizer.json" if p.is_dir() else p
    if not p.is_file():
        raise UserError(f"train_tokenizer.pretrained: no tokenizer.json at {cfg.pretrained}")
    return p


def params(cfg: TrainTokenizerConfig) -> dict:
    given = _given(cfg)
    if given:
        return {"pretrained_sha256": sha256_file(given)}
    return {k: v for k, v in vars(cfg).items() if k != "pretrained"}


def _sample(corpus, cfg: TrainTokenizerConfig):
    """Documents whose hashed id falls under the sampling rate: the same sample on every run and shard layout."""
    total = max(1, corpus.manifest.stats.get("chars_out", 1))
    rate = min(1.0, cfg.sample_chars / total)
    threshold = int(rate * 2**64)
    for rec in read_records(corpus.paths("data/", ".parquet"), columns=["id", "text"]):
        h = int.from_bytes(hashlib.blake2b(rec["id"].encode(), digest_size=8).digest(), "big")
        if h < threshold or rate >= 1.0:
            yield rec["text"]


def run(cfg: TrainTokenizerConfig, inputs, out, ctx) -> dict:
    given = _given(cfg)
    if given:
        from tokenizers import Tokenizer
        tok = Tokenizer.from_file(str(given))
        learned = tok.get_vocab_size()
    else:
        if cfg.morphemes not in ("kiwi", "none"):
            raise UserError(f"train_tokenizer.morphemes must be kiwi or none, got {cfg.morphemes!r}")
        stats = {"sample_documents": 0, "sample_chars": 0}

        def texts():
            for t in _sample(inputs["corpus"], cfg):
                stats["sample_documents"] += 1
                stats["sample_chars"] += len(t)
                yield t

        stream = segment_morphemes(texts()) if cfg.morphemes == "kiwi" else texts()
        tok, learned = train_bpe(stream, cfg.vocab_size, cfg.min_frequency)
    tok.save(str(out.dir / "tokenizer.json"))
    save_hf(tok, out.dir)
    size = tok.get_vocab_size()
    result = {"vocab_size": size, "learned_vocab": learned, "padded_vocab": padded_vocab(size),
              "eod_id": tok.token_to_id(EOD),
              "special_ids": {t: tok.token_to_id(t) for t in SPECIAL + PII if tok.token_to_id(t) is not None}}
    if not given:
        result.update(stats)
    return result
