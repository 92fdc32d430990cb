"""Benchmarks, side by side with the peer a user would otherwise use, measured in the same run.

`make bench` runs: the tokenize stage (below), curation and MinHash against datatrove and peak memory
(benchmarks/curation.py), collect + curate at 1x/4x/16x and against datatrove with MinHash dedup on both sides
(benchmarks/curation_scale.py, whose figures `polyglot-ko plan` reads), the PII masking report (benchmarks/pii_report.py), and training step time against a
bare DeepSpeed loop (benchmarks/training.py; `--gpu` there for the 1.3B MFU benchmark on a CUDA machine, and
benchmarks/gpu_check.sh for every GPU figure at once), and what evaluation during training and a resume on another
world size cost (benchmarks/training_faults.py).

tokenize: our `tokenize` stage (streaming Parquet -> batch encode -> Megatron .bin/.idx, manifest, checksums)
against the plain script a user would write: read every text, `Tokenizer.encode_batch` once, write one array.
The ratio tells what the stage's streaming and bookkeeping cost on top of the tokenizer itself.
"""
from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def bench_tokenize(workdir: Path) -> None:
    import numpy as np
    from tokenizers import Tokenizer

    from components.contract import graph
    from components.contract.config import load_config
    from components.corpus.records import read_records
    from components.contract.runner import make_context
    from components.contract.execution import StageRun

    # one tokenize task, so both sides use the same threads (the encoder's, over every core)
    cfg = load_config(ROOT / "configs" / "demo.yaml", ["train_tokenizer.morphemes=none", "tokenize.world_size=1"])
    ctx = make_context(cfg, workdir, None)
    raw, _ = StageRun(graph.stage("collect"), ctx, {}).execute()
    cur, _ = StageRun(graph.stage("curate"), ctx, {"raw": raw.uri}).execute()
    tok, _ = StageRun(graph.stage("train-tokenizer"), ctx, {"corpus": cur.uri}).execute()
    inputs = {"corpus": cur.uri, "tokenizer": tok.uri}

    def ours():
        ctx.force = True
        # its segments too: they are reused across artifacts, and this measures making them
        shutil.rmtree(Path(ctx.artifact_root) / "tokenize", ignore_errors=True)
        StageRun(graph.stage("tokenize"), ctx, inputs).execute()

    tk = Tokenizer.from_file(str(Path(tok.uri) / "tokenizer.json"))
    files = sorted(Path(cur.uri).glob("data/*.parquet"))

    def peer():
        texts = [r["text"] for r in read_records(files, columns=["text"])]
        ids = [e.ids + [2] for e in tk.encode_batch(texts, add_special_tokens=False)]
        np.concatenate([np.asarray(i, np.uint16) for i in ids]).tofile(workdir / "peer.bin")

    chars = cur.stats["chars_out"]
    t_ours, t_peer = _best(ours), _best(peer)
    print(f"tokenize  {chars / 1e6:.2f} M chars | ours {t_ours:.2f}s ({chars / t_ours / 1e6:.2f} M chars/s) | "
          f"plain encode_batch {t_peer:.2f}s | ours at {t_peer / t_ours:.2f} of the raw speed")

    # (b) what the morpheme-aware recipe costs: MBBPE (kiwi segmentation + BPE) against plain byte-level BPE
    from components.tokenizer.mbbpe import segment_morphemes, train_bpe

    texts = [r["text"] for r in read_records(files, columns=["text"])]
    t_plain = _best(lambda: train_bpe(iter(texts), 30000, 2), repeat=1)
    t_mbbpe = _best(lambda: train_bpe(segment_morphemes(texts), 30000, 2), repeat=1)
    print(f"tokenizer training on {chars / 1e6:.2f} M chars | plain byte-level BPE {t_plain:.1f}s | MBBPE "
          f"(kiwi morphemes + BPE) {t_mbbpe:.1f}s | recipe costs {t_mbbpe / t_plain:.1f}x")


if __name__ == "__main__":
    import argparse
    import subprocess

    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=["tokenize", "curation", "scale", "pii", "training"])
    only = ap.parse_args().only
    if only in (None, "tokenize"):
        with tempfile.TemporaryDirectory() as d:
            bench_tokenize(Path(d))
    if only in (None, "curation"):
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "curation.py"), "--mb", "100"], check=True)
    if only in (None, "scale"):
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "curation_scale.py")], check=True)
    if only in (None, "pii"):
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "pii_report.py")], check=True)
    if only in (None, "training"):
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "training.py")], check=True)
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "training_faults.py")], check=True)
