"""Per-type recall and precision of PII masking on both labelled sets, and the false positives on look-alike lines.

    python benchmarks/pii_report.py

patterns' set: tests/data/pii_labelled.jsonl (benchmarks/pii_set.py); held-out set: tests/data/pii_heldout.jsonl
(benchmarks/pii_set_heldout.py, written from the published formats before the context rules, which were then
fitted to it); blind set: tests/data/pii_blind.jsonl (benchmarks/pii_set_blind.py, written without reading the
detector or the other sets, never used to tune it: the honest figure for text we have not seen).
"""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from components.corpus.pii import find_pii  # noqa: E402
from components.corpus.pii_eval import evaluate  # noqa: E402

SETS = {"patterns' set": ROOT / "tests" / "data" / "pii_labelled.jsonl",
        "held-out set": ROOT / "tests" / "data" / "pii_heldout.jsonl",
        "blind set": ROOT / "tests" / "data" / "pii_blind.jsonl"}


def lookalike_false_positives(path: Path) -> tuple[int, int]:
    """(spans found, look-alike lines) over the lines labelled with no span: what masking would wrongly remove."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    empty = [r["text"] for r in rows if not r["spans"]]
    return sum(len(find_pii(t)) for t in empty), len(empty)


def report(label: str, path: Path) -> None:
    result, errors = evaluate(path)
    print(f"PII  {label}: {path.relative_to(ROOT)}")
    print("PII  type   gold  predicted  recall  precision")
    for kind, r in result.items():
        print(f"PII  {kind:<6} {r['gold']:>5} {r['predicted']:>10} {r['recall']:>7.4f} {r['precision']:>10.4f}")
    found, lines = lookalike_false_positives(path)
    print(f"PII  look-alike false positives: {found} spans on {lines} lines without PII")
    for e in errors[:10]:
        print("  miss/false:", e)


for name, file in SETS.items():
    report(name, file)
