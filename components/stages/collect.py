"""collect: the configured sources -> RawCorpus, Parquet shards of {id, text, source, meta}.

Files are assigned to shards round-robin in sorted order, so any (rank, world_size) split covers each file once.
Bad input (broken JSON, invalid UTF-8, a missing or non-text field, oversized records) is quarantined with its
raw bytes and a reason; it never stops the run.
"""
from __future__ import annotations

import glob
import gzip
import json
from pathlib import Path
from typing import Iterator

from ..artifacts import FileEntry, sha256_file
from ..config import CollectConfig, Source
from ..corpus_io import QUARANTINE_SCHEMA, ShardWriter
from ..errors import UserError
from ..stage import merge_counts
from ..storage import Storage, _split_s3, is_s3

CODE_DEPS = ["components.corpus_io"]
FORMATS = ("jsonl", "json", "txt", "parquet")


def list_files(source: Source) -> list[str]:
    """Every file a source names: a file, a directory (recursively), a glob, or an s3:// prefix."""
    uri = source.uri
    if is_s3(uri):
        st = Storage()
        files = [uri] if st.exists(uri) else [f"{uri.rstrip('/')}/{n}" for n in st.list_files(uri)]
    else:
        p = Path(uri)
        if p.is_file():
            files = [str(p)]
        elif p.is_dir():
            files = [str(f) for f in p.rglob("*") if f.is_file()]
        else:
            files = [f for f in glob.glob(uri, recursive=True) if Path(f).is_file()]
    files = sorted(f for f in files if not Path(f).name.startswith("."))
    if not files:
        raise UserError(f"collect: source {source.name!r}: no files at {uri}")
    return files


def file_format(source: Source, path: str) -> str:
    if source.format != "auto":
        if source.format not in FORMATS:
            raise UserError(f"collect: source {source.name!r}: unknown format {source.format!r} "
                            f"(one of {', '.join(FORMATS)})")
        return source.format
    name = path[:-3] if path.endswith(".gz") else path
    for ext, fmt in ((".jsonl", "jsonl"), (".ndjson", "jsonl"), (".json", "json"), (".txt", "txt"),
                     (".parquet", "parquet")):
        if name.endswith(ext):
            return fmt
    raise UserError(f"collect: source {source.name!r}: cannot tell the format of {path} (set format:)")


def _fingerprint(path: str) -> str:
    if is_s3(path):
        bucket, key = _split_s3(path)
        from ..storage import _client
        return _client(None).head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
    return sha256_file(Path(path))


def _relative(source: Source, path: str) -> str:
    """A file's name relative to its source's root: stable across checkouts and buckets."""
    root = source.uri.rstrip("/")
    if path.startswith(root + "/"):
        return path[len(root) + 1:]
    return path.rsplit("/", 1)[-1]


def params(cfg: CollectConfig) -> dict:
    # The address depends on what the files hold, not on where this checkout put them.
    sources = [{"name": s.name, "format": s.format, "text_field": s.text_field, "id_field": s.id_field,
                "license": s.license, "files": [[_relative(s, f), _fingerprint(f)] for f in list_files(s)]}
               for s in cfg.sources]
    return {"sources": sources, "world_size": cfg.world_size, "records_per_file": cfg.records_per_file,
            "max_record_chars": cfg.max_record_chars}


def _open(path: str, local: Path | None) -> bytes:
    data = (local or Path(path)).read_bytes()
    return gzip.decompress(data) if path.endswith(".gz") else data


class _Bad(Exception):
    def __init__(self, reason: str, raw: bytes):
        self.reason, self.raw = reason, raw


