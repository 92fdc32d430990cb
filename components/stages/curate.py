"""curate: RawCorpus -> CuratedCorpus.

Map (per shard): the per-document cleaning chain, then a normalised hash and MinHash-LSH band hashes per kept
document. Reduce: exact and near-duplicate removal across all shards (first occurrence in shard order wins), final
Parquet shards, and the data card (markdown + PNG plots).
"""
from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..contract.artifact import Artifact, Output, Part, Shard
from ..contract.config import CurateConfig
from ..contract.execution import merge_counts
from ..contract.kinds import Cleaning, Clusters, CuratedCorpus, CuratedSource, RawCorpus
from ..contract.progress import Progress
from ..corpus.cleaning import Cleaner, tally
from ..corpus.datacard import write_data_card
from ..corpus.dedup import MinHasher, exact_hash, first_occurrence, near_duplicate_roots
from ..corpus.records import SCHEMA, ShardWriter, read_records

DROP_PARTS = True   # parts are intermediate: the reduce step rewrites them without duplicates
_PART_SCHEMA = pa.schema(list(SCHEMA) + [pa.field("hash", pa.binary(16)), pa.field("bands", pa.binary())])
_LENGTH_BINS = [0, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 50000, 10**9]
PLOT_BINS = np.unique(np.concatenate([np.logspace(0, 6, 40).astype(np.int64), _LENGTH_BINS]))


def _regroup(fine: np.ndarray) -> list[int]:
    """The fine plotting histogram summed into the data card's coarse bins (they are a subset of its edges)."""
    edges = np.searchsorted(PLOT_BINS, _LENGTH_BINS)
    return [int(fine[a:b].sum()) for a, b in zip(edges[:-1], edges[1:])]


def _fixed_width(col, width: int | None) -> np.ndarray:
    """A binary column whose values all have one width, as a (rows, width) uint8 array, without copying rows."""
    arr = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    n = len(arr)
    if n == 0:
        return np.zeros((0, width or 0), dtype=np.uint8)
    bufs = arr.buffers()
    if width == 16 and pa.types.is_fixed_size_binary(arr.type):
        return np.frombuffer(bufs[1], dtype=np.uint8, count=n * 16, offset=arr.offset * 16).reshape(n, 16)
    offsets = np.frombuffer(bufs[1], dtype=np.int32, count=n + 1, offset=arr.offset * 4)
    w = int(offsets[1] - offsets[0])
    if not np.all(np.diff(offsets) == w):
        raise ValueError("band hashes of unequal width")
    return np.frombuffer(bufs[2], dtype=np.uint8, count=n * w, offset=int(offsets[0])).reshape(n, w)


def _count(d: dict, key: str, n: int = 1) -> None:
    d[key] = d.get(key, 0) + n


def _source_stats(stats: dict, source: str) -> dict:
    return stats["per_source"].setdefault(source, {"records_in": 0, "records_out": 0, "chars_in": 0, "chars_out": 0,
                                                   "dropped": {}})


def map_shard(cfg: CurateConfig, *, raw: Artifact[RawCorpus], shard: Shard, out: Output) -> dict:
    files = sorted(f.name for f in raw.manifest.files if f.name.endswith(".parquet") and "/raw-" in f.name)
    mine = shard.mine(files)
    clean = Cleaner(cfg)
    hasher = MinHasher(cfg.minhash_perm, cfg.minhash_shingle, cfg.minhash_threshold) if cfg.near_dedup else None
    writer = ShardWriter(out.dir, f"clean-{shard.rank:05d}", cfg.records_per_file, _PART_SCHEMA)
    stats = {"records_in": 0, "records_out": 0, "dropped": {}, "quarantined": {}, "edits": {}, "pii": {},
             "chars_in": 0, "chars_out": 0, "per_source": {}}
    # files are fetched one at a time as they are read; the total is this shard's share of the corpus (an estimate)
    progress = Progress(f"curate {shard.label}", total=raw.info.records_out / shard.world_size)
    for rec in read_records(raw.parquet(f) for f in mine):
        progress.advance()
        src = _source_stats(stats, rec["source"])
        stats["records_in"] += 1
        src["records_in"] += 1
        stats["chars_in"] += len(rec["text"])
        src["chars_in"] += len(rec["text"])
        o = clean(rec["text"])
        tally(o, stats)
        if o.text is None:
            _count(src["dropped"], o.drop_reason)
            continue
        rec["text"] = o.text
        rec["hash"] = exact_hash(o.text)
        rec["bands"] = hasher.bands_of(o.text) if hasher else b""
        writer.write(rec)
        stats["records_out"] += 1
        stats["chars_out"] += len(o.text)
    writer.close()
    progress.close()
    return stats


