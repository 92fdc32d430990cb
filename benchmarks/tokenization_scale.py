"""train-tokenizer and tokenize as the corpus grows, and tokenize against the raw tokenizer it drives.

    python benchmarks/tokenization_scale.py [--docs 12000] [--scales 1 16] [--out FILE]

The corpus of benchmarks/curation_scale.py (web-length Korean documents, planted copies) at each scale, collected
and curated with shards growing with it, then train-tokenizer (MBBPE, 30,000 entries, the demo's 3 M-character
sample) and tokenize as ONE task (tokenize.world_size=1, in a process of its own, so its peak memory is its own).
Goals, at 16x the 1x corpus:
- train-tokenizer within 1.5x the time (it reads what it samples);
- tokenize within 17.6x the time and its process within 1.3x the memory (the writers keep nothing per document);
- the tokenize task at least 0.95 of the speed of raw `tokenizers.Tokenizer.encode_batch` over the same texts,
  with the same threads, in this process: the peer a user would otherwise write. The stage's time includes
  reading Parquet, splitting, decoding every validation document again and writing the indexed datasets; the
  peer's texts are in memory before its clock starts.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

from curation_scale import make_corpus, run_ours  # noqa: E402


def raw_encode(curated_uri: str, tokenizer_uri: str, batch_chars: int) -> dict:
    """The peer: encode_batch over the curated texts, in batches of the stage's size, texts already in memory."""
    import pyarrow.parquet as pq
    import tokenizers

    from components.contract.manifest import read_manifest
    from components.contract.storage import Storage
    from components.corpus.records import curated_files

    curated, tk = (read_manifest(Storage(), u) for u in (curated_uri, tokenizer_uri))
    tok = tokenizers.Tokenizer.from_file(tk.file_uri("tokenizer.json"))
    batches, batch, size = [], [], 0
    for f in (f.name for f in curated_files(curated)):
        for text in pq.read_table(curated.file_uri(f), columns=["text"]).column("text").to_pylist():
            batch.append(text)
            size += len(text)
            if size >= batch_chars:
                batches.append(batch)
                batch, size = [], 0
    batches.append(batch)
    t0 = time.perf_counter()
    tokens = sum(len(e.ids) for b in batches for e in tok.encode_batch(b, add_special_tokens=False))
    seconds = time.perf_counter() - t0
    t0 = time.perf_counter()      # the ids-only call the stage makes: the same work without character offsets
    fast = sum(len(e.ids) for b in batches for e in tok.encode_batch_fast(b, add_special_tokens=False))
    assert fast == tokens
    return {"seconds": seconds, "fast_seconds": time.perf_counter() - t0, "tokens": tokens,
            "documents": sum(map(len, batches))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=12000, help="documents at 1x")
    ap.add_argument("--scales", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "tokenization_scale.json"))
    a = ap.parse_args()
    from components.contract.config import TokenizeConfig

    results = {"machine": {"cpus": len(os.sched_getaffinity(0)), "platform": platform.platform(),
                           "python": sys.version.split()[0], "date": time.strftime("%Y-%m-%d")}, "scales": {}}
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        for x in a.scales:
            planted = make_corpus(d / f"corpus-{x}x", a.docs * x, seed=x)
            r = run_ours(d / f"corpus-{x}x", d / f"work-{x}x", shards=2 * x, buckets=2 * x, workers=2,
                         until="tokenize", task_processes=True, extra=("tokenize.world_size=1",))
            tok = r["tokenization"]
            task = tok["tokenize"]["steps"]["shard"]
            peer = raw_encode(r["uris"]["curate"], r["uris"]["train-tokenizer"], TokenizeConfig().batch_chars)
            if peer["tokens"] + peer["documents"] != tok["tokenize"]["tokens"]:    # + one end-of-document each
                sys.exit(f"the peer encoded {peer['tokens']:,} tokens, the stage {tok['tokenize']['tokens']:,}")
            results["scales"][str(x)] = {"planted": planted, **tok, "raw_encode_batch": peer,
                                         "vs_raw": peer["seconds"] / task["task_seconds_max"],
                                         "vs_raw_fast": peer["fast_seconds"] / task["task_seconds_max"]}
            print(f"{x:>3}x {a.docs * x:>8,} docs {planted['chars'] / 1e6:7.1f} M chars | train-tokenizer "
                  f"{tok['train-tokenizer']['seconds']:6.1f}s on {tok['train-tokenizer']['sample_chars']:,} chars | "
                  f"tokenize one task {task['task_seconds_max']:6.1f}s {task['peak_rss_mb_max']:6.0f} MB, "
                  f"{tok['tokenize']['tokens']:,} tokens in {tok['tokenize']['segments']} segments | raw "
                  f"encode_batch {peer['seconds']:6.1f}s: the stage at {peer['seconds'] / task['task_seconds_max']:.2f}"
                  f" of its speed ({peer['fast_seconds'] / task['task_seconds_max']:.2f} of encode_batch_fast's)",
                  flush=True)
        lo, hi = (results["scales"][str(x)] for x in (a.scales[0], a.scales[-1]))
        k = a.scales[-1] / a.scales[0]
        lo_task, hi_task = (s["tokenize"]["steps"]["shard"] for s in (lo, hi))
        results["train_tokenizer_ratio"] = hi["train-tokenizer"]["seconds"] / lo["train-tokenizer"]["seconds"]
        results["tokenize_ratio"] = hi_task["task_seconds_max"] / lo_task["task_seconds_max"]
        results["tokenize_memory_ratio"] = hi_task["peak_rss_mb_max"] / lo_task["peak_rss_mb_max"]
        results["tokenize_vs_raw"] = min(s["vs_raw"] for s in results["scales"].values())
        results["tokenize_vs_raw_fast"] = min(s["vs_raw_fast"] for s in results["scales"].values())
        print(f"{k:.0f}x the corpus: train-tokenizer {results['train_tokenizer_ratio']:.2f}x the time (goal <= 1.5x); "
              f"tokenize {results['tokenize_ratio']:.2f}x the time (goal <= {1.1 * k:.1f}x), "
              f"{results['tokenize_memory_ratio']:.2f}x the memory (goal <= 1.3x); tokenize at "
              f"{results['tokenize_vs_raw']:.2f} of raw encode_batch's speed (goal >= 0.95), "
              f"{results['tokenize_vs_raw_fast']:.2f} of encode_batch_fast's")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(results, indent=1))
    print(f"figures: {a.out}")


if __name__ == "__main__":
    main()
