"""Decontamination measured: recall on planted KoBEST test items and precision on clean text on the same topics
(components/corpus/decontam_eval.py), ours beside the word n-gram matching other pipelines use, and the cost.

    python benchmarks/decontam_report.py [--clean-docs 3000]

The peer: datatrove's n-gram decontamination and NeMo-Curator's task decontamination both split text into words
and look for a shared n-gram of words (12 and 13 words by default; here 8, which favours the peer on short items).
Korean spacing varies, so a respaced item shares no word n-gram with its original; items shorter than n words
cannot be matched at all.
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from components.contract.config import DecontaminateConfig  # noqa: E402
from components.corpus.decontam import Item, index_for  # noqa: E402
from components.corpus.decontam_eval import VARIANTS, evaluate  # noqa: E402

KOBEST = ROOT / "data" / "kobest" / "v1.0"
_WORD = re.compile(r"\w+")


class WordNgrams:
    """The peer's matcher: lower-cased words (punctuation dropped), any shared word n-gram is a hit."""

    def __init__(self, index, rows, n: int = 8):
        from components.corpus.decontam import FIELDS
        self.n, self.items, self.grams = n, index.items, {}
        self.indexed, self.unmatchable, self.long_field = index.indexed, index.unmatchable, index.long_field
        for i, it in enumerate(index.items):
            row = rows[it.task][int(it.key.split(":")[1])]
            words = [w.lower() for f in FIELDS[it.task] for w in _WORD.findall(row[f])]
            for j in range(len(words) - n + 1):
                self.grams.setdefault(" ".join(words[j:j + n]), set()).add(i)

    def find(self, text: str) -> list[Item]:
        words = [w.lower() for w in _WORD.findall(text)]
        hits = set()
        for j in range(len(words) - self.n + 1):
            hits |= self.grams.get(" ".join(words[j:j + self.n]), set())
        return [self.items[i] for i in sorted(hits)]


def _print(name: str, r: dict) -> None:
    print(f"decontamination  {name}: recall {r['recall']:.4f}  precision {r['precision']:.4f}  "
          f"false-positive rate {r['false_positive_rate']:.5f}")
    print("  task       indexed unmatchable  " + "  ".join(f"{v:>9}" for v in VARIANTS))
    for task, v in sorted(r["tasks"].items()):
        cells = [f"{v[k]['found'] / v[k]['planted']:.4f}" if v[k]["planted"] else "       -" for k in VARIANTS]
        print(f"  {task:<10} {v['indexed']:>7} {v['unmatchable']:>11}  " + "  ".join(f"{c:>9}" for c in cells))
    print("  clean set                  documents  flagged  overlaps (true test items, told by difflib)")
    for name_, c in r["clean"].items():
        print(f"  {name_:<26} {c['documents']:>9} {c['flagged']:>8} {c['overlaps']:>9}")


def main() -> None:
    from components.evaluation.kobest_data import load_split

    ap = argparse.ArgumentParser()
    ap.add_argument("--clean-docs", type=int, default=3000)
    a = ap.parse_args()
    t = time.perf_counter()
    index = index_for(DecontaminateConfig(kobest_dir=str(KOBEST)))
    built = time.perf_counter() - t
    print(f"decontamination  index: {sum(index.indexed.values()):,} items, {len(index._set):,} n-grams, "
          f"built in {built:.2f} s")
    ours = evaluate(index, KOBEST, clean_docs=a.clean_docs)
    _print("ours (character 6-grams of normalised text)", ours)
    rows = {t: load_split(KOBEST, t, "test") for t in index.indexed}
    peer = WordNgrams(index, rows)
    peer_r = evaluate(peer, KOBEST, clean_docs=a.clean_docs)
    _print("peer (word 8-grams)", peer_r)
    print(f"decontamination  recall ours/peer {ours['recall'] / max(peer_r['recall'], 1e-9):.2f}x")
    # cost per core on clean documents (what nearly every document is)
    from components.corpus.decontam_eval import _clean_texts
    import random
    docs = _clean_texts(random.Random(0), 3000)
    chars = sum(map(len, docs))
    for name, m in (("ours", index), ("peer", peer)):
        t = time.perf_counter()
        for d in docs:
            m.find(d)
        dt = time.perf_counter() - t
        print(f"decontamination  cost {name}: {len(docs) / dt:,.0f} docs/s, {chars / dt / 1e6:.2f} M chars/s, "
              f"{sum(len(d.encode()) for d in docs) / dt / 1e6:.1f} MB/s on one core")


if __name__ == "__main__":
    main()
