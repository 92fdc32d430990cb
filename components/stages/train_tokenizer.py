"""train-tokenizer: CuratedCorpus (a deterministic sample) -> Tokenizer (HF files), or a given tokenizer.

It reads what it samples: the corpus's row groups in hashed order until `sample_chars` (and the held-out
documents the quality report needs) are in hand, so its time follows `sample_chars`, not the corpus."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..contract.artifact import Artifact, Output
from ..contract.config import TrainTokenizerConfig
from ..contract.kinds import CuratedCorpus, Tokenizer, TokenizerQuality
from ..contract.progress import Progress
from ..contract.manifest import sha256_file
from ..corpus.records import curated_files
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


def reused(cfg: TrainTokenizerConfig) -> str | None:
    """The Tokenizer artifact to take as it is (`reuse`), so a retrained model keeps its champion's vocabulary."""
    if cfg.reuse == "champion":
        raise UserError("train_tokenizer.reuse: `champion` is resolved when a pipeline run begins (polyglot-ko run, "
                        "or begin); give a Tokenizer artifact's URI to run the stage alone")
    return cfg.reuse


def params(cfg: TrainTokenizerConfig) -> dict:
    given, ref = _given(cfg), _reference(cfg)
    p = {"pretrained_sha256": sha256_file(given)} if given else \
        {k: v for k, v in vars(cfg).items() if k not in ("pretrained", "compare_with")}
    p["compare_with_sha256"] = sha256_file(ref) if ref else None
    p.update(heldout_documents=cfg.heldout_documents, heldout_fraction=cfg.heldout_fraction)
    return p


def _hash01(doc_id: str) -> float:
    return int.from_bytes(hashlib.blake2b(doc_id.encode(), digest_size=8).digest(), "big") / 2**64


def _row_groups(corpus: Artifact[CuratedCorpus]) -> list[tuple[float, str, int]]:
    """Every row group of the corpus's data files as (hash of its name, file, index), in hash order: what the
    sample and the held-out documents are read from. Only the files' footers are read here."""
    units = []
    for f in curated_files(corpus.manifest):
        groups = corpus.parquet(f.name).metadata.num_row_groups
        units += [(_hash01(f"{f.name}#{i}"), f.name, i) for i in range(groups)]
    return sorted(units)


def _split(corpus: Artifact[CuratedCorpus], cfg: TrainTokenizerConfig):
    """(is_heldout, text) per document, row group by row group in hashed order (a deterministic random order of
    the corpus's pieces): a consumer that stops once it has enough reads that much, not the corpus. Within a row
    group, the top `heldout_fraction` of hashed document ids is never trained on."""
    keep = 1.0 - cfg.heldout_fraction
    for _, name, index in _row_groups(corpus):
        table = corpus.parquet(name).read_row_group(index, columns=["id", "text"])
        for rec in table.to_pylist():
            yield _hash01(rec["id"]) >= keep, rec["text"]


def _sample(corpus: Artifact[CuratedCorpus], cfg: TrainTokenizerConfig):
    """The training documents: the first `sample_chars` characters' worth, in that order."""
    chars = 0
    for held, text in _split(corpus, cfg):
        if held:
            continue
        if chars >= cfg.sample_chars:
            return
        chars += len(text)
        yield text


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
