"""Near-duplicate removal measured on planted near duplicates among real, distinct Korean documents."""
import json
import random

import pyarrow.parquet as pq

from components.contract.execution import check_accounting
from components.corpus.dedup import MinHasher, first_occurrence, near_duplicate_roots


def _mutate(text: str, rng: random.Random, rate: float) -> str:
    """A near copy: a few words dropped or replaced, as reposts and boilerplate variants differ."""
    words = text.split()
    out = [w for w in words if rng.random() > rate]
    for _ in range(max(1, int(len(out) * rate / 2))):
        out.insert(rng.randrange(len(out) + 1), rng.choice(["정말", "그리고", "아주", "(수정)"]))
    return " ".join(out)


def test_planted_near_duplicates_are_found_with_high_recall_and_precision(stages, tmp_path):
    rng = random.Random(7)
    import gzip
    docs = [json.loads(line)["text"] for line in gzip.open("data/corpus/python_docs_ko.jsonl.gz", "rt")]
    docs = [d[:3000] for d in docs if len(d) > 1500][:80]
    rows, planted = [], set()
    for i, d in enumerate(docs):
        rows.append({"id": f"orig{i}", "text": d})
    for i, d in enumerate(docs[:40]):          # 40 near copies (about 5% of words changed)
        rows.append({"id": f"copy{i}", "text": _mutate(d, rng, 0.05)})
        planted.add(f"copy{i}")
    rng.shuffle(rows)
    rows.sort(key=lambda r: r["id"].startswith("copy"))   # originals first: they are the ones kept
    src = tmp_path / "docs.jsonl"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    cfg = {"collect": {"world_size": 1, "sources": [{"name": "d", "uri": str(src), "id_field": "id"}]},
           "curate": {"world_size": 2, "steps": ["empty"], "minhash_threshold": 0.7}}
    cur = stages.upto(cfg, "curate")["curate"]
    check_accounting("curate", cur.stats)
    kept = {r["id"].split("/", 1)[1] for f in cur.files if f.name.startswith("data/")
            for r in pq.read_table(cur.file_uri(f.name)).to_pylist()}
    removed = {r["id"] for r in rows} - kept
    tp = len(removed & planted)
    recall, precision = tp / len(planted), tp / max(1, len(removed))
    assert recall >= 0.9 and precision >= 0.95, (recall, precision, sorted(removed - planted))
    assert cur.stats["dropped"]["near_duplicate"] == len(removed)
    assert cur.stats["dedup"]["clusters"] >= 36


def test_union_find_joins_through_shared_bands():
    bands = __import__("numpy").array([[1, 9], [2, 9], [2, 7], [5, 6]], dtype="<u8")
    assert near_duplicate_roots(bands).tolist() == [0, 0, 0, 3]


def test_exact_first_occurrence():
    import numpy as np
    h = np.array([[1, 2], [3, 4], [1, 2], [5, 6], [3, 4]], dtype="<u8")
    assert first_occurrence(h).tolist() == [True, True, False, True, False]


def test_identical_text_has_identical_bands_and_unrelated_text_does_not_collide():
    m = MinHasher(128, 5, 0.8)
    a = "파이썬에서 리스트는 가변 시퀀스이며 여러 항목을 순서대로 담습니다. " * 3
    assert m.bands_of(a) == m.bands_of(a)
    other = m.bands_of("완전히 다른 문장으로 이루어진 영화 리뷰입니다. 배우들의 연기가 좋았어요.")
    import numpy as np
    assert not set(np.frombuffer(m.bands_of(a), "<u8")) & set(np.frombuffer(other, "<u8"))


def _global_reference(hashes, bands, exact: bool = True, near: bool = True):
    """What one pass over every document in corpus order keeps: (keep mask, reason per document)."""
    import numpy as np
    n = len(hashes)
    keep = first_occurrence(hashes) if exact else np.ones(n, dtype=bool)
    reason = np.where(keep, 0, 1)
    if near and n:
        idx = np.flatnonzero(keep)
        roots = near_duplicate_roots(bands[idx])
        reason[idx[roots != np.arange(len(idx))]] = 2
    return reason


