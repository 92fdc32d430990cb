"""Curation at growing scale, and against datatrove, on web-length Korean text.

    python benchmarks/curation_scale.py [--docs 12000] [--scales 1 4 16] [--skip-datatrove] [--out FILE]

Corpus: documents of mixed, web-like length (log-normal, median about 700 characters) made of real Korean
sentences (NSMC reviews, the Korean Python docs) in random order, so almost every document is unique; then 3%
exact copies and 3% near copies (about 5% of words changed) of earlier documents, written as zstd JSONL files of
1,000 documents. Scale x has x times the documents, x times the shards (collect and curate) and x times the dedup
buckets, so every task's share stays the same, as on a cluster.

1. Scaling: collect + curate through the local runner at each scale, two tasks at a time, each task in a fresh
   process as in a pod of its own (task seconds and peaks are the tasks' own; process start is not counted):
   wall time per step (from the manifests), the largest single process's peak memory (the driver or any worker),
   bytes read and written per task. Goal: 16x the data within 17.6x the time, the largest process within 1.3x.
   Then one task per step over the 4x corpus (on through train-tokenizer and tokenize) and over the 16x one: how a
   task's memory and disk grow with its share. Then the cluster step alone at 1 M and 4 M duplicates.
2. Against datatrove, one core each, the same 1x corpus: our collect + curate (one shard, one bucket) against
   datatrove's closest pipeline (JsonlReader -> PIIFormatter -> Gopher repetition and quality filters ->
   MinHash signatures -> buckets -> clusters -> filter -> JsonlWriter). Goal: at least 3x its throughput.
Writes the figures as JSON (default benchmarks/results/curation_scale.json), which `polyglot-ko plan` reads.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _sentences() -> list[str]:
    out = [json.loads(line)["review"] for line in gzip.open(ROOT / "data/corpus/nsmc_reviews.jsonl.gz", "rt")]
    for line in gzip.open(ROOT / "data/corpus/python_docs_ko.jsonl.gz", "rt"):
        out += [s.strip() for s in json.loads(line)["text"].split("\n") if len(s.strip()) > 20]
    return [s for s in out if s]


def _mutate(text: str, rng: random.Random) -> str:
    words = text.split()
    out = [w for w in words if rng.random() > 0.05]
    for _ in range(max(1, len(out) // 40)):
        out.insert(rng.randrange(len(out) + 1), rng.choice(["정말", "그리고", "아주", "(수정)"]))
    return " ".join(out)


def make_corpus(directory: Path, docs: int, seed: int) -> dict:
    """`docs` documents in zstd JSONL files; returns counts of what was planted."""
    import zstandard

    rng = random.Random(seed)
    sentences = _sentences()
    directory.mkdir(parents=True, exist_ok=True)
    made, planted = [], {"docs": docs, "exact": 0, "near": 0, "chars": 0, "text_bytes": 0}
    for i in range(docs):
        if made and rng.random() < 0.03:
            text = rng.choice(made)
            planted["exact"] += 1
        elif made and rng.random() < 0.03 / 0.97:
            text = _mutate(rng.choice(made), rng)
            planted["near"] += 1
        else:
            target, parts = int(rng.lognormvariate(6.55, 0.8)) + 60, []
            while sum(map(len, parts)) < target:
                parts.append(rng.choice(sentences))
            text = " ".join(parts)
        made.append(text)
        planted["chars"] += len(text)
        planted["text_bytes"] += len(text.encode())
    cctx = zstandard.ZstdCompressor(level=3)
    for f in range(0, docs, 1000):
        lines = "".join(json.dumps({"id": f"d{seed}-{i}", "text": t}, ensure_ascii=False) + "\n"
                        for i, t in enumerate(made[f:f + 1000], start=f))
        (directory / f"part-{f // 1000:05d}.jsonl.zst").write_bytes(cctx.compress(lines.encode()))
    planted["bytes"] = sum(p.stat().st_size for p in directory.iterdir())
    return planted


_RUN = """
import json, sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from components.contract.runner import run_pipeline
t0 = time.time()
s = run_pipeline({config!r}, Path({workdir!r}), {overrides!r}, until={until!r}, log=lambda m: None)
wall = time.time() - t0
from components.contract.execution import peak_rss_mb
from components.contract.manifest import read_manifest
from components.contract.storage import Storage
stages = {{n: read_manifest(Storage(), s["stages"][n]["uri"]).stats for n in ("collect", "curate")}}
print("RESULT " + json.dumps({{"wall": wall,
    "driver_rss_mb": peak_rss_mb(),
    "stages": {{n: {{"seconds": st["seconds"], "steps": st.get("steps", {{}}), "records_in": st["records_in"],
                   "records_out": st["records_out"], "dropped": st["dropped"]}} for n, st in stages.items()}},
    "tokenization": {{n: {{k: v for k, v in read_manifest(Storage(), s["stages"][n]["uri"]).stats.items()
                          if k in ("seconds", "sample_chars", "sample_documents", "tokens", "tokens_per_char",
                                   "documents", "vocab_size", "steps", "segments")}}
                     for n in ("train-tokenizer", "tokenize") if n in s["stages"]}},
    "uris": {{n: st["uri"] for n, st in s["stages"].items()}}}}))
