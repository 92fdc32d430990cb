"""Near-duplicate removal measured on planted near duplicates among real, distinct Korean documents."""
import json
import random

import pyarrow.parquet as pq

from components.contract import graph
from components.contract.config import config_from_dict
from components.corpus.dedup import MinHasher, first_occurrence, near_duplicate_roots
from components.contract.runner import make_context
from components.contract.execution import StageRun, check_accounting


def _mutate(text: str, rng: random.Random, rate: float) -> str:
    """A near copy: a few words dropped or replaced, as reposts and boilerplate variants differ."""
    words = text.split()
    out = [w for w in words if rng.random() > rate]
    for _ in range(max(1, int(len(out) * rate / 2))):
        out.insert(rng.randrange(len(out) + 1), rng.choice(["정말", "그리고", "아주", "(수정)"]))
    return " ".join(out)


def test_planted_near_duplicates_are_found_with_high_recall_and_precision(tmp_path):
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
    cfg = config_from_dict({"collect": {"world_size": 1, "sources": [{"name": "d", "uri": str(src), "id_field": "id"}]},
                            "curate": {"world_size": 2, "steps": ["empty"], "minhash_threshold": 0.7}})
    ctx = make_context(cfg, tmp_path / "wd", None)
    raw, _ = StageRun(graph.stage("collect"), ctx, {}).execute()
    cur, _ = StageRun(graph.stage("curate"), ctx, {"raw": raw.uri}).execute()
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
