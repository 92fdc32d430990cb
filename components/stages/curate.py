"""curate: RawCorpus -> CuratedCorpus, in four fan-out steps and a reduce that moves no document.

- shard (`world_size` tasks): the cleaning chain over the shard's raw files, read in place; the cleaned records;
  each kept document's exact hash and MinHash band keys, written into `dedup_buckets` signature files by hash.
- bucket (`dedup_buckets` tasks): bucket k reads signature file k of every shard and emits the duplicate pairs
  in it: (first, copy) for exact hashes, (first, other) for shared band keys.
- cluster (one task): joins the near-duplicate pairs into clusters and writes, per shard, which rows to drop (and
  why) and how many copies each kept document stood for. It holds the duplicates, never the documents.
- filter (`world_size` tasks): shard r drops its rows, records each kept document's `duplicates` (1 + the copies
  removed in its favour: FineWeb-2 upsamples by it), and publishes its own data files.
- reduce: the manifest and the data card, from the steps' counts.
The kept set equals one global pass in corpus order (first occurrence wins), since nodes are numbered in that
order (each shard takes consecutive raw files; components/corpus/dedup.py). Every task's memory and disk follow its shard or bucket, not the corpus.

Incremental (`curate.base`: an earlier CuratedCorpus, e.g. the champion's): when the raw corpus holds every raw
file the base was made from, only the new files are curated, as a new *generation*. Its documents are numbered
after every earlier generation's, and each bucket task also reads the base's signatures of its bucket (every
generation's, kept in the artifacts under `dedup/`), so a new document that copies an earlier one is dropped and
no earlier document is ever dropped. The artifact lists the base's data and signature files (nothing is copied)
and its own. A base made with other settings, or whose raw files are not all still there, is not used: the
whole corpus is curated again, and the stats say why.
"""
from __future__ import annotations

import dataclasses
import io
import json
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ..contract.artifact import Artifact, Output, Part, Shard
from ..contract.config import CurateConfig
from ..contract.execution import merge_counts
from ..contract.kinds import Cleaning, Clusters, CuratedCorpus, CuratedSource, Decontamination, RawCorpus
from ..contract.kinds import read as read_kind
from ..contract.manifest import STAGE_PREFIX, FileEntry, Manifest, publish_dir, require_manifest
from ..contract.progress import Progress
from ..corpus import decontam
from ..corpus.cleaning import Cleaner, tally
from ..corpus.datacard import write_data_card
from ..corpus.dedup import BAND, EXACT, PAIR, MinHasher, band_edges, components, exact_hash, exact_pairs, node_ids
from ..corpus.records import SCHEMA, ShardWriter, curated_files, file_order, read_records
from ..errors import StageFailed, UserError

DROP_STEPS = True   # the cleaned copies and signatures are intermediate: the published data is the filter's
CURATED_SCHEMA = pa.schema(list(SCHEMA) + [pa.field("duplicates", pa.int32())])
DUPLICATE, NEAR_DUPLICATE = 1, 2
REASONS = {DUPLICATE: "duplicate", NEAR_DUPLICATE: "near_duplicate"}
REMOVE = np.dtype([("row", "<u4"), ("reason", "u1")])
KEEPER = np.dtype([("row", "<u4"), ("copies", "<u4")])
# a generation's signatures as the next generation's bucket tasks read them (node ids global)
SIG_EXACT = np.dtype([("hi", "<u8"), ("lo", "<u8"), ("node", "<u8")])
SIG_BAND = np.dtype([("key", "<u8"), ("node", "<u8"), ("lo", "<u8")])
LENGTHS = "lengths.json"        # fine length histograms per source: the next generation adds to them
CONTAMINATION = "contamination.json"   # per task, every item found and in how many documents (all generations)
# what may differ between a base and the generation on top of it
_NOT_SETTINGS = ("base", "world_size")
_LENGTH_BINS = [0, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 50000, 10**9]
PLOT_BINS = np.unique(np.concatenate([np.logspace(0, 6, 40).astype(np.int64), _LENGTH_BINS]))
_SIGN_BATCH = 2048      # documents per MinHash batch