"""


def run_ours(corpus: Path, work: Path, shards: int, buckets: int, workers: int, until: str = "curate",
             task_processes: bool = False, extra: tuple[str, ...] = ()) -> dict:
    overrides = [f"collect.sources=[{{name: web, uri: '{corpus}/*.jsonl.zst'}}]", f"collect.world_size={shards}",
                 f"curate.world_size={shards}", f"curate.dedup_buckets={buckets}", *extra]
    code = _RUN.format(root=str(ROOT), config=str(ROOT / "configs" / "demo.yaml"), workdir=str(work),
                       overrides=overrides, until=until)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "POLYGLOT_KO_MAX_WORKERS": str(workers),
           "POLYGLOT_KO_TASK_PROCESSES": "1" if task_processes else "0",
           "MLFLOW_TRACKING_URI": f"sqlite:///{work}/mlflow.db"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    if proc.returncode:
        sys.exit(proc.stderr[-3000:])
    return json.loads(next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))[7:])


_CLUSTER = """
import json, sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from components.contract.artifact import Output, Part, Shard
from components.contract.config import CurateConfig
from components.contract.execution import peak_rss_mb
from components.contract.storage import Storage
from components.stages import curate
t0 = time.time()
out = Output(dir=Path({out!r}), key="probe", uri={out!r}, storage=Storage(), stage_root={out!r},
             artifact_root={out!r}, workdir=Path({out!r}))
stats = curate.cluster(CurateConfig(world_size={world}), raw=None, shard=Shard(0, 1), out=out,
                       steps={{"bucket": [Part(0, {part!r}, Storage(), Path({out!r}))]}})
