"""Documents -> token ids -> one segment's indexed datasets: the part of tokenize that decides a segment's bytes.

A segment's address includes this module's code version (and the tokenizers library's), not the stage's: editing
how the stage schedules, reuses or reports its work does not make 1.2 TB of segments look new.
"""
from __future__ import annotations

import hashlib
import json

from ..contract.progress import Progress
from ..corpus.records import read_records
from .indexed_dataset import SPLITS, IndexedDatasetWriter, dtype_for_vocab

ROUNDTRIP_FAILURES = "roundtrip_failures.json"


def validation_threshold(fraction: float) -> int:
    """Documents whose 64-bit id hash falls below this are held out."""
    return int(min(fraction, 0.5) * 2**64)


def batches(files, batch_chars: int):
    """Lists of (id, text) of about `batch_chars` characters, read ahead on a thread while the caller encodes
    (encode_batch releases the GIL, so reading Parquet and encoding overlap)."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=2)

    def produce():
        try:
            batch, size = [], 0
            for rec in read_records(files, columns=["id", "text"]):
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


def encoded(tok, stream):
    """(batch, encodings) in order, batch n+1 encoding on a thread (encode_batch_fast releases the GIL and spreads
    over every core) while the caller writes batch n: the Python per document overlaps the encoder."""
    from concurrent.futures import ThreadPoolExecutor

    def encode(batch):
        # the ids only (no character offsets): what the datasets hold, at less cost than encode_batch
        return tok.encode_batch_fast([t for _, t in batch], add_special_tokens=False)

    with ThreadPoolExecutor(1) as pool:
        ahead = None
        for batch in stream:
            future = pool.submit(encode, batch)
            if ahead is not None:
                yield ahead[0], ahead[1].result()
            ahead = (batch, future)
        if ahead is not None:
            yield ahead[0], ahead[1].result()


def tokenize_file(tok, eod: int, parquet, staging, threshold: int, batch_chars: int,
                  progress: Progress | None = None) -> dict:
    """One curated file -> staging/{train,validation}.{bin,idx}; returns the segment's counts."""
    dtype = dtype_for_vocab(tok.get_vocab_size())
    writers = {s: IndexedDatasetWriter(staging / s, dtype) for s in SPLITS}
    chars = dict.fromkeys(SPLITS, 0)
    failures = []
    for batch, encs in encoded(tok, batches([parquet], batch_chars)):
        for (doc_id, text), enc in zip(batch, encs):
            h = int.from_bytes(hashlib.blake2b(doc_id.encode(), digest_size=8).digest(), "big")
            split = "validation" if h < threshold else "train"
            ids = enc.ids
            writers[split].add_document(ids + [eod])
            chars[split] += len(text)
            # every validation document must come back exactly: the tokenizer loses nothing
            if split == "validation" and tok.decode(ids, skip_special_tokens=False) != text:
                failures.append(doc_id)
        if progress is not None:
            progress.advance(len(batch))
    for w in writers.values():
        w.close()
    if failures:
        (staging / ROUNDTRIP_FAILURES).write_text(json.dumps(failures[:1000]), encoding="utf-8")
    return {"dtype": dtype.__name__, "roundtrip_failures": len(failures),
            **{s: {"documents": w.documents, "tokens": w.tokens, "chars": chars[s]} for s, w in writers.items()}}
