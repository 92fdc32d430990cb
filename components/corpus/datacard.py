"""The curated corpus's data card: markdown tables plus PNG plots (lengths, drops), logged with the curate run."""
from __future__ import annotations

from pathlib import Path


def write_data_card(out: Path, cfg, stats: dict, lengths: dict, bins) -> list[Path]:
    """`lengths`: per source, counts of kept documents over the length `bins` (log-spaced edges)."""
    files = [out / "data_card.md"]
    files[0].write_text(_markdown(cfg, stats), encoding="utf-8")
    try:
        files += _plots(out, stats, lengths, bins)
    except ImportError:   # plots are a convenience; the tables carry the numbers
        pass
    return files


def _markdown(cfg, s: dict) -> str:
    lines = ["# Curated corpus: data card", "",
             f"Cleaning chain: {' -> '.join(cfg.steps)}; exact dedup: {cfg.dedup}; near dedup: {cfg.near_dedup} "
             f"(MinHash {cfg.minhash_perm} permutations, {cfg.minhash_shingle}-character shingles, "
             f"threshold {cfg.minhash_threshold}).", "",
             f"**Total**: {s['records_in']:,} records in, {s['records_out']:,} kept; "
             f"{s.get('chars_in', 0):,} characters in, {s.get('chars_out', 0):,} kept.", "",
             "| source | records in | records out | characters in | characters out | dropped |", "|---|---|---|---|---|---|"]
    for name, p in sorted(s.get("per_source", {}).items()):
        drops = ", ".join(f"{k} {v:,}" for k, v in sorted(p["dropped"].items())) or "-"
        lines.append(f"| {name} | {p['records_in']:,} | {p['records_out']:,} | {p['chars_in']:,} | "
                     f"{p['chars_out']:,} | {drops} |")
    lines += ["", "| dropped because | records |", "|---|---|"]
    lines += [f"| {k} | {v:,} |" for k, v in sorted(s.get("dropped", {}).items())]
    lines += ["", "| PII masked | count |", "|---|---|"]
    lines += [f"| {k} | {v:,} |" for k, v in sorted(s.get("pii", {}).items())] or ["| - | 0 |"]
    lines += _decontamination(s.get("decontamination"))
    lines += ["", "| edits (documents changed by the step) | count |", "|---|---|"]
    lines += [f"| {k} | {v:,} |" for k, v in sorted(s.get("edits", {}).items())]
    d = s.get("dedup", {})
    lines += ["", f"Near-duplicate clusters: {d.get('clusters', 0):,} (largest {d.get('largest', 1)}, "
              f"{d.get('documents_in_clusters', 0):,} documents in clusters).", "",
              "Kept document length (characters), by source:", "",
              "| source | " + " | ".join(f"<{b:,}" for b in s["length_bins"][1:-1]) + " | more |",
              "|---" * (len(s["length_bins"])) + "|"]
    for name, hist in sorted(s.get("length_histogram", {}).items()):
        lines.append(f"| {name} | " + " | ".join(f"{c:,}" for c in hist) + " |")
    lines += ["", "![lengths](length_hist.png) ![drops](drops.png)"]
    return "\n".join(lines) + "\n"


def _decontamination(d: dict | None) -> list[str]:
    if not d or not d["tasks"]:
        return ["", "Decontamination: off (the promotion gate will not compare a model trained on this corpus)."]
    lines = ["", f"Decontaminated against KoBEST {', '.join(d['tasks'])} ({', '.join(d['splits'])} split; items "
                 f"digest {d['items_digest']}): documents holding an item were dropped as `contaminated`.", "",
             "| task | items indexed | of which weak (count three to a document) | too short to match | items found "
             "| documents dropped |", "|---|---|---|---|---|---|"]
    for t in d["tasks"]:
        lines.append(f"| {t} | {d['items'].get(t, 0):,} | {d['weak'].get(t, 0):,} | {d['unmatchable'].get(t, 0):,} | "
                     f"{d['items_found'].get(t, 0):,} | {d['documents'].get(t, 0):,} |")
    if d["per_source"]:
        lines += ["", "| source | " + " | ".join(d["tasks"]) + " |", "|---" * (len(d["tasks"]) + 1) + "|"]
        for src, counts in sorted(d["per_source"].items()):
            lines.append(f"| {src} | " + " | ".join(f"{counts.get(t, 0):,}" for t in d["tasks"]) + " |")
    return lines


def _plots(out: Path, s: dict, lengths: dict, bins) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, counts in sorted(lengths.items()):
        ax.stairs(counts, np.maximum(bins, 1), label=f"{name} ({int(counts.sum()):,})")
    ax.set_xscale("log")
    ax.set_yscale("log")   # sources differ in size by orders of magnitude
    ax.set_xlabel("characters per kept document")
    ax.set_ylabel("documents")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "length_hist.png", dpi=100)
    plt.close(fig)

    drops = sorted(s.get("dropped", {}).items(), key=lambda kv: -kv[1])
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.barh([k for k, _ in drops][::-1], [v for _, v in drops][::-1])
    ax.set_xlabel("records dropped")
    fig.tight_layout()
    fig.savefig(out / "drops.png", dpi=100)
    plt.close(fig)
    return [out / "length_hist.png", out / "drops.png"]