print("RESULT " + json.dumps({{"seconds": time.time() - t0, "peak_rss_mb": peak_rss_mb(), "stats": stats}}))
"""


def cluster_probe(work: Path, duplicates: int, pairs_per_duplicate: float, world: int = 512) -> dict:
    """The one global step alone, over `duplicates` duplicate documents spread over `world` shards: half exact
    copies, half near duplicates in clusters of three, the near-duplicate edges repeated (a pair sharing several
    bands comes from several buckets) so the step reads `pairs_per_duplicate` pairs per duplicate, as measured."""
    import numpy as np

    from components.corpus.dedup import PAIR, node_ids

    rng = np.random.default_rng(duplicates)
    per_shard = max(4, 4 * duplicates // world)
    nodes = np.unique(node_ids(rng.integers(0, world, 4 * duplicates), rng.integers(0, per_shard, 4 * duplicates)))
    nodes = rng.permutation(nodes)
    exact, near = duplicates // 2, duplicates - duplicates // 2
    copies = np.empty(exact, dtype=PAIR)
    copies["a"], copies["b"] = nodes[:exact], nodes[exact:2 * exact]
    first, second, third = (nodes[2 * exact + i::3][:near // 2] for i in range(3))
    edges = np.empty(2 * len(first), dtype=PAIR)
    edges["a"] = np.concatenate([first, first])
    edges["b"] = np.concatenate([second, third])
    lo = np.minimum(edges["a"], edges["b"])
    edges["b"], edges["a"] = np.maximum(edges["a"], edges["b"]), lo
    edges = np.unique(edges)
    repeat = max(1, round((pairs_per_duplicate * duplicates - exact) / max(1, len(edges))))
    part = work / "bucket-part"
    part.mkdir(parents=True, exist_ok=True)
    np.save(part / "exact.npy", copies)
    np.save(part / "edges.npy", np.tile(edges, repeat))
    code = _CLUSTER.format(root=str(ROOT), out=str(work / "out"), world=world, part=str(part))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        sys.exit(proc.stderr[-3000:])
    r = json.loads(next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))[7:])
    return {"duplicates": duplicates, "edges": int(len(edges)), "pairs": int(exact + repeat * len(edges)),
            "seconds": r["seconds"],
            "peak_rss_mb": r["peak_rss_mb"], "removed": r["stats"]["removed"]}


def largest_process(r: dict) -> float:
    """The driver's peak or the largest task's (each task's part records its process's peak)."""
    tasks = [st.get("peak_rss_mb_max", 0) for stage in r["stages"].values() for st in stage["steps"].values()]
    return max([r["driver_rss_mb"], *tasks])


def run_datatrove(corpus: Path, work: Path) -> float:
    """datatrove's nearest pipeline on one core: seconds."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (MinhashConfig, MinhashDedupBuckets, MinhashDedupCluster,
                                                  MinhashDedupFilter, MinhashDedupSignature)
    from datatrove.pipeline.filters import GopherQualityFilter, GopherRepetitionFilter
    from datatrove.pipeline.formatters import PIIFormatter
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter
    from datatrove.utils.hashing import HashConfig
    from datatrove.utils.word_tokenizers import KiwiTokenizer

    ko = KiwiTokenizer(model_type="cong")      # the model kiwipiepy_model ships
    # the same LSH shape as ours (9 bands x 13 rows, 5-grams); its xxhash path refuses str, sha1 is its other
    cfg = MinhashConfig(num_buckets=9, hashes_per_bucket=13, n_grams=5, hash_config=HashConfig(hash_fc="sha1"))
    kw = dict(tasks=1, workers=1)
    t0 = time.time()
    LocalPipelineExecutor(pipeline=[
        JsonlReader(str(corpus), glob_pattern="*.jsonl.zst", compression="zstd", text_key="text", id_key="id"),
        PIIFormatter(), GopherRepetitionFilter(language=ko),
        GopherQualityFilter(language=ko, min_stop_words=None, min_avg_word_length=1, max_avg_word_length=15),
        JsonlWriter(str(work / "filtered"), compression=None),
        MinhashDedupSignature(output_folder=str(work / "sigs"), config=cfg, language=ko),
    ], logging_dir=str(work / "logs1"), **kw).run()
    LocalPipelineExecutor(pipeline=[MinhashDedupBuckets(str(work / "sigs"), str(work / "buckets"), config=cfg)],
                          logging_dir=str(work / "logs2"), tasks=cfg.num_buckets, workers=1).run()
    LocalPipelineExecutor(pipeline=[MinhashDedupCluster(str(work / "buckets"), str(work / "remove"), config=cfg)],
                          logging_dir=str(work / "logs3"), **kw).run()
    LocalPipelineExecutor(pipeline=[
        JsonlReader(str(work / "filtered"), text_key="text", id_key="id"),
        MinhashDedupFilter(str(work / "remove")), JsonlWriter(str(work / "out")),
    ], logging_dir=str(work / "logs4"), **kw).run()
    return time.time() - t0


def probe_cluster(d: Path, run: dict) -> list[dict]:
    """The cluster step's time and memory at 1 M and 4 M duplicates (a 1.2 TB crawl has tens of millions), fed
    as many pairs per duplicate as the largest scaling run's cluster step read."""
    cur = run["stages"]["curate"]
    removed = sum(cur["dropped"].get(k, 0) for k in ("duplicate", "near_duplicate"))
    ratio = cur["steps"]["cluster"]["work"] / max(1, removed)
    out = []
    for n in (1_000_000, 4_000_000):
        r = cluster_probe(d / f"cluster-{n}", n, ratio)
        out.append(r)
        print(f"cluster step alone, {n:,} duplicates ({r['pairs']:,} pairs, {ratio:.2f} per duplicate as measured) "
              f"over 512 shards | {r['seconds']:.1f}s | peak {r['peak_rss_mb']:.0f} MB", flush=True)
    return out