def _regroup(fine) -> list[int]:
    """The fine plotting histogram summed into the data card's coarse bins (they are a subset of its edges)."""
    fine = np.asarray(fine)
    edges = np.searchsorted(PLOT_BINS, _LENGTH_BINS)
    return [int(fine[a:b].sum()) for a, b in zip(edges[:-1], edges[1:])]


def _count(d: dict, key: str, n: int = 1) -> None:
    d[key] = d.get(key, 0) + n


def _source_stats(stats: dict, source: str) -> dict:
    return stats["per_source"].setdefault(source, {"records_in": 0, "records_out": 0, "chars_in": 0, "chars_out": 0,
                                                   "dropped": {}})


def _save(path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, array, allow_pickle=False)


def _load(part: Part, name: str, dtype: np.dtype) -> np.ndarray:
    array = np.load(io.BytesIO(part.read_bytes(name)), allow_pickle=False)
    assert array.dtype == dtype, (part.uri, name, array.dtype)
    return array


def _rows(dtype: np.dtype, **columns) -> np.ndarray:
    out = np.empty(len(next(iter(columns.values()))), dtype=dtype)
    for name, values in columns.items():
        out[name] = values
    return out


def _bucket_file(kind: str, k: int) -> str:
    return f"sig/{kind}-{k:05d}.npy"


def params(cfg: CurateConfig) -> dict:
    """The section, with decontamination as the items it removes (their digest), not where their files are; the
    settings of a step that is not in the chain do not count."""
    p = dataclasses.asdict(cfg)
    p["decontaminate"] = decontam.describe(cfg.decontaminate) if "decontaminate" in cfg.steps else None
    from importlib.metadata import version
    if "fineweb2" in cfg.steps:         # Kiwi's morphemes are its words
        p["fineweb2_words"] = f"kiwipiepy {version('kiwipiepy')} model {version('kiwipiepy_model')}"
    else:
        p["fineweb2"] = None
    if "language" in cfg.steps:        # another model file scores otherwise
        from ..corpus import langid
        p["language_model"] = f"{langid.MODEL} {langid.model_digest()}"
    else:
        for k in ("languages", "min_language_score", "language_script_share"):
            p[k] = None
    return p


def _with_meta(meta: str | None, extra: dict) -> str:
    return json.dumps({**(json.loads(meta) if meta else {}), **extra}, ensure_ascii=False)


def _count_contamination(c: dict, source: str, items: list) -> None:
    """One dropped document's items: the document counts once per task, each item once."""
    for task in sorted({it.task for it in items}):
        _count(c["documents"], task)
        _count(c["per_source"].setdefault(source, {}), task)
    for it in items:
        _count(c["items"].setdefault(it.task, {}), it.key)


# ------------------------------------------------------------------------------------------ base


@dataclass
class Base:
    """What this curate run builds on: an earlier CuratedCorpus and the raw files that are new since."""
    manifest: Manifest | None      # None: no base (or not usable): the whole raw corpus, generation 0
    info: CuratedCorpus | None
    new_raw: list[FileEntry]       # the raw files this run curates, in corpus order
    raw_records: int               # records of the base's raw corpus (already curated)
    reason: str                    # why the base is used or not

    @property
    def generation(self) -> int:
        return self.info.generation + 1 if self.info else 0

    @property
    def offset(self) -> int:
        """The global number of this run's shard 0: earlier generations' shards come first."""
        return self.info.shards if self.info else 0

    @property
    def uri(self) -> str | None:
        return self.manifest.uri if self.manifest else None


def _raw_files(manifest: Manifest) -> list[FileEntry]:
    return sorted((f for f in manifest.files if f.name.endswith(".parquet") and "/raw-" in f.name),
                  key=lambda f: file_order(f.name))


