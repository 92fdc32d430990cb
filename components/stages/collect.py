"""collect: the configured sources -> RawCorpus, Parquet shards of {id, text, source, meta}.

Incremental: every input file is collected into a segment addressed by (source settings, file checksum, reader
code), under <artifact_root>/collect/segments/<source>/<file>/<key>/. A RawCorpus lists the segments of the files
its sources hold now, so a scheduled run only reads new or changed files, and the corpus is the union. Sources are
files, directories or globs (components/corpus/sources.py), listed once per run; files go to shards by bytes (each
shard reads about as much as every other), so any (rank, world_size) split covers each file once.

Bad input (broken JSON, invalid UTF-8 or CP949, NUL bytes, binary files, truncated archives, wrong Parquet schema,
a missing or non-text field, oversized records) is quarantined with its raw bytes and a reason; it never stops
the run.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from ..contract.address import code_version, stable_hash
from ..contract.artifact import Output, Part, Shard
from ..contract.config import CollectConfig, Source
from ..contract.execution import merge_counts
from ..contract.kinds import CollectedSource, RawCorpus
from ..contract.manifest import STAGE_PREFIX, FileEntry, publish_dir
from ..contract.progress import Progress
from ..contract.storage import REQUESTS, Storage, is_s3, join
from ..corpus.readers import problem, read_html, read_json, read_jsonl, read_parquet, read_txt, read_warc, strip_compression
from ..corpus.records import QUARANTINE_SCHEMA, ShardWriter
from ..corpus.sources import assign_by_bytes, list_source, split_glob, uri_of
from ..errors import UserError
_EXT = ((".jsonl", "jsonl"), (".ndjson", "jsonl"), (".json", "json"), (".txt", "txt"), (".parquet", "parquet"),
        (".html", "html"), (".htm", "html"), (".warc", "warc"))
SEGMENT = "segment.json"


def file_format(source: Source, path: str) -> str:
    if source.format != "auto":
        return source.format
    name = strip_compression(path.lower())
    for ext, fmt in _EXT:
        if name.endswith(ext):
            return fmt
    raise UserError(f"collect: source {source.name!r}: cannot tell the format of {path} (set format:)")


def _source_settings(s: Source, cfg: CollectConfig) -> dict:
    d = {k: v for k, v in dataclasses.asdict(s).items() if k != "uri"}
    d.update(max_record_chars=cfg.max_record_chars, max_file_bytes=cfg.max_file_bytes)
    return d


def params(cfg: CollectConfig, *, storage: Storage) -> dict:
    """What the address depends on: the sources' settings and, per file, its name relative to the source, its
    fingerprint and its size (what the files hold, not where this checkout or bucket put them). One listing per
    source; a pipeline run computes this once and hands it to every shard."""
    names = [s.name for s in cfg.sources]
    if len(set(names)) != len(names):
        raise UserError(f"collect.sources: names must be unique, got {names}")
    sources = []
    for s in cfg.sources:
        single, files = list_source(s.uri, storage)
        if not files:
            base, pattern = split_glob(s.uri)
            hint = f" (no name under {base}/ matches {pattern!r}: `*` and `?` stay within one path segment, `**` " \
                "crosses them; hidden files are skipped)" if pattern else ""
            raise UserError(f"collect: source {s.name!r}: no files at {s.uri}{hint}")
        sources.append({**_source_settings(s, cfg), "single": single,
                        "files": [[f.rel, f.fingerprint, f.size] for f in files]})
    return {"sources": sources, "world_size": cfg.world_size, "records_per_file": cfg.records_per_file}


def planned_files(cfg: CollectConfig, params: dict) -> list[tuple[Source, str, str, str, int]]:
    """(source, uri, relative name, fingerprint, bytes) of every file the address was computed from, in order."""
    by_name = {s.name: s for s in cfg.sources}
    return [(by_name[p["name"]], uri_of(by_name[p["name"]].uri, p["single"], rel), rel, fp, size)
            for p in params["sources"] for rel, fp, size in p["files"]]


def _records(source: Source, path: Path, loc: str, cfg: CollectConfig):
    fmt = file_format(source, str(path))
    if fmt == "jsonl":
        return read_jsonl(path, loc)
    if fmt == "json":
        return read_json(path, loc, cfg.max_file_bytes)
    if fmt == "txt":
        return read_txt(path, loc, cfg.max_file_bytes, source.txt_split)
    if fmt == "html":
        return read_html(path, loc, cfg.max_file_bytes)
    if fmt == "warc":
        return read_warc(path, loc, cfg.max_record_chars * 4)
    return read_parquet(path, loc, source.text_field)


def collect_file(source: Source, path: str, rel: str, cfg: CollectConfig, staging: Path, storage: Storage,
                 fingerprint: str = "") -> dict:
    """One file -> raw-*.parquet (+ quarantine-*.parquet) in `staging`; returns its stats. On S3, the version the
    run's listing saw (its ETag) or a clear error: the segment is addressed by that ETag."""
    etag = fingerprint[len("etag:"):] if fingerprint.startswith("etag:") else None
    local = storage.fetch(path, staging / ".fetch" / Path(path).name, etag) if is_s3(path) else Path(path)
    # pages and archives yield their extracted text as "text"; other formats name the field in the config
    field = "text" if file_format(source, path) in ("html", "warc") else source.text_field
    writer = ShardWriter(staging, "raw", cfg.records_per_file)
    quarantine = ShardWriter(staging, "quarantine", cfg.records_per_file, QUARANTINE_SCHEMA)
    stats = {"records_in": 0, "records_out": 0, "dropped": {}, "quarantined": {}, "chars": 0, "files": 1,
             "sources": {source.name: {"records": 0, "chars": 0}}}
    per = stats["sources"][source.name]
    for loc, item in _records(source, local, rel, cfg):
        stats["records_in"] += 1
        reason, raw = problem(item, field, cfg.max_record_chars)
        if reason:
            stats["quarantined"][reason] = stats["quarantined"].get(reason, 0) + 1
            quarantine.write({"source": source.name, "location": loc, "reason": reason, "raw": raw})
            continue
        text = item[field]
        rid = item.get(source.id_field) if source.id_field else None
        meta = {k: v for k, v in item.items() if k not in (field, source.id_field)}
        meta["license"] = source.license
        writer.write({"id": f"{source.name}/{rid}" if rid is not None else f"{source.name}/{loc}", "text": text,
                      "source": source.name, "meta": json.dumps(meta, ensure_ascii=False, default=str)})
        stats["records_out"] += 1
        stats["chars"] += len(text)
        per["records"] += 1
        per["chars"] += len(text)
    writer.close()
    quarantine.close()
    if is_s3(path):
        import shutil
        shutil.rmtree(staging / ".fetch", ignore_errors=True)
    return stats


