"""What each curation preset keeps and drops on the demo corpus (configs/demo.yaml's sources): the README's table.

    python benchmarks/curation_presets.py [--config configs/demo.yaml]

Collect runs once; curate runs once per preset (`polyglot-ko` defaults, `fineweb2-kor`) with the config's other
curate settings, in a temporary workdir. Prints a markdown table per source and the drop reasons.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PRESETS = ("polyglot-ko", "fineweb2-kor")


def run(config: str, workdir: Path) -> dict:
    import yaml

    from components.contract import graph
    from components.contract.config import config_from_dict
    from components.contract.execution import StageRun
    from components.contract.runner import make_context

    data = yaml.safe_load(Path(config).read_text(encoding="utf-8"))
    out = {}
    raw = None
    for preset in PRESETS:
        curate = {**data.get("curate", {}), "preset": preset}
        if preset != "polyglot-ko":      # the demo's Gopher relaxations are for our Gopher rules only
            curate = {k: v for k, v in curate.items() if not k.startswith(("max_dup_", "max_top_"))}
        ctx = make_context(config_from_dict({**data, "curate": curate}), workdir, None)
        if raw is None:
            raw, _ = StageRun(graph.stage("collect"), ctx, {}).execute()
        t = time.perf_counter()
        cur, _ = StageRun(graph.stage("curate"), ctx, {"raw": raw.uri}).execute()
        out[preset] = {**cur.stats, "seconds": time.perf_counter() - t}
    return out


def table(results: dict) -> str:
    sources = sorted({s for r in results.values() for s in r["per_source"]})
    head = "| source | records in | " + " | ".join(f"kept: {p}" for p in results) + " |"
    lines = [head, "|---" * (2 + len(results)) + "|"]
    first = next(iter(results.values()))
    for s in sources:
        cells = [f"{r['per_source'][s]['records_out']:,} ({r['per_source'][s]['records_out'] / max(1, r['per_source'][s]['records_in']):.0%})"
                 for r in results.values()]
        lines.append(f"| {s} | {first['per_source'][s]['records_in']:,} | " + " | ".join(cells) + " |")
    cells = [f"**{r['records_out']:,}** ({r['chars_out'] / max(1, r['chars_in']):.0%} of characters)"
             for r in results.values()]
    lines.append(f"| all | {first['records_in']:,} | " + " | ".join(cells) + " |")
    reasons = sorted({k for r in results.values() for k in r["dropped"]},
                     key=lambda k: -max(r["dropped"].get(k, 0) for r in results.values()))
    lines += ["", "| dropped because | " + " | ".join(results) + " |", "|---" * (1 + len(results)) + "|"]
    for k in reasons:
        lines.append(f"| {k} | " + " | ".join(f"{r['dropped'].get(k, 0):,}" for r in results.values()) + " |")
    lines += ["", "curate time (2 shards on 2 cores): " + ", ".join(
        f"{p} {r['seconds']:.0f} s" for p, r in results.items())]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default=str(ROOT / "configs" / "demo.yaml"))
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        print(table(run(a.config, Path(d))))


if __name__ == "__main__":
    main()