def signature_scheme() -> str:
    """What decides a document's cleaned text and its signatures: a base made otherwise cannot be matched."""
    from importlib.metadata import version

    from ..contract.address import code_version, stable_hash
    return stable_hash([code_version("components.corpus.dedup"), code_version("components.corpus.cleaning"),
                        version("rensa")])[:16]


def reused(cfg: CurateConfig, *, raw: Artifact[RawCorpus]) -> str | None:
    """The base itself when the raw corpus holds nothing new since it: no empty generation."""
    if not cfg.base or cfg.base == "champion":
        return None
    base = base_of(cfg, raw, raw.storage, cfg.base.rstrip("/").rsplit("/", 1)[0])
    return base.uri if base.manifest is not None and not base.new_raw else None


def base_of(cfg: CurateConfig, raw: Artifact[RawCorpus], storage, stage_root: str) -> Base:
    """The base this run builds on, from `curate.base` (deterministic: every task of the run decides alike)."""
    everything = _raw_files(raw.manifest)
    if not cfg.base:
        return Base(None, None, everything, 0, "no base")
    if cfg.base == "champion":
        raise UserError("curate.base: `champion` is resolved when a pipeline run begins (polyglot-ko run, or "
                        "begin); give a CuratedCorpus URI to run the stage alone")
    manifest = require_manifest(storage, cfg.base)
    if manifest.kind != "CuratedCorpus":
        raise UserError(f"curate.base: {cfg.base} is a {manifest.kind}, not a CuratedCorpus")
    if manifest.uri.rstrip("/").rsplit("/", 1)[0] != stage_root.rstrip("/"):
        raise UserError(f"curate.base: {cfg.base} is not under this run's {stage_root}/ (its files are listed, "
                        "not copied, so it must live beside the new corpus)")
    try:
        info = read_kind(manifest)
    except StageFailed:
        return Base(None, None, everything, 0, f"base {cfg.base} was made by an older version")
    if info.signature_scheme != signature_scheme():
        return Base(None, None, everything, 0, f"base {cfg.base} was cleaned and signed by other code")
    # compared as the manifest stores them (JSON: tuples become lists)
    ours = json.loads(json.dumps({k: v for k, v in params(cfg).items() if k not in _NOT_SETTINGS}))
    theirs = {k: v for k, v in manifest.params.items() if k not in _NOT_SETTINGS and k != "needs"}
    if ours != theirs:
        changed = sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
        return Base(None, None, everything, 0, f"base {cfg.base} was curated with other settings ({changed})")
    raw_input = next(i for i in manifest.inputs if i.role == "raw")
    base_raw = require_manifest(storage, raw_input.uri)
    try:
        base_records = read_kind(base_raw).records_out
    except StageFailed:
        return Base(None, None, everything, 0, f"base {cfg.base}'s raw corpus was made by an older version")
    before, now = {f.name for f in _raw_files(base_raw)}, {f.name for f in everything}
    if not before <= now:
        return Base(None, None, everything, 0, f"{len(before - now)} raw files of base {cfg.base} are gone or "
                                               "changed")
    new = [f for f in everything if f.name not in before]
    return Base(manifest, info, new, base_records,
                f"base {cfg.base}: {len(new)} new raw files")


def _base_files(base: Base, top: str) -> list[FileEntry]:
    """The base's files under data/ or dedup/ (its own and its bases'), as this artifact lists them."""
    if base.manifest is None:
        return []
    key = base.manifest.uri.rstrip("/").rsplit("/", 1)[1]
    out = []
    for f in base.manifest.files:
        name = f.name if f.name.startswith(STAGE_PREFIX) else f"{STAGE_PREFIX}{key}/{f.name}"
        if name.split("/", 2)[2].startswith(f"{top}/"):
            out.append(FileEntry(name=name, bytes=f.bytes, sha256=f.sha256))
    return out


# ------------------------------------------------------------------------------------------ shard


