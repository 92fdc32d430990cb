"""Recall and precision of decontamination (components/corpus/decontam.py), measured on documents built here.

Recall: every indexed test item planted four ways: `whole` (the item alone, its fields on lines as a dataset dump
or a web page copying it shows them), `inside` (the same in the middle of a longer clean document), `spacing`
(inside, with spaces dropped and added, line breaks inserted and punctuation changed), `edited` (inside, one
Hangul syllable in 40 replaced: typos, a paraphrased word), for items with a long field, `passage` (that field
alone inside clean text: the Wikipedia page a BoolQ passage came from), and `dump` (the item among the four that
follow it in the test file, inside clean text: a page of the test set). A weak item (decontam.py) is found by
design only in a dump.
Precision: clean documents on the same topics that must be kept: KoBEST's own train and dev items of every task
(the same kinds of sentences, other items) written as dumps, and movie reviews, news sentences and technical text
from the bundled corpus grouped into documents. A clean document that truly holds a test item is reported apart as
an overlap, not as a false positive: KoBEST's BoolQ train and dev splits reuse test passages (with small edits, under
other questions), which the few-shot examples then carry. An overlap is told by difflib, not by the index: the
item's longest field at least 80% similar to one of the document's fields.
"""
from __future__ import annotations

import dataclasses
import gzip
import json
import random
from pathlib import Path

from .decontam import FIELDS, Index, normalise

ROOT = Path(__file__).resolve().parents[2]
VARIANTS = ("whole", "inside", "spacing", "edited", "passage", "dump")


def _clean_texts(rng: random.Random, n: int) -> list[str]:
    """Ordinary Korean documents from the bundled corpus: reviews, news sentences, technical prose."""
    import pyarrow.parquet as pq
    with gzip.open(ROOT / "data/corpus/nsmc_reviews.jsonl.gz", "rt", encoding="utf-8") as f:
        reviews = [json.loads(line)["review"] for line in f]
    news = pq.read_table(ROOT / "data/corpus/klue_ner_dev.parquet").column("sentence").to_pylist()
    with gzip.open(ROOT / "data/corpus/python_docs_ko.jsonl.gz", "rt", encoding="utf-8") as f:
        docs = [json.loads(line)["text"] for line in f]
    out = []
    for i in range(n):
        pool = (reviews, news, docs)[i % 3]
        if pool is docs:
            text = rng.choice(docs)
            start = rng.randrange(max(1, len(text) - 1500))
            out.append(text[start:start + rng.randint(300, 1500)])
        else:
            out.append("\n".join(rng.sample(pool, rng.randint(5, 25))))
    return out


def _dump(task: str, row: dict) -> str:
    return "\n".join(f"{name}: {row[name]}" for name in FIELDS[task])


def _disturb(rng: random.Random, text: str) -> str:
    out = []
    for ch in text:
        r = rng.random()
        if ch == " " and r < 0.5:
            continue                            # spacing dropped
        if ch in ".,?!" and r < 0.5:
            ch = rng.choice(["", "!", "~", " ..."])
        out.append(ch)
        if ch != " " and r > 0.93:
            out.append(rng.choice([" ", "\n", "  "]))    # spacing added, lines broken
    return "".join(out)


def _edit(rng: random.Random, text: str) -> str:
    return "".join(chr(rng.randrange(0xAC00, 0xD7A4)) if "가" <= ch <= "힣" and rng.random() < 1 / 40 else ch
                   for ch in text)


def _inside(rng: random.Random, clean: list[str], text: str) -> str:
    return f"{rng.choice(clean)}\n{text}\n{rng.choice(clean)}"


def _similar(field: str, fields: list[str]) -> bool:
    from difflib import SequenceMatcher
    return any(SequenceMatcher(None, field, f, autojunk=False).ratio() >= 0.8 for f in fields)


