"""PII masking measured on the labelled set (synthetic formats + real NSMC reviews + real KLUE news sentences)."""
from pathlib import Path

import pytest

from components.corpus.pii_eval import TYPES, evaluate

SET = Path("tests/data/pii_labelled.jsonl")


def test_labelled_set_covers_every_type_and_real_text():
    text = SET.read_text(encoding="utf-8")
    assert text.count('"origin": "klue"') == 5000 and text.count('"origin": "nsmc"') >= 20
    report, _ = evaluate(SET)
    assert all(report[t]["gold"] >= 400 for t in TYPES)


@pytest.mark.parametrize("kind", TYPES)
def test_recall_and_precision_meet_the_goal(kind):
    report, errors = evaluate(SET)
    r = report[kind]
    assert r["recall"] >= 0.99 and r["precision"] >= 0.98, (r, [e for e in errors if any(
        s[2] == kind for s in e["missed"] + e["false"])][:10])