def reduce(cfg: CurateConfig, *, raw: Artifact[RawCorpus], parts: list[Part], out: Output) -> CuratedCorpus:
    stats = merge_counts([p.stats for p in parts])
    stats.setdefault("dropped", {})
    paths = [p.path(f.name) for p in parts for f in p.files]

    # pass 1: hashes only, in global order, straight from Arrow buffers (no Python object per document)
    h_parts, b_parts = [], []
    for path in paths:
        t = pq.read_table(path, columns=["hash", "bands"])
        h_parts.append(_fixed_width(t.column("hash"), 16))
        b_parts.append(_fixed_width(t.column("bands"), None))
    n = sum(len(x) for x in h_parts)
    h = np.concatenate(h_parts).view("<u8").reshape(n, 2) if n else np.zeros((0, 2), "<u8")
    keep = first_occurrence(h) if cfg.dedup else np.ones(n, dtype=bool)
    reason = np.where(keep, 0, 1).astype(np.int8)      # 0 keep, 1 duplicate, 2 near_duplicate
    clusters = {"clusters": 0, "largest": 1, "documents_in_clusters": 0}
    if cfg.near_dedup and n:
        idx = np.flatnonzero(keep)
        b = np.concatenate(b_parts)[idx].view("<u8")
        roots = near_duplicate_roots(b)
        near = roots != np.arange(len(idx))
        reason[idx[near]] = 2
        sizes = np.bincount(roots, minlength=len(idx))
        multi = sizes[sizes > 1]
        clusters = {"clusters": int(len(multi)), "largest": int(multi.max()) if len(multi) else 1,
                    "documents_in_clusters": int(multi.sum())}
    del h_parts, b_parts

    # pass 2: stream the records, keep the chosen ones
    writer = ShardWriter(out.dir / "data", "curated", cfg.records_per_file)
    lengths: dict[str, np.ndarray] = {}        # histogram counts over PLOT_BINS, per source
    kept = chars = 0
    progress = Progress("curate: writing the deduplicated corpus", total=n)
    for i, rec in enumerate(read_records(paths, columns=["id", "text", "source", "meta"])):
        progress.advance()
        src = stats["per_source"][rec["source"]]
        if reason[i]:
            why = "duplicate" if reason[i] == 1 else "near_duplicate"
            _count(stats["dropped"], why)
            _count(src["dropped"], why)
            continue
        writer.write(rec)
        kept += 1
        chars += len(rec["text"])
        src["records_out"] += 1
        src["chars_out"] += len(rec["text"])
        hist = lengths.setdefault(rec["source"], np.zeros(len(PLOT_BINS) - 1, dtype=np.int64))
        hist[max(0, min(len(hist) - 1, np.searchsorted(PLOT_BINS, len(rec["text"]), side="right") - 1))] += 1
    writer.close()
    progress.close()
    stats["records_out"], stats["chars_out"] = kept, chars
    stats["dedup"] = clusters
    stats["length_bins"] = _LENGTH_BINS
    stats["length_histogram"] = {s: _regroup(v) for s, v in lengths.items()}
    info = CuratedCorpus(
        records_in=stats["records_in"], records_out=kept, dropped=stats["dropped"],
        quarantined=stats.get("quarantined", {}), chars_in=stats["chars_in"], chars_out=chars,
        per_source={name: CuratedSource(**s) for name, s in stats["per_source"].items()},
        edits=stats.get("edits", {}), pii=stats.get("pii", {}), dedup=Clusters(**clusters),
        length_bins=_LENGTH_BINS, length_histogram=stats["length_histogram"],
        cleaning=Cleaning(steps=list(cfg.steps), url=cfg.url, max_repeat=cfg.max_repeat, exact_dedup=cfg.dedup,
                          near_dedup=cfg.near_dedup, minhash_threshold=cfg.minhash_threshold))
    out.reports += write_data_card(out.dir, cfg, stats, lengths, PLOT_BINS)
    (out.dir / "stats.json").write_text(json.dumps(info.to_stats(), ensure_ascii=False, indent=2), encoding="utf-8")
    return info