def test_the_fan_out_steps_keep_what_one_global_pass_keeps():
    """Random shards with planted exact copies and band collisions, split into hash-range buckets: pairs per
    bucket, components over the pairs only, and the same removals (and reasons) as the global pass."""
    import numpy as np

    from components.corpus.dedup import band_edges, components, exact_pairs, node_ids
    rng = np.random.default_rng(3)
    shards = [rng.integers(200, 400) for _ in range(5)]
    n = sum(shards)
    hashes = rng.integers(0, 2**63, size=(n, 2), dtype=np.uint64)
    bands = rng.integers(0, 2**63, size=(n, 9), dtype=np.uint64)
    for _ in range(60):                       # exact copies (their bands are their original's)
        a, b = sorted(rng.choice(n, 2, replace=False))
        hashes[b], bands[b] = hashes[a], bands[a]
    for _ in range(150):                      # near duplicates: one shared band, chains included
        a, b = rng.choice(n, 2, replace=False)
        j = rng.integers(9)
        bands[b, j] = bands[a, j]
    expected = _global_reference(hashes, bands)
    shard_of = np.repeat(np.arange(5), shards)
    row = np.concatenate([np.arange(s) for s in shards])
    node = node_ids(0, row) | (shard_of.astype(np.uint64) << np.uint64(32))
    B = 4
    copies, edges = [], []
    for k in range(B):
        e = hashes[:, 1] % np.uint64(B) == k
        copies.append(exact_pairs(hashes[e, 0], hashes[e, 1], node[e]))
        keys = bands.ravel()
        nodes = np.repeat(node, 9)
        m = keys % np.uint64(B) == k
        edges.append(band_edges(keys[m], nodes[m]))
    copies, edges = np.concatenate(copies), np.concatenate(edges)
    copy_nodes = np.unique(copies["b"])
    edges = edges[~(np.isin(edges["a"], copy_nodes) | np.isin(edges["b"], copy_nodes))]
    cnodes, roots = components(edges)
    got = np.zeros(n, dtype=int)
    order = {int(x): i for i, x in enumerate(node)}
    for x in copy_nodes.tolist():
        got[order[x]] = 1
    for x in cnodes[roots != cnodes].tolist():
        got[order[x]] = 2
    assert (expected == 1).sum() >= 50 and (expected == 2).sum() >= 100
    assert got.tolist() == expected.tolist()


def test_the_curate_stage_keeps_what_one_global_pass_keeps_on_the_demo_corpus(stages, tmp_path, monkeypatch):
    """The demo corpus through curate's four steps (3 shards, 5 buckets): the kept documents, in order, are the
    global pass's over the same cleaned documents, and each kept document counts the copies it stands for."""
    import numpy as np

    import components.stages.curate as curate
    from components.contract.config import load_config
    from components.corpus.dedup import exact_hash
    from components.corpus.records import read_records

    monkeypatch.setattr(curate, "DROP_STEPS", False)      # keep the cleaned shards to compute the reference
    cfg = load_config("configs/demo.yaml", ["collect.world_size=2", "curate.world_size=3",
                                            "curate.dedup_buckets=5"])
    cur = stages.upto(cfg, "curate")["curate"]
    check_accounting("curate", cur.stats)
    cleaned = [r for rank in range(3)
               for r in read_records(sorted(p for p in (tmp_path / "wd" / "artifacts" / "curate").glob(
                   f"*/steps/shard/{rank:05d}-of-00003/clean-*.parquet")))]
    texts = [r["text"] for r in cleaned]
    hashes = np.frombuffer(b"".join(exact_hash(t) for t in texts), dtype="<u8").reshape(-1, 2)
    m = MinHasher(cfg.curate.minhash_perm, cfg.curate.minhash_shingle, cfg.curate.minhash_threshold)
    reason = _global_reference(hashes, m.signatures(texts))
    expected = [r["id"] for r, why in zip(cleaned, reason) if why == 0]
    rows = [r for f in sorted(f.name for f in cur.files if f.name.startswith("data/"))
            for r in pq.read_table(cur.file_uri(f)).to_pylist()]
    assert [r["id"] for r in rows] == expected
    assert cur.stats["dropped"]["duplicate"] == int((reason == 1).sum()) > 50
    assert cur.stats["dropped"]["near_duplicate"] == int((reason == 2).sum()) > 5
    assert sum(r["duplicates"] for r in rows) == len(cleaned), "every removed document is counted by one kept"
    assert max(r["duplicates"] for r in rows) > 2


