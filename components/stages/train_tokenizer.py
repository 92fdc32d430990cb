"""train-tokenizer: CuratedCorpus (a deterministic sample) -> Tokenizer (HF files), or a given tokenizer."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..contract.artifact import Artifact, Output
from ..contract.config import TrainTokenizerConfig
from ..contract.kinds import CuratedCorpus, Tokenizer, TokenizerQuality
from ..contract.progress import Progress
from ..contract.manifest import sha256_file
from ..corpus.records import read_records
from ..errors import UserError
from ..tokenizer.mbbpe import EOD, PII, SPECIAL, padded_vocab, save_hf, segment_morphemes, train_bpe
from ..tokenizer.quality import report as tokenizer_report


def _tokenizer_file(path: str | None, key: str) -> Path | None:
    """tokenizer.json named by a config value: the file itself or an HF directory holding it."""
    if not path:
        return None
    p = Path(path)
    p = p / "tokenizer.json" if p.is_dir() else p
    if not p.is_file():
        raise UserError(f"train_tokenizer.{key}: no tokenizer.json at {path}")
    return p


def _given(cfg: TrainTokenizerConfig) -> Path | None:
    return _tokenizer_file(cfg.pretrained, "pretrained")


def _reference(cfg: TrainTokenizerConfig) -> Path | None:
    return _tokenizer_file(cfg.compare_with, "compare_with")


def params(cfg: TrainTokenizerConfig) -> dict:
    given, ref = _given(cfg), _reference(cfg)
    p = {"pretrained_sha256": sha256_file(given)} if given else \
        {k: v for k, v in vars(cfg).items() if k not in ("pretrained", "compare_with")}
    p["compare_with_sha256"] = sha256_file(ref) if ref else None
    p.update(heldout_documents=cfg.heldout_documents, heldout_fraction=cfg.heldout_fraction)
    return p


def _hash01(doc_id: str) -> float:
    return int.from_bytes(hashlib.blake2b(doc_id.encode(), digest_size=8).digest(), "big") / 2**64


def _split(corpus: Artifact[CuratedCorpus], cfg: TrainTokenizerConfig):
    """(is_heldout, text) per document, by hashed id: the top `heldout_fraction` of hashes is never trained on;
    of the rest, a `sample_chars`-sized sample is. Same split on every run and shard layout."""
    keep = 1.0 - cfg.heldout_fraction
    rate = min(1.0, cfg.sample_chars / max(1.0, keep * corpus.info.chars_out))
    for rec in read_records(corpus.parquet_files("data/"), columns=["id", "text"]):
        h = _hash01(rec["id"])
        if h >= keep:
            yield True, rec["text"]
        elif h < rate * keep:
            yield False, rec["text"]


def _sample(corpus: Artifact[CuratedCorpus], cfg: TrainTokenizerConfig):
    return (t for held, t in _split(corpus, cfg) if not held)


def _heldout(corpus: Artifact[CuratedCorpus], cfg: TrainTokenizerConfig) -> list[str]:
    out = []
    for held, text in _split(corpus, cfg):
        if held:
            out.append(text)
            if len(out) >= cfg.heldout_documents:
                break
    if not out:
        raise UserError("train_tokenizer: no held-out documents (raise heldout_fraction or use a larger corpus)")
    return out


def run(cfg: TrainTokenizerConfig, *, corpus: Artifact[CuratedCorpus], out: Output) -> Tokenizer:
    import tokenizers

    given = _given(cfg)
    if given:
        tok = tokenizers.Tokenizer.from_file(str(given))
        pii_ids = [i for i in map(tok.token_to_id, PII) if i is not None]
        learned = min(pii_ids) if pii_ids else tok.get_vocab_size()   # the PII tokens follow the learned ones
    else:
        stats = {"sample_documents": 0, "sample_chars": 0}

        expected = min(cfg.sample_chars, int(corpus.info.chars_out * (1 - cfg.heldout_fraction)))
        progress = Progress("train-tokenizer: sample", total=expected, unit="chars")

        def texts():
            for t in _sample(corpus, cfg):
                stats["sample_documents"] += 1
                stats["sample_chars"] += len(t)
                progress.advance(len(t))
                yield t

        stream = segment_morphemes(texts()) if cfg.morphemes == "kiwi" else texts()
        tok, learned = train_bpe(stream, cfg.vocab_size, cfg.min_frequency)
        progress.close()
    tok.save(str(out.dir / "tokenizer.json"))
    save_hf(tok, out.dir)
    ref_path = _reference(cfg)
    quality, md = tokenizer_report(tok, tokenizers.Tokenizer.from_file(str(ref_path)) if ref_path else None,
                                   _heldout(corpus, cfg))
    (out.dir / "quality.json").write_text(json.dumps(quality, ensure_ascii=False, indent=2), encoding="utf-8")
    (out.dir / "quality.md").write_text(md, encoding="utf-8")
    out.reports += [out.dir / "quality.md", out.dir / "quality.json"]
    size = tok.get_vocab_size()
    eod = tok.token_to_id(EOD)
    if eod is None:
        raise UserError(f"train_tokenizer.pretrained: {given} has no {EOD} token (the end-of-document token every "
                        "tokenized document ends with)")
    return Tokenizer(
        vocab_size=size, learned_vocab=learned, padded_vocab=padded_vocab(size), eod_id=eod,
        special_ids={t: tok.token_to_id(t) for t in SPECIAL + PII if tok.token_to_id(t) is not None},
        morphemes="given" if given else cfg.morphemes,
        sample_documents=None if given else stats["sample_documents"],
        sample_chars=None if given else stats["sample_chars"],
        quality=TokenizerQuality(**quality["trained"]),
        reference_quality=TokenizerQuality(**quality["reference"]) if "reference" in quality else None)