def large_task(d: Path, docs: int, seed: int) -> dict:
    """One task per step over the largest corpus: with the 4x one, two shares past every fixed-size buffer (a
    Parquet row group is 16 M characters, ~17,000 of these documents), so the line through them is the growth."""
    corpus = d / f"corpus-{seed}x"
    planted = make_corpus(corpus, docs, seed=seed) if not corpus.exists() else None
    r = run_ours(corpus, d / "one-task-large", shards=1, buckets=1, workers=1, task_processes=True)
    r["planted"] = planted or json.loads((corpus.parent / f"planted-{seed}.json").read_text())
    print(f"one task per step over {docs:,} docs | curate shard peak "
          f"{r['stages']['curate']['steps']['shard']['peak_rss_mb_max']:.0f} MB", flush=True)
    return r


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=12000, help="documents at 1x")
    ap.add_argument("--scales", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--skip-datatrove", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "curation_scale.json"))
    ap.add_argument("--only", choices=["cluster", "large-task"], help="rerun that part alone into --out")
    a = ap.parse_args()
    if a.only:
        results = json.loads(Path(a.out).read_text())
        with tempfile.TemporaryDirectory() as d:
            if a.only == "cluster":
                results["cluster"] = probe_cluster(Path(d), results["scales"][max(results["scales"], key=int)])
            else:
                results["one_task_large"] = large_task(Path(d), a.docs * a.scales[-1], a.scales[-1])
        Path(a.out).write_text(json.dumps(results, indent=1))
        return
    results = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": sys.version.split()[0],
                           "date": time.strftime("%Y-%m-%d")}, "docs_1x": a.docs, "scales": {}}
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        for x in a.scales:
            corpus = d / f"corpus-{x}x"
            planted = make_corpus(corpus, a.docs * x, seed=x)
            (d / f"planted-{x}.json").write_text(json.dumps(planted))
            r = run_ours(corpus, d / f"work-{x}x", shards=2 * x, buckets=2 * x, workers=2, task_processes=True)
            r["planted"] = planted
            results["scales"][str(x)] = r
            cur = r["stages"]["curate"]
            steps = ", ".join(f"{k} {v['seconds']:.1f}s" for k, v in cur["steps"].items())
            print(f"{x:>3}x {a.docs * x:>8,} docs {planted['bytes'] / 1e6:7.1f} MB zstd | wall {r['wall']:7.1f}s | "
                  f"collect {r['stages']['collect']['seconds']:6.1f}s curate {cur['seconds']:6.1f}s "
                  f"({steps}) | largest process "
                  f"{largest_process(r):.0f} MB | dropped {cur['dropped']}", flush=True)
        lo, hi = results["scales"][str(a.scales[0])], results["scales"][str(a.scales[-1])]
        k = a.scales[-1] / a.scales[0]
        t_ratio = (hi["stages"]["collect"]["seconds"] + hi["stages"]["curate"]["seconds"]) / \
            (lo["stages"]["collect"]["seconds"] + lo["stages"]["curate"]["seconds"])
        m_ratio = largest_process(hi) / largest_process(lo)
        results["time_ratio"], results["memory_ratio"] = t_ratio, m_ratio
        print(f"{k:.0f}x the data: {t_ratio:.2f}x the time (goal <= {1.1 * k:.1f}x), largest process {m_ratio:.2f}x "
              f"(goal <= 1.3x)")
        # one task per step over the middle scale's corpus (at 4x: 8 times a scaling run's share per task): how
        # each step's memory and disk grow with its share, which `polyglot-ko plan` extrapolates from
        x = a.scales[len(a.scales) // 2]
        # (and through train-tokenizer and tokenize, one task each: their seconds per character)
        big = run_ours(d / f"corpus-{x}x", d / "one-task", shards=1, buckets=1, workers=1, until="tokenize",
                       task_processes=True)
        big["planted"] = results["scales"][str(x)]["planted"]
        results["one_task"] = big
        print(f"one task per step over {big['planted']['docs']:,} docs | curate shard peak "
              f"{big['stages']['curate']['steps']['shard']['peak_rss_mb_max']:.0f} MB (scaling runs: "
              f"{hi['stages']['curate']['steps']['shard']['peak_rss_mb_max']:.0f} MB)", flush=True)
        results["one_task_large"] = large_task(d, a.docs * a.scales[-1], a.scales[-1])
        if not a.skip_datatrove:
            corpus = d / "corpus-1x"
            ours = run_ours(corpus, d / "ours-1core", shards=1, buckets=1, workers=1)
            t_ours = ours["stages"]["collect"]["seconds"] + ours["stages"]["curate"]["seconds"]
            t_dt = run_datatrove(corpus, d / "datatrove")
            n = a.docs
            results["vs_datatrove"] = {"docs": n, "ours_s": t_ours, "datatrove_s": t_dt, "ratio": t_dt / t_ours,
                                       "ours_docs_per_core_s": n / t_ours, "datatrove_docs_per_core_s": n / t_dt}
            print(f"one core, {n:,} docs, cleaning + MinHash dedup | ours {n / t_ours:,.0f} docs/s | datatrove "
                  f"{n / t_dt:,.0f} docs/s | ours/datatrove throughput {t_dt / t_ours:.2f}x (goal >= 3x)")
        results["cluster"] = probe_cluster(d, hi)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(results, indent=1))
    print(f"figures: {a.out}")


if __name__ == "__main__":
    main()