def map_shard(cfg: CurateConfig, *, raw: Artifact[RawCorpus], shard: Shard, out: Output) -> dict:
    raws = base_of(cfg, raw, out.storage, out.stage_root).new_raw
    # consecutive files by bytes: documents numbered (shard, row) follow the corpus order for any world_size
    mine = shard.run_of([f.name for f in raws], [f.bytes for f in raws])
    clean = Cleaner(cfg)
    hasher = MinHasher(cfg.minhash_perm, cfg.minhash_shingle, cfg.minhash_threshold) if cfg.near_dedup else None
    writer = ShardWriter(out.dir, f"clean-{shard.rank:05d}", cfg.records_per_file)
    stats = {"records_in": 0, "records_out": 0, "dropped": {}, "quarantined": {}, "edits": {}, "pii": {},
             "chars_in": 0, "chars_out": 0, "per_source": {},
             "contamination": {"documents": {}, "per_source": {}, "items": {}}}
    exact, bands, pending = [], [], []

    def sign(texts: list[str]) -> None:
        if hasher is not None and texts:
            bands.append(hasher.signatures(texts))

    # files are read one at a time, in place; the total is this shard's share of the corpus (an estimate)
    progress = Progress(f"curate {shard.label}", total=None)
    for rec in read_records(raw.parquet(f) for f in mine):
        progress.advance()
        src = _source_stats(stats, rec["source"])
        stats["records_in"] += 1
        src["records_in"] += 1
        stats["chars_in"] += len(rec["text"])
        src["chars_in"] += len(rec["text"])
        o = clean(rec["text"])
        tally(o, stats)
        if o.contaminated:
            _count_contamination(stats["contamination"], rec["source"], o.contaminated)
        if o.text is None:
            _count(src["dropped"], o.drop_reason)
            continue
        rec["text"] = o.text
        if o.meta:
            rec["meta"] = _with_meta(rec["meta"], o.meta)
        writer.write(rec)
        if cfg.dedup:
            exact.append(exact_hash(o.text))
        pending.append(o.text)
        if len(pending) >= _SIGN_BATCH:
            sign(pending)
            pending = []
        stats["records_out"] += 1
        stats["chars_out"] += len(o.text)
    sign(pending)
    writer.close()
    progress.close()
    _write_signatures(out, cfg, exact, bands, stats["records_out"])
    return stats


def _write_signatures(out: Output, cfg: CurateConfig, exact: list[bytes], bands: list[np.ndarray], n: int) -> None:
    """One signature file per bucket: exact hashes by their low word, band keys by their value."""
    rows = np.arange(n, dtype=np.uint32)
    buckets = cfg.dedup_buckets
    e = np.empty(len(exact), dtype=EXACT)
    if exact:
        h = np.frombuffer(b"".join(exact), dtype="<u8").reshape(-1, 2)
        e["hi"], e["lo"], e["row"] = h[:, 0], h[:, 1], rows
    keys = np.concatenate(bands) if bands else np.zeros((0, 0), dtype=np.uint64)
    b = np.empty(keys.size, dtype=BAND)
    b["key"], b["row"] = keys.ravel(), np.repeat(rows, keys.shape[1]) if keys.size else rows[:0]
    b["lo"] = np.repeat(e["lo"], keys.shape[1]) if keys.size and exact else 0
    for k in range(buckets):
        _save(out.dir / _bucket_file("exact", k), e[e["lo"] % np.uint64(buckets) == k])
        _save(out.dir / _bucket_file("band", k), b[b["key"] % np.uint64(buckets) == k])


# ----------------------------------------------------------------------------------------- bucket


