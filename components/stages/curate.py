"""curate: RawCorpus -> CuratedCorpus. Map: the per-document cleaning chain; reduce: exact deduplication of
whole documents (first occurrence in shard order wins), final Parquet shards and a data card."""
from __future__ import annotations

import hashlib
import json

import pyarrow as pa

from ..cleaning import Cleaner
from ..config import CurateConfig
from ..corpus_io import SCHEMA, ShardWriter, read_records
from ..stage import merge_counts

CODE_DEPS = ["components.cleaning", "components.pii", "components.corpus_io"]
DROP_PARTS = True   # parts are intermediate: the reduce step rewrites them without duplicates
_PART_SCHEMA = pa.schema(list(SCHEMA) + [pa.field("hash", pa.string())])


def _count(d: dict, key: str, n: int = 1) -> None:
    d[key] = d.get(key, 0) + n


def map_shard(cfg: CurateConfig, inputs, rank: int, world_size: int, out) -> dict:
    raw = inputs["raw"]
    files = [f.name for f in raw.manifest.files if f.name.endswith(".parquet") and "/raw-" in f.name]
    mine = [f for i, f in enumerate(sorted(files)) if i % world_size == rank]
    clean = Cleaner(cfg)
    writer = ShardWriter(out.dir, f"clean-{rank:05d}", cfg.records_per_file, _PART_SCHEMA)
    stats = {"records_in": 0, "records_out": 0, "dropped": {}, "quarantined": {}, "edits": {}, "pii": {},
             "chars_in": 0, "chars_out": 0}
    for rec in read_records(raw.path(f) for f in mine):
        stats["records_in"] += 1
        stats["chars_in"] += len(rec["text"])
        o = clean(rec["text"])
        for k, v in o.edits.items():
            _count(stats["edits"], k, v)
        for k, v in o.pii.items():
            _count(stats["pii"], k, v)
        if o.text is None:
            _count(stats["dropped"], o.drop_reason)
            continue
        rec["text"] = o.text
        rec["hash"] = hashlib.blake2b(o.text.encode("utf-8"), digest_size=16).hexdigest()
        writer.write(rec)
        stats["records_out"] += 1
        stats["chars_out"] += len(o.text)
    writer.close()
    return stats


def reduce(cfg: CurateConfig, inputs, parts, out, ctx) -> dict:
    stats = merge_counts([p.stats for p in parts])
    stats.setdefault("dropped", {})
    seen: set[str] = set()
    writer = ShardWriter(out.dir / "data", "curated", cfg.records_per_file)
    per_source: dict[str, dict] = {}
    kept = chars = 0
    for p in parts:
        for f in p.files:
            for rec in read_records([p.path(f.name)]):
                h = rec.pop("hash")
                if cfg.dedup and h in seen:
                    _count(stats["dropped"], "duplicate")
                    continue
                seen.add(h)
                writer.write(rec)
                kept += 1
                chars += len(rec["text"])
                s = per_source.setdefault(rec["source"], {"documents": 0, "chars": 0})
                s["documents"] += 1
                s["chars"] += len(rec["text"])
    writer.close()
    stats["records_out"] = kept
    stats["chars_out"] = chars
    stats["sources"] = per_source
    card = out.dir / "data_card.md"
    card.write_text(_data_card(cfg, stats), encoding="utf-8")
    out.reports.append(card)
    (out.dir / "stats.json").write_text(json.dumps(stats, ensure_ascii=False, indent=2), encoding="utf-8")
    return stats


def _data_card(cfg: CurateConfig, stats: dict) -> str:
    lines = ["# Curated corpus", "", f"Cleaning chain: {' -> '.join(cfg.steps)}; exact dedup: {cfg.dedup}.", "",
             f"Records in {stats['records_in']:,}, kept {stats['records_out']:,}.", "",
             "| dropped because | records |", "|---|---|"]
    lines += [f"| {k} | {v:,} |" for k, v in sorted(stats.get("dropped", {}).items())]
    lines += ["", "| source | documents | characters |", "|---|---|---|"]
    lines += [f"| {k} | {v['documents']:,} | {v['chars']:,} |" for k, v in sorted(stats["sources"].items())]
    lines += ["", "| PII masked | count |", "|---|---|"]
    lines += [f"| {k} | {v:,} |" for k, v in sorted(stats.get("pii", {}).items())]
    return "\n".join(lines) + "\n"