def test_a_new_generation_keeps_what_one_global_pass_keeps(stages, tmp_path):
    """curate.base: the documents of a new file, deduplicated against a base corpus, keep what one pass over
    the base's files and the new one keeps (first occurrence wins, the base's files first): exact copies and near
    copies of base documents (kept or already dropped), copies within the new file, and new documents. The base's
    data files are listed, not rewritten."""
    import gzip

    from components.corpus.records import curated_files

    rng = random.Random(11)
    docs = [json.loads(line)["text"] for line in gzip.open("data/corpus/python_docs_ko.jsonl.gz", "rt")]
    docs = [d[:2500] for d in docs if len(d) > 1200][:90]
    old, new = docs[:60], docs[60:]
    src = tmp_path / "src"
    src.mkdir()

    def write(name, rows):
        (src / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))

    write("a.jsonl", [{"id": f"a{i}", "text": d} for i, d in enumerate(old[:30])]
          + [{"id": "a-copy", "text": old[3]}])                                  # dropped in the base already
    write("b.jsonl", [{"id": f"b{i}", "text": d} for i, d in enumerate(old[30:])])
    later = ([{"id": f"c{i}", "text": d} for i, d in enumerate(new)]
             + [{"id": "c-exact-a", "text": old[5]}, {"id": "c-exact-dropped", "text": old[3]},
                {"id": "c-near-b", "text": _mutate(old[40], rng, 0.05)}, {"id": "c-exact-c", "text": new[2]},
                {"id": "c-near-c", "text": _mutate(new[7], rng, 0.05)}])
    settings = {"world_size": 2, "steps": ["empty"], "minhash_threshold": 0.7, "dedup_buckets": 3}

    def curate(workdir, base=None):
        cfg = {"collect": {"world_size": 1, "sources": [{"name": "d", "uri": f"{src}/*.jsonl", "id_field": "id"}]},
               "curate": {**settings, "base": base}}
        return stages.upto(cfg, "curate", workdir=workdir)["curate"]

    def kept(cur):
        return [r["id"].split("/", 1)[1] for f in curated_files(cur)
                for r in pq.read_table(cur.file_uri(f.name)).to_pylist()]

    base = curate(tmp_path / "wd")
    write("c.jsonl", later)
    grown = curate(tmp_path / "wd", base=base.uri)
    once = curate(tmp_path / "once")
    assert grown.stats["generation"] == 1 and grown.stats["raw_files_curated"] == 1
    assert kept(grown) == kept(once), "the same documents, in the same order"
    assert {"c-exact-a", "c-exact-dropped", "c-near-b", "c-exact-c", "c-near-c"}.isdisjoint(kept(grown))
    assert kept(grown)[:len(kept(base))] == kept(base)
    base_files = {f.name: f.sha256 for f in base.files if f.name.startswith("data/")}
    listed = {f.name.split("/", 2)[2]: f.sha256 for f in grown.files if f.name.startswith("@stage/")}
    assert base_files.items() <= listed.items()
    assert grown.stats["records_out"] == len(kept(once)) and grown.stats["records_reused"] == len(kept(base))
    check_accounting("curate", grown.stats)
    # nothing new since: the base itself, not an empty generation
    assert curate(tmp_path / "wd", base=grown.uri).uri == grown.uri