def map_shard(cfg: CollectConfig, *, shard: Shard, params: dict, out: Output) -> dict:
    storage = out.storage
    requests_before = dict(REQUESTS)
    files = planned_files(cfg, params)
    ranks = assign_by_bytes([size for *_, size in files], shard.world_size)
    mine = [f for f, r in zip(files, ranks) if r == shard.rank]
    reader = code_version(__name__)    # this module and the readers it imports
    stats_list, records = [], 0
    reused = {"files_reused": 0, "records_reused": 0}
    progress = Progress(f"collect {shard.label}", total=len(mine), unit="files")
    for source, path, rel, fingerprint, _ in mine:
        key = stable_hash({"source": _source_settings(source, cfg), "file": rel, "fingerprint": fingerprint,
                           "reader": reader})
        # Named by source and file first: curate gives its shards consecutive files in name order and keeps the
        # first of duplicates, so the corpus order follows names (whatever the shard counts), never the keys; the
        # key keeps a changed file's new segment apart from the old one.
        seg_rel = f"segments/{source.name}/{rel}/{key[:24]}"
        seg_uri = join(out.stage_root, seg_rel)
        seg_manifest = join(seg_uri, SEGMENT)
        if storage.exists(seg_manifest):      # collected before, unchanged: reuse
            doc = json.loads(storage.read_bytes(seg_manifest))
            reused["files_reused"] += 1
            reused["records_reused"] += doc["stats"]["records_out"]
        else:
            staging = out.dir / f"seg-{key[:12]}"
            staging.mkdir(parents=True)
            st = collect_file(source, path, rel, cfg, staging, storage, fingerprint)
            files = publish_dir(storage, staging, seg_uri)
            doc = {"source": source.name, "file": rel, "files": [dataclasses.asdict(f) for f in files], "stats": st}
            storage.write_bytes(seg_manifest, json.dumps(doc, ensure_ascii=False).encode())
        out.adopted += [FileEntry(name=f"{STAGE_PREFIX}{seg_rel}/{f['name']}", bytes=f["bytes"], sha256=f["sha256"])
                        for f in doc["files"]]
        stats_list.append(doc["stats"])
        records += doc["stats"]["records_in"]
        progress.advance(1, records=f"{records:,}")
    progress.close()
    merged = merge_counts(stats_list) if stats_list else {}
    requests = {op: n - requests_before.get(op, 0) for op, n in REQUESTS.items() if n > requests_before.get(op, 0)}
    return {"records_in": 0, "records_out": 0, "dropped": {}, "quarantined": {}, **merged, **reused,
            "bytes": sum(size for *_, size in mine), "requests": requests}


def reduce(cfg: CollectConfig, *, steps: dict[str, list[Part]], out: Output) -> RawCorpus:
    # The segments are the corpus: the manifest lists their files, nothing is copied.
    parts = steps["shard"]
    for p in parts:
        out.adopted += p.adopted
    s = merge_counts([p.stats for p in parts])
    per = s.get("sources", {})
    sources = {src.name: CollectedSource(records=per.get(src.name, {}).get("records", 0),
                                         chars=per.get(src.name, {}).get("chars", 0), license=src.license)
               for src in cfg.sources}
    return RawCorpus(records_in=s["records_in"], records_out=s["records_out"], dropped=s.get("dropped", {}),
                     quarantined=s.get("quarantined", {}), chars=s.get("chars", 0), files=s.get("files", 0),
                     bytes=s.get("bytes", 0), sources=sources,
                     shard_bytes=[p.stats.get("bytes", 0) for p in parts],
                     files_reused=s.get("files_reused", 0), records_reused=s.get("records_reused", 0),
                     requests={op: n for op, n in s.get("requests", {}).items()})

