"""tokenize: CuratedCorpus + Tokenizer -> TokenizedDataset, in `world_size` shards and a reduce that moves no token.

- shard (`world_size` tasks): task r takes a run of consecutive curated data files, balanced by bytes, and turns
  each into a segment: Megatron indexed datasets `train` and `validation` (components/tokenizer/segments.py),
  published under the stage's root and addressed by the file's checksum, the tokenizer, the validation share and
  this code. A segment made before (an unchanged file in a later corpus, or a retried task) is reused as it is.
- reduce: `segments.json` (the segments in corpus order with their counts) and the manifest.

Every document ends with the end-of-document token. The split is by hashed document id, so it depends on neither
the shard layout nor the size of the corpus (which would change every segment when documents are added). Every
validation document is decoded again and must come back exactly. A task's memory is its read-ahead batches: the
writers keep nothing per document.
"""
from __future__ import annotations

import hashlib
import json
import time

from ..contract.address import code_version, stable_hash
from ..contract.artifact import Artifact, Output, Part, Shard
from ..contract.config import TokenizeConfig
from ..contract.kinds import CuratedCorpus, Split, TokenizedDataset, Tokenizer
from ..contract.manifest import STAGE_PREFIX, FileEntry, publish_dir
from ..contract.progress import Progress
from ..contract.storage import join
from ..corpus.records import file_order, read_records
from ..errors import StageFailed, UserError
from ..tokenizer.indexed_dataset import IndexedDatasetWriter, dtype_for_vocab
from ..tokenizer.segments import SEGMENTS, SPLITS

SEGMENT = "segment.json"
ROUNDTRIP_FAILURES = "roundtrip_failures.json"


def params(cfg: TokenizeConfig) -> dict:
    # how many tasks and how much text per encode call change no byte of the result
    return {"validation_fraction": cfg.validation_fraction, "min_validation_documents": cfg.min_validation_documents}


def _batches(files, batch_chars: int):
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


def _encoded(tok, batches):
    """(batch, encodings) in order, batch n+1 encoding on a thread (encode_batch_fast releases the GIL and spreads
    over every core) while the caller writes batch n: the Python per document overlaps the encoder."""
    from concurrent.futures import ThreadPoolExecutor

    def encode(batch):
        # the ids only (no character offsets): what the datasets hold, at less cost than encode_batch
        return tok.encode_batch_fast([t for _, t in batch], add_special_tokens=False)

    with ThreadPoolExecutor(1) as pool:
        ahead = None
        for batch in batches:
            future = pool.submit(encode, batch)
            if ahead is not None:
                yield ahead[0], ahead[1].result()
            ahead = (batch, future)
        if ahead is not None:
            yield ahead[0], ahead[1].result()


def data_files(corpus: Artifact[CuratedCorpus]) -> list[FileEntry]:
    """The curated corpus's data files in corpus order."""
    files = [f for f in corpus.manifest.files_under("data/") if f.name.endswith(".parquet")]
    return sorted(files, key=lambda f: file_order(f.name))


def _threshold(cfg: TokenizeConfig) -> int:
    return int(min(cfg.validation_fraction, 0.5) * 2**64)


def tokenize_file(tok, eod: int, parquet, staging, threshold: int, batch_chars: int, progress: Progress) -> dict:
    """One curated file -> staging/{train,validation}.{bin,idx}; returns the segment's counts."""
    dtype = dtype_for_vocab(tok.get_vocab_size())
    writers = {s: IndexedDatasetWriter(staging / s, dtype) for s in SPLITS}
    chars = dict.fromkeys(SPLITS, 0)
    failures = []
    for batch, encs in _encoded(tok, _batches([parquet], batch_chars)):
        for (doc_id, text), enc in zip(batch, encs):
            h = int.from_bytes(hashlib.blake2b(doc_id.encode(), digest_size=8).digest(), "big")
            split = "validation" if h < threshold else "train"
            ids = enc.ids
            writers[split].add_document(ids + [eod])
            chars[split] += len(text)
            # every validation document must come back exactly: the tokenizer loses nothing
            if split == "validation" and tok.decode(ids, skip_special_tokens=False) != text:
                failures.append(doc_id)
        progress.advance(len(batch))
    for w in writers.values():
        w.close()
    if failures:
        (staging / ROUNDTRIP_FAILURES).write_text(json.dumps(failures[:1000]), encoding="utf-8")
    return {"dtype": dtype.__name__, "roundtrip_failures": len(failures),
            **{s: {"documents": w.documents, "tokens": w.tokens, "chars": chars[s]} for s, w in writers.items()}}


