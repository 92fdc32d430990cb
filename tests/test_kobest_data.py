"""The KoBEST TSVs read with every trap handled: row counts and label distributions per split."""
from pathlib import Path

import pytest

from components.evaluation.kobest import load_split, write_tasks

KOBEST = Path("data/kobest/v1.0")
ROWS = {"boolq": (3665, 700, 1404), "copa": (3076, 500, 1000), "hellaswag": (2029, 500, 500),
        "sentineg": (3649, 400, 397), "wic": (3318, 610, 1260)}


@pytest.mark.parametrize("task", sorted(ROWS))
def test_row_counts_match_the_published_splits(task):
    counts = tuple(len(load_split(KOBEST, task, s)) for s in ("train", "validation", "test"))
    assert counts == ROWS[task]


def test_labels_are_zero_based_and_balanced_like_the_source():
    copa = load_split(KOBEST, "copa", "test")
    assert {r["label"] for r in copa} == {0, 1}
    assert sum(r["label"] == 0 for r in copa) == 517
    boolq = load_split(KOBEST, "boolq", "train")
    assert sum(r["label"] for r in boolq) == 1831                 # mixed-case True/TRUE all counted
    assert {r["label"] for r in load_split(KOBEST, "hellaswag", "test")} == {0, 1, 2, 3}


def test_literal_quotes_survive_and_csv_quoting_is_undone():
    boolq = load_split(KOBEST, "boolq", "train")
    # 12 rows have a field starting with a literal quote: not CSV quoting in BoolQ, so it must stay.
    assert sum(r["paragraph"].startswith('"') or r["question"].startswith('"') for r in boolq) == 12
    hs = load_split(KOBEST, "hellaswag", "train")
    assert not any(r["context"].startswith('"') and r["context"].endswith('"') for r in hs)


def test_sentineg_test_uses_the_negated_columns():
    first = load_split(KOBEST, "sentineg", "test")[0]
    assert first == {"sentence": "택배사 정말 마음에 듬", "label": 1}


def test_wic_matches_the_hub_example():
    first = load_split(KOBEST, "wic", "test")[0]
    assert first["word"] == "양분" and first["context_1"] == "토양에 양분이 풍부하여 나무가 잘 자란다."
    assert first["label"] == 1


def test_task_yamls_are_the_harness_tasks_with_local_data(tmp_path):
    names = write_tasks(tmp_path / "data", tmp_path / "tasks")
    text = (tmp_path / "tasks" / "kobest_local_boolq.yaml").read_text()
    assert 'doc_to_text: "{{paragraph}} 질문: {{question}} 답변: "' in text
    assert "dataset_path: json" in text and "skt/kobest_v1" not in text
    assert names == [f"kobest_local_{t}" for t in ("boolq", "copa", "hellaswag", "sentineg", "wic")]
