"""Per-type recall and precision of `find_pii` on a labelled set (exact span and type must match)."""
from __future__ import annotations

import json
from pathlib import Path

from .pii import find_pii

TYPES = ("tel", "rrn", "acc", "email")


def evaluate(path: Path) -> tuple[dict, list[dict]]:
    tp = {t: 0 for t in TYPES}
    gold = {t: 0 for t in TYPES}
    pred = {t: 0 for t in TYPES}
    errors = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        ex = json.loads(line)
        want = {tuple(s) for s in ex["spans"]}
        got = set(find_pii(ex["text"]))
        for s in want:
            gold[s[2]] += 1
        for s in got:
            pred[s[2]] += 1
            tp[s[2]] += s in want
        if want != got:
            errors.append({"text": ex["text"], "missed": sorted(want - got), "false": sorted(got - want)})
    report = {t: {"gold": gold[t], "predicted": pred[t], "recall": tp[t] / gold[t] if gold[t] else 1.0,
                  "precision": tp[t] / pred[t] if pred[t] else 1.0} for t in TYPES}
    return report, errors