def bucket(cfg: CurateConfig, *, raw: Artifact[RawCorpus], shard: Shard, steps: dict[str, list[Part]],
           out: Output) -> dict:
    k = shard.rank
    base = base_of(cfg, raw, out.storage, out.stage_root)
    # this generation's signatures of bucket k, numbered after every earlier generation's documents
    new_exact, new_band = [], []
    for part in steps["shard"]:
        e = _load(part, _bucket_file("exact", k), EXACT)
        b = _load(part, _bucket_file("band", k), BAND)
        new_exact.append(_rows(SIG_EXACT, hi=e["hi"], lo=e["lo"], node=node_ids(base.offset + part.rank, e["row"])))
        new_band.append(_rows(SIG_BAND, key=b["key"], node=node_ids(base.offset + part.rank, b["row"]), lo=b["lo"]))
    exact = np.concatenate(new_exact) if new_exact else np.zeros(0, SIG_EXACT)
    band = np.concatenate(new_band) if new_band else np.zeros(0, SIG_BAND)
    # kept with the artifact: the next generation deduplicates against them
    _save(out.dir / "dedup" / f"exact-{k:05d}.npy", exact)
    _save(out.dir / "dedup" / f"band-{k:05d}.npy", band)
    out.adopted += publish_dir(out.storage, out.dir / "dedup", out.uri, prefix=f"dedup/g{base.generation:04d}")
    earlier = [f for f in _base_files(base, "dedup") if f.name.endswith(f"-{k:05d}.npy")]
    old_exact, old_band = [], []
    for f in earlier:
        arr = np.load(io.BytesIO(out.storage.read_bytes(base.manifest.file_uri(f.name))), allow_pickle=False)
        # only the earlier rows that can pair with a new one: the same hash word, the same band key
        if "/exact-" in f.name:
            old_exact.append(arr[np.isin(arr["lo"], exact["lo"])].astype(SIG_EXACT))
        else:
            old_band.append(arr[np.isin(arr["key"], band["key"])].astype(SIG_BAND))
    exact, band = np.concatenate(old_exact + [exact]), np.concatenate(old_band + [band])
    copies = exact_pairs(exact["hi"], exact["lo"], exact["node"])
    edges = band_edges(band["key"], band["node"], band["lo"] if cfg.dedup else None)
    # pairs among earlier documents were decided by their generation: only those that reach a new one remain
    # (a pair's second node is the later one)
    first_new = np.uint64(base.offset) << np.uint64(32)
    copies, edges = copies[copies["b"] >= first_new], edges[edges["b"] >= first_new]
    _save(out.dir / "exact.npy", copies)
    _save(out.dir / "edges.npy", edges)
    return {"records_in": 0, "records_out": 0, "dropped": {}, "quarantined": {},
            "work": int(len(exact) + len(band)), "exact_pairs": int(len(copies)), "edges": int(len(edges)),
            "base_signature_files": len(earlier)}


# ---------------------------------------------------------------------------------------- cluster


