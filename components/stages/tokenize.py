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

import json
import shutil
import time

from ..contract.address import code_version, stable_hash
from ..contract.artifact import Artifact, Output, Part, Shard
from ..contract.config import TokenizeConfig
from ..contract.kinds import CuratedCorpus, Split, TokenizedDataset, Tokenizer
from ..contract.manifest import STAGE_PREFIX, FileEntry, publish_dir
from ..contract.progress import Progress
from ..contract.storage import join
from ..corpus.records import curated_files
from ..errors import StageFailed, UserError
from ..tokenizer import encode
from ..tokenizer.segments import SEGMENTS, SPLITS

SEGMENT = "segment.json"


def params(cfg: TokenizeConfig) -> dict:
    # how many tasks and how much text per encode call change no byte of the result
    return {"validation_fraction": cfg.validation_fraction, "min_validation_documents": cfg.min_validation_documents}


def data_files(corpus: Artifact[CuratedCorpus]) -> list[FileEntry]:
    """The curated corpus's data files in corpus order."""
    return curated_files(corpus.manifest)


def map_shard(cfg: TokenizeConfig, *, corpus: Artifact[CuratedCorpus], tokenizer: Artifact[Tokenizer],
              shard: Shard, out: Output) -> dict:
    import tokenizers

    files = data_files(corpus)
    mine = shard.run_of(files, [f.bytes for f in files])
    tok = tokenizers.Tokenizer.from_file(str(tokenizer.path("tokenizer.json")))
    eod = tokenizer.info.eod_id
    vocab = next(f.sha256 for f in tokenizer.manifest.files if f.name == "tokenizer.json")
    # what decides a segment's bytes: the encoding code and library, not this module's scheduling and reporting
    code = [code_version(encode.__name__), tokenizers.__version__]
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
            counts = encode.tokenize_file(tok, eod, corpus.parquet(f.name), staging,
                                          encode.validation_threshold(cfg.validation_fraction), cfg.batch_chars,
                                          progress)
            doc = {"file": f.name, "sha256": f.sha256, **counts,
                   "files": [vars(e) for e in publish_dir(out.storage, staging, uri)]}
            shutil.rmtree(staging)     # one segment on local disk at a time, and none left for the part
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
