"""tokenize: CuratedCorpus + Tokenizer -> TokenizedDataset: Megatron indexed datasets `train` and `validation`.

Every document ends with the end-of-document token. The split is by hashed document id, so it does not depend
on shard layout or order. Memory stays bounded: documents stream through in batches.
"""
from __future__ import annotations

import hashlib

from ..config import TokenizeConfig
from ..corpus_io import read_records
from ..errors import StageFailed
from ..indexed_dataset import IndexedDatasetWriter, dtype_for_vocab

CODE_DEPS = ["components.indexed_dataset"]


def run(cfg: TokenizeConfig, inputs, out, ctx) -> dict:
    from tokenizers import Tokenizer

    corpus, tk = inputs["corpus"], inputs["tokenizer"]
    tok = Tokenizer.from_file(str(tk.path("tokenizer.json")))
    eod = tk.manifest.stats["eod_id"]
    docs_total = max(1, corpus.manifest.stats.get("records_out", 1))
    frac = max(cfg.validation_fraction, cfg.min_validation_documents / docs_total)
    threshold = int(min(frac, 0.5) * 2**64)
    dtype = dtype_for_vocab(tok.get_vocab_size())
    writers = {s: IndexedDatasetWriter(out.dir / s, dtype) for s in ("train", "validation")}
    chars = {"train": 0, "validation": 0}

    def flush(batch):
        encs = tok.encode_batch([t for _, t in batch], add_special_tokens=False)
        for (split, text), enc in zip(batch, encs):
            writers[split].add_document(enc.ids + [eod])
            chars[split] += len(text)

    batch = []
    for rec in read_records(corpus.paths("data/", ".parquet"), columns=["id", "text"]):
        h = int.from_bytes(hashlib.blake2b(rec["id"].encode(), digest_size=8).digest(), "big")
        batch.append(("validation" if h < threshold else "train", rec["text"]))
        if len(batch) >= cfg.batch_size:
            flush(batch)
            batch = []
    if batch:
        flush(batch)
    for w in writers.values():
        w.close()
    stats = {s: {"documents": len(w.sizes), "tokens": w.tokens, "chars": chars[s]} for s, w in writers.items()}
    if stats["train"]["documents"] == 0 or stats["validation"]["documents"] == 0:
        raise StageFailed(f"tokenize: empty split ({stats}); the corpus is too small")
    stats["tokens"] = stats["train"]["tokens"] + stats["validation"]["tokens"]
    stats["documents"] = stats["train"]["documents"] + stats["validation"]["documents"]
    stats["dtype"] = str(dtype.__name__)
    stats["tokens_per_char"] = round(stats["tokens"] / max(1, chars["train"] + chars["validation"]), 4)
    return stats