def cluster(cfg: CurateConfig, *, raw: Artifact[RawCorpus], shard: Shard, steps: dict[str, list[Part]],
            out: Output) -> dict:
    copies = np.concatenate([_load(p, "exact.npy", PAIR) for p in steps["bucket"]])
    # a pair sharing several bands arrives from several buckets: once is enough
    edges = np.concatenate([_load(p, "edges.npy", PAIR) for p in steps["bucket"]])
    pairs = len(copies) + len(edges)
    edges = np.unique(edges)
    # near duplicates among the documents that are not exact copies (a copy's bands are its original's, so
    # leaving copies out disconnects nothing)
    copy_nodes = np.unique(copies["b"])
    edges = edges[~(np.isin(edges["a"], copy_nodes) | np.isin(edges["b"], copy_nodes))]
    nodes, roots = components(edges)
    near = nodes[roots != nodes]
    sizes = np.unique(roots, return_counts=True)[1]
    clusters = {"clusters": int(len(sizes)), "largest": int(sizes.max()) if len(sizes) else 1,
                "documents_in_clusters": int(sizes.sum())}
    # the kept document each removed one stands in for: a near duplicate's root; an exact copy's original (or
    # its root, when the original is itself a near duplicate)
    # (nodes are sorted: a vectorised lookup, 8 bytes per clustered node rather than a Python dict's ~100)
    at = np.minimum(np.searchsorted(nodes, copies["a"]), max(len(nodes) - 1, 0))
    clustered = (nodes[at] == copies["a"]) if len(nodes) else np.zeros(len(copies), dtype=bool)
    originals = np.where(clustered, roots[at] if len(nodes) else copies["a"], copies["a"])
    keepers = np.concatenate([roots[roots != nodes], originals.astype(np.uint64)])
    keeper, count = np.unique(keepers, return_counts=True)
    # earlier generations' documents stay: only this generation's (numbered from its offset) are dropped
    first_new = np.uint64(base_of(cfg, raw, out.storage, out.stage_root).offset) << np.uint64(32)
    copy_nodes, near = copy_nodes[copy_nodes >= first_new], near[near >= first_new]
    removed = np.concatenate([copy_nodes, near])
    reason = np.concatenate([np.full(len(copy_nodes), DUPLICATE, "u1"), np.full(len(near), NEAR_DUPLICATE, "u1")])
    # split by shard in one pass: sorted node ids are grouped by shard (its high word)
    order = np.argsort(removed, kind="stable")
    removed, reason = removed[order], reason[order]
    bounds = (first_new >> np.uint64(32)) + np.arange(cfg.world_size + 1, dtype=np.uint64) << np.uint64(32)
    cut_rm, cut_kp = np.searchsorted(removed, bounds), np.searchsorted(keeper, bounds)
    for s in range(cfg.world_size):
        a, b = cut_rm[s], cut_rm[s + 1]
        rm = np.empty(int(b - a), dtype=REMOVE)
        rm["row"], rm["reason"] = (removed[a:b] & np.uint64(0xFFFFFFFF)).astype(np.uint32), reason[a:b]
        _save(out.dir / f"remove-{s:05d}.npy", rm)
        a, b = cut_kp[s], cut_kp[s + 1]
        kp = np.empty(int(b - a), dtype=KEEPER)
        kp["row"], kp["copies"] = (keeper[a:b] & np.uint64(0xFFFFFFFF)).astype(np.uint32), count[a:b]
        _save(out.dir / f"keep-{s:05d}.npy", kp)
    return {"records_in": 0, "records_out": 0, "dropped": {}, "quarantined": {}, "dedup": clusters, "work": pairs,
            "removed": {"duplicate": int(len(copy_nodes)), "near_duplicate": int(len(near))}}


# ----------------------------------------------------------------------------------------- filter


def filter_shard(cfg: CurateConfig, *, raw: Artifact[RawCorpus], shard: Shard, steps: dict[str, list[Part]],
                 out: Output) -> dict:
    r = shard.rank
    cleaned = steps["shard"][r]
    decided = steps["cluster"][0]
    remove = _load(decided, f"remove-{r:05d}.npy", REMOVE)
    keep = _load(decided, f"keep-{r:05d}.npy", KEEPER)
    n = cleaned.stats["records_out"]
    reason = np.zeros(n, dtype="u1")
    reason[remove["row"]] = remove["reason"]
    duplicates = np.ones(n, dtype=np.int32)
    duplicates[keep["row"]] += keep["copies"].astype(np.int32)
    data = out.dir / "data"
    generation = base_of(cfg, raw, out.storage, out.stage_root).generation
    writer = ShardWriter(data / f"g{generation:04d}", f"curated-{r:05d}", cfg.records_per_file, CURATED_SCHEMA)
    stats = {"records_in": n, "records_out": 0, "dropped": {}, "quarantined": {}, "chars_out": 0, "per_source": {},
             "lengths": {}}
    names = sorted((f.name for f in cleaned.files if f.name.endswith(".parquet")), key=file_order)
    for row, rec in enumerate(read_records(cleaned.parquet(name) for name in names)):
        src = stats["per_source"].setdefault(rec["source"], {"records_out": 0, "chars_out": 0, "dropped": {}})
        if reason[row]:
            _count(stats["dropped"], REASONS[int(reason[row])])
            _count(src["dropped"], REASONS[int(reason[row])])
            continue
        rec["duplicates"] = int(duplicates[row])
        writer.write(rec)
        stats["records_out"] += 1
        stats["chars_out"] += len(rec["text"])
        src["records_out"] += 1
        src["chars_out"] += len(rec["text"])
        hist = stats["lengths"].setdefault(rec["source"], [0] * (len(PLOT_BINS) - 1))
        hist[max(0, min(len(hist) - 1, int(np.searchsorted(PLOT_BINS, len(rec["text"]), side="right")) - 1))] += 1
    writer.close()
    # published where the artifact lives: the reduce only lists them
    out.adopted += publish_dir(out.storage, data, out.uri, prefix="data")
    return stats