def map_shard(cfg: TokenizeConfig, *, corpus: Artifact[CuratedCorpus], tokenizer: Artifact[Tokenizer],
              shard: Shard, out: Output) -> dict:
    import tokenizers

    files = data_files(corpus)
    mine = shard.run_of(files, [f.bytes for f in files])
    tok = tokenizers.Tokenizer.from_file(str(tokenizer.path("tokenizer.json")))
    eod = tokenizer.info.eod_id
    vocab = next(f.sha256 for f in tokenizer.manifest.files if f.name == "tokenizer.json")
    code = code_version(__name__)
    segments = []
    done = {"reused": {"segments": 0, "documents": 0, "tokens": 0},
            "computed": {"segments": 0, "documents": 0, "tokens": 0, "seconds": 0.0}}
    progress = Progress(f"tokenize {shard.label}", unit="documents")
    for i, f in enumerate(mine):
        key = stable_hash({"file": f.sha256, "tokenizer": vocab, "eod": eod,
                           "validation_fraction": cfg.validation_fraction, "code": code})
        rel = f"segments/{key[:24]}"
        uri = join(out.stage_root, rel)
        if out.storage.exists(join(uri, SEGMENT)):        # this file was tokenized before: reuse
            doc = json.loads(out.storage.read_bytes(join(uri, SEGMENT)))
            how = "reused"
        else:
            t0 = time.time()
            staging = out.dir / key[:12]
            staging.mkdir(parents=True)
            counts = tokenize_file(tok, eod, corpus.parquet(f.name), staging, _threshold(cfg), cfg.batch_chars,
                                   progress)
            doc = {"file": f.name, "sha256": f.sha256, **counts,
                   "files": [vars(e) for e in publish_dir(out.storage, staging, uri)]}
            out.storage.write_bytes(join(uri, SEGMENT), json.dumps(doc).encode())
            how = "computed"
            done[how]["seconds"] += time.time() - t0
        out.adopted += [FileEntry(name=f"{STAGE_PREFIX}{rel}/{e['name']}", bytes=e["bytes"], sha256=e["sha256"])
                        for e in doc["files"]]
        documents = doc["train"]["documents"] + doc["validation"]["documents"]
        done[how]["segments"] += 1
        done[how]["documents"] += documents
        done[how]["tokens"] += doc["train"]["tokens"] + doc["validation"]["tokens"]
        segments.append({"name": f"{STAGE_PREFIX}{rel}", "file": f.name, "dtype": doc["dtype"],
                         "roundtrip_failures": doc["roundtrip_failures"], **{s: doc[s] for s in SPLITS}})
        progress.advance(documents if how == "reused" else 0, files=f"{i + 1}/{len(mine)}")
    progress.close()
    documents = sum(s["train"]["documents"] + s["validation"]["documents"] for s in segments)
    done["computed"]["seconds"] = round(done["computed"]["seconds"], 3)
    # every curated record becomes one document; `work` is what this task encoded (step telemetry)
    return {"records_in": documents, "records_out": documents, "dropped": {}, "quarantined": {},
            "segments": segments, "work": done["computed"]["tokens"], **done}


def reduce(cfg: TokenizeConfig, *, corpus: Artifact[CuratedCorpus], tokenizer: Artifact[Tokenizer],
           steps: dict[str, list[Part]], out: Output) -> TokenizedDataset:
    parts = steps["shard"]
    segments = [s for p in parts for s in p.stats["segments"]]
    for p in parts:
        out.adopted += p.adopted
    expected = [f.name for f in data_files(corpus)]
    if [s["file"] for s in segments] != expected:
        raise StageFailed(f"tokenize: the shards tokenized {len(segments)} files, the corpus has {len(expected)} "
                          "(or not in corpus order)")
    splits = {s: Split(**{k: sum(seg[s][k] for seg in segments) for k in ("documents", "tokens", "chars")})
              for s in SPLITS}
    if splits["train"].documents + splits["validation"].documents != corpus.info.records_out:
        raise StageFailed(f"tokenize: {splits['train'].documents + splits['validation'].documents} documents "
                          f"tokenized, the corpus has {corpus.info.records_out}")
    if splits["train"].documents == 0:
        raise StageFailed(f"tokenize: empty train split ({splits}); the corpus is too small")
    if splits["validation"].documents < max(1, cfg.min_validation_documents):
        raise UserError(f"tokenize: {splits['validation'].documents} validation documents, fewer than "
                        f"min_validation_documents ({cfg.min_validation_documents}) at validation_fraction "
                        f"{cfg.validation_fraction} of {corpus.info.records_out:,} documents: raise "
                        "tokenize.validation_fraction")
    (out.dir / SEGMENTS).write_text(json.dumps({"segments": segments}, ensure_ascii=False), encoding="utf-8")
    reused = {k: sum(p.stats["reused"][k] for p in parts) for k in ("segments", "documents", "tokens")}
    tokens = splits["train"].tokens + splits["validation"].tokens
    return TokenizedDataset(
        train=splits["train"], validation=splits["validation"], tokens=tokens,
        documents=splits["train"].documents + splits["validation"].documents, dtype=segments[0]["dtype"],
        tokens_per_char=round(tokens / max(1, splits["train"].chars + splits["validation"].chars), 4),
        validation_roundtrip_failures=sum(s["roundtrip_failures"] for s in segments),
        segments=len(segments), segments_reused=reused["segments"], tokens_reused=reused["tokens"],
        task_seconds=round(sum(p.stats["computed"]["seconds"] for p in parts), 3))
