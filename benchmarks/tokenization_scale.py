"""train-tokenizer and tokenize as the corpus grows, with the same `sample_chars`.

    python benchmarks/tokenization_scale.py [--docs 12000] [--scales 1 16] [--out FILE]

The corpus of benchmarks/curation_scale.py (web-length Korean documents, planted copies) at each scale, collected
and curated with shards growing with it, then train-tokenizer (MBBPE, 30,000 entries, the demo's 3 M-character
sample) and tokenize, from the manifests' seconds. Goal: train-tokenizer within 1.5x the time at 16x the corpus
(it reads what it samples). tokenize's figures are reported as they stand.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from curation_scale import make_corpus, run_ours  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=12000, help="documents at 1x")
    ap.add_argument("--scales", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "tokenization_scale.json"))
    a = ap.parse_args()
    results = {"machine": {"cpus": len(__import__("os").sched_getaffinity(0)), "platform": platform.platform(),
                           "python": sys.version.split()[0], "date": time.strftime("%Y-%m-%d")}, "scales": {}}
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        for x in a.scales:
            planted = make_corpus(d / f"corpus-{x}x", a.docs * x, seed=x)
            r = run_ours(d / f"corpus-{x}x", d / f"work-{x}x", shards=2 * x, buckets=2 * x, workers=2,
                         until="tokenize", task_processes=True)
            tok = r["tokenization"]
            results["scales"][str(x)] = {"planted": planted, **tok}
            print(f"{x:>3}x {a.docs * x:>8,} docs {planted['chars'] / 1e6:7.1f} M chars | train-tokenizer "
                  f"{tok['train-tokenizer']['seconds']:6.1f}s on {tok['train-tokenizer']['sample_chars']:,} chars | "
                  f"tokenize {tok['tokenize']['seconds']:6.1f}s, {tok['tokenize']['tokens']:,} tokens", flush=True)
        lo, hi = (results["scales"][str(x)] for x in (a.scales[0], a.scales[-1]))
        k = a.scales[-1] / a.scales[0]
        ratio = hi["train-tokenizer"]["seconds"] / lo["train-tokenizer"]["seconds"]
        results["train_tokenizer_ratio"] = ratio
        results["tokenize_ratio"] = hi["tokenize"]["seconds"] / lo["tokenize"]["seconds"]
        print(f"{k:.0f}x the corpus, the same sample: train-tokenizer {ratio:.2f}x the time (goal <= 1.5x); "
              f"tokenize {results['tokenize_ratio']:.2f}x")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(results, indent=1))
    print(f"figures: {a.out}")


if __name__ == "__main__":
    main()
