"""tokenize: CuratedCorpus + Tokenizer -> TokenizedDataset: Megatron indexed datasets `train` and `validation`.

Every document ends with the end-of-document token. The split is by hashed document id, so it does not depend
on shard layout or order. Memory stays bounded: documents stream through in batches.
"""
from __future__ import annotations

import hashlib
import json

from ..contract.artifact import Artifact, Output
from ..contract.config import TokenizeConfig
from ..contract.kinds import CuratedCorpus, Split, TokenizedDataset, Tokenizer
from ..contract.progress import Progress
from ..corpus.records import read_records
from ..errors import StageFailed
from ..tokenizer.indexed_dataset import IndexedDatasetWriter, dtype_for_vocab


def _batches(paths, batch_chars: int):
    """Lists of (id, text) of about `batch_chars` characters, read ahead on a thread while the caller encodes
    (encode_batch releases the GIL, so reading Parquet and encoding overlap)."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=2)

    def produce():
        try:
            batch, size = [], 0
            for rec in read_records(paths, columns=["id", "text"]):
                batch.append((rec["id"], rec["text"]))
                size += len(rec["text"])
                if size >= batch_chars:
                    q.put(batch)
                    batch, size = [], 0
            if batch:
                q.put(batch)
            q.put(None)
        except BaseException as e:   # surface reader errors in the caller
            q.put(e)

    threading.Thread(target=produce, daemon=True).start()
    while (item := q.get()) is not None:
        if isinstance(item, BaseException):
            raise item
        yield item


def run(cfg: TokenizeConfig, *, corpus: Artifact[CuratedCorpus], tokenizer: Artifact[Tokenizer],
        out: Output) -> TokenizedDataset:
    import tokenizers

    tok = tokenizers.Tokenizer.from_file(str(tokenizer.path("tokenizer.json")))
    eod = tokenizer.info.eod_id
    docs_total = max(1, corpus.info.records_out)
    frac = max(cfg.validation_fraction, cfg.min_validation_documents / docs_total)
    threshold = int(min(frac, 0.5) * 2**64)
    dtype = dtype_for_vocab(tok.get_vocab_size())
    writers = {s: IndexedDatasetWriter(out.dir / s, dtype) for s in ("train", "validation")}
    chars = {"train": 0, "validation": 0}
    roundtrip_failures = []
    progress = Progress("tokenize", total=corpus.info.records_out, unit="documents")
    for batch in _batches(corpus.parquet_files("data/"), cfg.batch_chars):
        encs = tok.encode_batch([t for _, t in batch], add_special_tokens=False)
        for (doc_id, text), enc in zip(batch, encs):
            h = int.from_bytes(hashlib.blake2b(doc_id.encode(), digest_size=8).digest(), "big")
            split = "validation" if h < threshold else "train"
            ids = enc.ids
            writers[split].add_document(ids + [eod])
            chars[split] += len(text)
            # every validation document must come back exactly: the tokenizer loses nothing
            if split == "validation" and tok.decode(ids, skip_special_tokens=False) != text:
                roundtrip_failures.append(doc_id)
        progress.advance(len(batch), tokens=f"{sum(w.tokens for w in writers.values()):,}")
    progress.close()
    for w in writers.values():
        w.close()
    splits = {s: Split(documents=w.documents, tokens=w.tokens, chars=chars[s]) for s, w in writers.items()}
    if splits["train"].documents == 0 or splits["validation"].documents == 0:
        raise StageFailed(f"tokenize: empty split ({splits}); the corpus is too small")
    tokens = splits["train"].tokens + splits["validation"].tokens
    if roundtrip_failures:
        (out.dir / "roundtrip_failures.json").write_text(json.dumps(roundtrip_failures[:1000]), encoding="utf-8")
    return TokenizedDataset(
        train=splits["train"], validation=splits["validation"], tokens=tokens,
        documents=splits["train"].documents + splits["validation"].documents, dtype=str(dtype.__name__),
        tokens_per_char=round(tokens / max(1, chars["train"] + chars["validation"]), 4),
        validation_roundtrip_failures=len(roundtrip_failures))
