"""Language identification measured on the labelled mix (tests/data/langid_mix.jsonl).

Two views: the predicted language against the true one (ko_en counts as Korean), and the keep decision the curate
filter makes (keep when the language is "ko" with a score at or over the threshold; ko and ko_en must be kept,
the rest dropped).
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from .langid import DEFAULT_THRESHOLD, identify, keep

CLASSES = ("ko", "ko_en", "ja", "zh", "en", "code")
KEEP = ("ko", "ko_en")
LANGS = ("ko", "ja", "zh", "en")


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]


def predict(rows: list[dict], **kw) -> list[tuple[str, float]]:
    return [identify(r["text"], **kw) for r in rows]


def confusion(rows: list[dict], preds: list[tuple[str, float]]) -> dict[str, Counter]:
    out = {c: Counter() for c in CLASSES}
    for r, (lang, _) in zip(rows, preds):
        out[r["label"]][lang] += 1
    return out


def keep_report(rows: list[dict], preds: list[tuple[str, float]], threshold: float = DEFAULT_THRESHOLD) -> dict:
    """Per class: the share kept (recall for ko/ko_en, leakage for the others); overall precision and recall."""
    kept = Counter()
    total = Counter(r["label"] for r in rows)
    for r, (lang, score) in zip(rows, preds):
        kept[r["label"]] += keep(lang, score, threshold)
    tp = sum(kept[c] for c in KEEP)
    all_kept = sum(kept.values())
    positives = sum(total[c] for c in KEEP)
    per_class = {c: kept[c] / total[c] for c in CLASSES if total[c]}
    return {"threshold": threshold, "kept": per_class, "precision": tp / all_kept if all_kept else 1.0,
            "recall": tp / positives if positives else 1.0,
            # Per positive class: precision of keep if the mix held only that class and the negatives.
            "precision_by_class": {c: kept[c] / (kept[c] + all_kept - tp) if kept[c] + all_kept - tp else 1.0
                                   for c in KEEP}}


def best_threshold(rows: list[dict], preds: list[tuple[str, float]]) -> float:
    """The threshold with the highest F1 of keep; ties go to the lower one (more Korean kept). Candidates are the
    exact scores of "ko" predictions (rounded ones would sit just above the score they stand for)."""
    candidates = sorted({s for lang, s in preds if lang == "ko"} | {0.0})

    def f1(t):
        r = keep_report(rows, preds, t)
        return 2 * r["precision"] * r["recall"] / (r["precision"] + r["recall"]) if r["precision"] + r["recall"] else 0

    return max(candidates, key=lambda t: (f1(t), -t))


def language_report(rows: list[dict], preds: list[tuple[str, float]]) -> dict:
    """Precision and recall of the predicted language for ko, ja, zh, en (ko_en is Korean; code has no language)."""
    gold = ["ko" if r["label"] == "ko_en" else r["label"] for r in rows]
    out = {}
    for lang in LANGS:
        tp = sum(g == lang and p == lang for g, (p, _) in zip(gold, preds))
        n_gold = gold.count(lang)
        n_pred = sum(p == lang for p, _ in preds)
        out[lang] = {"gold": n_gold, "predicted": n_pred, "recall": tp / n_gold if n_gold else 1.0,
                     "precision": tp / n_pred if n_pred else 1.0}
    return out


def composed(rows: list[dict]) -> list[dict]:
    """Korean pages that open with something else: each long ko/ko_en document behind an English or code block
    (a medium one from the mix, shorter than the page), as a blog post opens with a menu, a licence or a listing.
    The label stays the page's: a sampler that reads only the start gets these wrong."""
    bodies = [r for r in rows if r["label"] in KEEP and len(r["text"]) >= 1000]
    heads = [r for r in rows if r["label"] in ("en", "code") and 300 <= len(r["text"]) < 1000]
    return [{"text": heads[i % len(heads)]["text"] + "\n\n" + b["text"], "label": b["label"],
             "origin": f"{heads[i % len(heads)]['origin']} + {b['origin']}"} for i, b in enumerate(bodies)]