# ----------------------------------------------------------------------------------------- reduce


def _check_steps(raw: Artifact[RawCorpus], base: Base, steps: dict[str, list[Part]]) -> None:
    """Every record accounted for across the steps, per shard: each task balances on its own (execution checks
    that); here, what one step handed the next is what the next received."""
    problems = []
    signed_in = sum(p.stats["records_in"] for p in steps["shard"])
    if signed_in != raw.info.records_out - base.raw_records:
        problems.append(f"the shard tasks read {signed_in} records, collect published {raw.info.records_out} "
                        f"of which the base had curated {base.raw_records}")
    for cleaned, kept in zip(steps["shard"], steps["filter"]):
        if kept.stats["records_in"] != cleaned.stats["records_out"]:
            problems.append(f"filter {kept.rank} read {kept.stats['records_in']} records, shard {cleaned.rank} "
                            f"kept {cleaned.stats['records_out']}")
    removed = steps["cluster"][0].stats["removed"]
    dropped = merge_counts([p.stats["dropped"] for p in steps["filter"]])
    for reason, n in removed.items():
        if dropped.get(reason, 0) != n:
            problems.append(f"cluster removed {n} as {reason}, the filters dropped {dropped.get(reason, 0)}")
    if problems:
        raise StageFailed("curate: records lost between steps: " + "; ".join(problems))


def _decontamination(cfg: CurateConfig, base: Base, found: dict, out: Output) -> Decontamination:
    """What was decontaminated against and what was found: this generation's counts plus the base's (which hold
    every earlier generation's); every item found, with its documents, goes to CONTAMINATION."""
    items = found.get("items", {})
    earlier = base.info.decontamination if base.info else None   # a base without one is never used (settings)
    if base.manifest is not None:
        items = merge_counts([json.loads(out.storage.read_bytes(base.manifest.file_uri(CONTAMINATION))), items])
    (out.dir / CONTAMINATION).write_text(json.dumps({t: dict(sorted(v.items())) for t, v in sorted(items.items())},
                                                    ensure_ascii=False, indent=1), encoding="utf-8")
    d = decontam.describe(cfg.decontaminate) if "decontaminate" in cfg.steps else {
        "tasks": [], "splits": [], "items_digest": "", "items": {}, "unmatchable": {}, "weak": {}, "files": {}}
    return Decontamination(
        tasks=d["tasks"], splits=d["splits"], items_digest=d["items_digest"], items=d["items"],
        unmatchable=d["unmatchable"], weak=d["weak"], files=d["files"],
        documents=merge_counts([found.get("documents", {}), earlier.documents if earlier else {}]),
        items_found={t: len(v) for t, v in sorted(items.items())},
        per_source=merge_counts([found.get("per_source", {}), earlier.per_source if earlier else {}]))


