"""Per-type recall and precision of PII masking on the labelled set (tests/data/pii_labelled.jsonl)."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from components.corpus.pii_eval import evaluate  # noqa: E402

report, errors = evaluate(ROOT / "tests" / "data" / "pii_labelled.jsonl")
print("PII  type   gold  predicted  recall  precision")
for kind, r in report.items():
    print(f"PII  {kind:<6} {r['gold']:>5} {r['predicted']:>10} {r['recall']:>7.4f} {r['precision']:>10.4f}")
for e in errors[:10]:
    print("  miss/false:", e)