def planted(rows: dict[str, list[dict]], index: Index, clean: list[str], rng: random.Random):
    """(variant, task, key, text) for every indexed item."""
    for it in index.items:
        if not it.matchable:
            continue
        at = int(it.key.split(":")[1])
        row = rows[it.task][at]
        dump = _dump(it.task, row)
        page = "\n\n".join(_dump(it.task, r) for r in rows[it.task][at:at + 5])
        yield "dump", it, _inside(rng, clean, page)
        yield "whole", it, dump
        yield "inside", it, _inside(rng, clean, dump)
        yield "spacing", it, _inside(rng, clean, _disturb(rng, dump))
        yield "edited", it, _inside(rng, clean, _edit(rng, dump))
        longest = max(FIELDS[it.task], key=lambda f: len(normalise(row[f])))
        if len(normalise(row[longest])) >= index.long_field:
            yield "passage", it, _inside(rng, clean, row[longest])


def evaluate(index: Index, kobest_dir: str | Path, *, clean_docs: int = 3000, seed: int = 42,
             limit: int | None = None) -> dict:
    """Per task and variant: planted, found (recall); clean documents, flagged (false positives), overlaps.
    `limit`: items per task planted and train/dev items per task used as clean text (None: all)."""
    from ..evaluation.kobest_data import load_split
    rng = random.Random(seed)
    clean = _clean_texts(rng, clean_docs)
    tasks = sorted({it.task for it in index.items})
    test = {t: load_split(Path(kobest_dir), t, "test") for t in tasks}
    report = {"tasks": {}, "clean": {}}
    if limit is not None:
        keep = {t: set(rng.sample(range(len(test[t])), min(limit, len(test[t])))) for t in tasks}
        plant_from = dataclasses.replace(
            index, items=[it for it in index.items if int(it.key.split(":")[1]) in keep[it.task]])
    else:
        plant_from = index
    for variant, it, text in planted(test, plant_from, clean, rng):
        r = report["tasks"].setdefault(it.task, {v: {"planted": 0, "found": 0, "weak": 0} for v in VARIANTS})
        r[variant]["planted"] += 1
        r[variant]["weak"] += not it.strong
        r[variant]["found"] += any(f.key == it.key and f.task == it.task for f in index.find(text))
    for t in tasks:
        r = report["tasks"].setdefault(t, {v: {"planted": 0, "found": 0, "weak": 0} for v in VARIANTS})
        r["indexed"], r["unmatchable"] = index.indexed.get(t, 0), index.unmatchable.get(t, 0)
    # clean text: the bundled corpus, then every task's train and dev items as dumps
    sets = {"corpus": clean}
    for t in tasks:
        rows = [row for split in ("train", "validation") for row in load_split(Path(kobest_dir), t, split)]
        rows = rows if limit is None else rng.sample(rows, min(limit, len(rows)))
        sets[f"kobest_{t}_train_dev"] = [(_dump(t, row), [normalise(row[f]) for f in FIELDS[t]]) for row in rows]
        if t == "sentineg":     # pages of ten reviews: the weak items' own domain, in numbers
            sets["kobest_sentineg_pages"] = [
                ("\n".join(r["sentence"] for r in rows[i:i + 10]), [normalise(r["sentence"]) for r in rows[i:i + 10]])
                for i in range(0, len(rows), 10)]
    for name, docs in sets.items():
        flagged = overlaps = 0
        for d in docs:
            text, fields = d if isinstance(d, tuple) else (d, [])
            hits = index.find(text)
            if not hits:
                continue
            if any(_similar(max(h.fields, key=len), fields) for h in hits):
                overlaps += 1
            else:
                flagged += 1
        report["clean"][name] = {"documents": len(docs), "flagged": flagged, "overlaps": overlaps}
    found = sum(v["found"] for r in report["tasks"].values() for k, v in r.items() if k in VARIANTS)
    plant = sum(v["planted"] for r in report["tasks"].values() for k, v in r.items() if k in VARIANTS)
    false = sum(c["flagged"] for c in report["clean"].values())
    report["recall"] = found / plant if plant else 1.0
    report["precision"] = found / (found + false) if found + false else 1.0
    report["false_positive_rate"] = false / sum(c["documents"] for c in report["clean"].values())
    return report