def _records(source: Source, path: str, fmt: str, local: Path | None) -> Iterator[tuple[str, object]]:
    """Yield (location, record dict or _Bad) for every record in one file."""
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq
            pf = pq.ParquetFile(local or path)
            n = 0
            for batch in pf.iter_batches(batch_size=4096):
                for row in batch.to_pylist():
                    yield f"{path}#{n}", row
                    n += 1
            return
        data = _open(path, local)
    except (OSError, EOFError, ValueError) as e:  # truncated gzip, unreadable file
        yield path, _Bad(f"unreadable_file:{type(e).__name__}", b"")
        return
    if fmt == "txt":
        try:
            yield path, {"text": data.decode("utf-8-sig")}
        except UnicodeDecodeError:
            yield path, _Bad("invalid_utf8", data)
        return
    if fmt == "json":
        try:
            items = json.loads(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            yield path, _Bad("invalid_json", data)
            return
        for i, item in enumerate(items if isinstance(items, list) else [items]):
            yield f"{path}#{i}", item
        return
    for i, line in enumerate(data.split(b"\n")):
        if not line.strip():
            continue
        try:
            yield f"{path}:{i + 1}", json.loads(line.decode("utf-8-sig" if i == 0 else "utf-8"))
        except UnicodeDecodeError:
            yield f"{path}:{i + 1}", _Bad("invalid_utf8", line)
        except json.JSONDecodeError:
            yield f"{path}:{i + 1}", _Bad("invalid_json", line)


def map_shard(cfg: CollectConfig, inputs, rank: int, world_size: int, out) -> dict:
    tasks = [(s, f) for s in cfg.sources for f in list_files(s)]
    mine = [t for i, t in enumerate(tasks) if i % world_size == rank]
    writer = ShardWriter(out.dir, f"raw-{rank:05d}", cfg.records_per_file)
    quarantine = ShardWriter(out.dir, f"quarantine-{rank:05d}", cfg.records_per_file, QUARANTINE_SCHEMA)
    stats = {"records_in": 0, "records_out": 0, "dropped": {}, "quarantined": {}, "chars": 0, "files": len(mine),
             "sources": {}}
    storage = Storage()
    for source, path in mine:
        fmt = file_format(source, path)
        local = storage.fetch(path, out.dir.parent / f"{out.dir.name}-fetch" / Path(path).name) if is_s3(path) else None
        rel = _relative(source, path)
        per = stats["sources"].setdefault(source.name, {"records": 0, "chars": 0})
        for loc, item in _records(source, path, fmt, local):
            stats["records_in"] += 1
            reason, raw = None, b""
            if isinstance(item, _Bad):
                reason, raw = item.reason, item.raw
            elif not isinstance(item, dict):
                reason, raw = "not_an_object", json.dumps(item, ensure_ascii=False).encode()
            else:
                text = item.get(source.text_field)
                if not isinstance(text, str):
                    reason = "missing_text_field" if text is None else "text_not_a_string"
                elif len(text) > cfg.max_record_chars:
                    reason = "oversized"
                if reason:
                    raw = json.dumps(item, ensure_ascii=False, default=str).encode()
            if reason:
                stats["quarantined"][reason] = stats["quarantined"].get(reason, 0) + 1
                quarantine.write({"source": source.name, "location": loc.replace(path, rel, 1), "reason": reason,
                                  "raw": raw})
                continue
            rid = item.get(source.id_field) if source.id_field else None
            meta = {k: v for k, v in item.items() if k not in (source.text_field, source.id_field)}
            meta["license"] = source.license
            writer.write({"id": f"{source.name}/{rid}" if rid is not None else f"{source.name}/{loc.replace(path, rel, 1)}",
                          "text": text, "source": source.name,
                          "meta": json.dumps(meta, ensure_ascii=False, default=str)})
            stats["records_out"] += 1
            stats["chars"] += len(text)
            per["records"] += 1
            per["chars"] += len(text)
    writer.close()
    quarantine.close()
    return stats


def reduce(cfg: CollectConfig, inputs, parts, out, ctx) -> dict:
    # The shards are the corpus: the manifest lists the parts' files, nothing is copied.
    for p in parts:
        prefix = "parts/" + p.uri.rsplit("/parts/", 1)[1]
        out.adopted += [FileEntry(name=f"{prefix}/{f.name}", bytes=f.bytes, sha256=f.sha256) for f in p.files]
    return merge_counts([p.stats for p in parts])