def reduce(cfg: CurateConfig, *, raw: Artifact[RawCorpus], steps: dict[str, list[Part]],
           out: Output) -> CuratedCorpus:
    base = base_of(cfg, raw, out.storage, out.stage_root)
    _check_steps(raw, base, steps)
    signed = merge_counts([p.stats for p in steps["shard"]])
    kept = [p.stats for p in steps["filter"]]
    filtered = merge_counts([{k: v for k, v in s.items() if k != "lengths"} for s in kept])
    # the base's files first (corpus order: earlier generations before this one), then this generation's
    out.adopted += _base_files(base, "data") + _base_files(base, "dedup")
    for p in steps["bucket"] + steps["filter"]:
        out.adopted += p.adopted
    lengths: dict[str, np.ndarray] = {}
    if base.manifest is not None:
        for source, hist in json.loads(out.storage.read_bytes(base.manifest.file_uri(LENGTHS))).items():
            lengths[source] = np.asarray(hist, dtype=np.int64)
    for s in kept:
        for source, hist in s["lengths"].items():
            lengths[source] = lengths.get(source, 0) + np.asarray(hist, dtype=np.int64)
    earlier = dataclasses.asdict(base.info) if base.info else {}
    # this generation's counts, plus the base's (which already hold every earlier generation's)
    here = {"records_in": signed["records_in"], "records_out": filtered.get("records_out", 0),
            "dropped": merge_counts([signed.get("dropped", {}), filtered.get("dropped", {})]),
            "quarantined": signed.get("quarantined", {}), "edits": signed.get("edits", {}),
            "pii": signed.get("pii", {}), "chars_in": signed.get("chars_in", 0),
            "chars_out": filtered.get("chars_out", 0)}
    total = merge_counts([here, {k: earlier[k] for k in here if k in earlier}])
    total = {k: total.get(k, {} if isinstance(v, dict) else 0) for k, v in here.items()}
    per_source = merge_counts([signed.get("per_source", {}), filtered.get("per_source", {}),
                               {n: dataclasses.asdict(c) for n, c in (base.info.per_source.items() if base.info
                                                                      else [])}])
    clusters = merge_counts([steps["cluster"][0].stats["dedup"], earlier.get("dedup", {})])
    if base.info:      # the largest cluster is a maximum, not a sum
        clusters["largest"] = max(steps["cluster"][0].stats["dedup"]["largest"], base.info.dedup.largest)
    stats = {**total,
             "per_source": {name: {"records_in": s.get("records_in", 0), "records_out": s.get("records_out", 0),
                                   "chars_in": s.get("chars_in", 0), "chars_out": s.get("chars_out", 0),
                                   "dropped": s.get("dropped", {})} for name, s in sorted(per_source.items())},
             "dedup": clusters, "length_bins": _LENGTH_BINS,
             "length_histogram": {s: _regroup(v) for s, v in sorted(lengths.items())}}
    info = CuratedCorpus(
        records_in=stats["records_in"], records_out=stats["records_out"], dropped=stats["dropped"],
        quarantined=stats["quarantined"], chars_in=stats["chars_in"], chars_out=stats["chars_out"],
        per_source={name: CuratedSource(**s) for name, s in stats["per_source"].items()},
        edits=stats["edits"], pii=stats["pii"], dedup=Clusters(**clusters), length_bins=_LENGTH_BINS,
        length_histogram=stats["length_histogram"],
        cleaning=Cleaning(steps=list(cfg.steps), url=cfg.url, max_repeat=cfg.max_repeat, exact_dedup=cfg.dedup,
                          near_dedup=cfg.near_dedup, minhash_threshold=cfg.minhash_threshold),
        base=base.uri, base_reason=base.reason, generation=base.generation, shards=base.offset + cfg.world_size,
        signature_scheme=signature_scheme(),
        decontamination=_decontamination(cfg, base, signed.get("contamination", {}), out),
        records_reused=base.info.records_out if base.info else 0, raw_files_curated=len(base.new_raw))
    stats["decontamination"] = dataclasses.asdict(info.decontamination)
    out.reports += write_data_card(out.dir, cfg, stats, lengths, PLOT_BINS)
    (out.dir / LENGTHS).write_text(json.dumps({s: v.tolist() for s, v in lengths.items()}), encoding="utf-8")
    (out.dir / "stats.json").write_text(json.dumps(info.to_stats(), ensure_ascii=False, indent=2), encoding="utf-8")
    return info
