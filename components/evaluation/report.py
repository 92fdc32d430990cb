"""The evaluation report: report.md (tables in POLYGLOT-KO.md's layout, the published rows beside the new model,
one per shot count), a bar chart of per-task macro-F1 against the published models per shot count, and the
training loss curve."""
from __future__ import annotations

import json
from pathlib import Path

from .published import KOBEST_F1, SHOTS, TABLE_ORDER, TITLES, markdown_table


def nearest_published(shots: int) -> int:
    return SHOTS.index(min(SHOTS, key=lambda s: abs(s - shots)))


def f1_chart(path: Path, model_name: str, f1: dict[str, float], shots: int) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    col = nearest_published(shots)
    series = [(name, [tasks[t][col] for t in TABLE_ORDER]) for name, tasks in KOBEST_F1.items()]
    series.append((model_name, [f1.get(t, 0.0) for t in TABLE_ORDER]))
    fig, ax = plt.subplots(figsize=(12, 4.5), dpi=110)
    width = 0.8 / len(series)
    for i, (name, values) in enumerate(series):
        xs = [j + (i - len(series) / 2 + 0.5) * width for j in range(len(TABLE_ORDER))]
        ours = i == len(series) - 1
        ax.bar(xs, values, width, label=name, color="black" if ours else None, alpha=1.0 if ours else 0.75)
    ax.set_xticks(range(len(TABLE_ORDER)), [TITLES[t] for t in TABLE_ORDER])
    ax.set_ylabel("macro-F1")
    ax.set_ylim(0, 1)
    ax.set_title(f"KoBEST macro-F1, {shots}-shot (published rows at {SHOTS[col]}-shot)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def loss_chart(path: Path, metrics_jsonl: Path) -> bool:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(x) for x in metrics_jsonl.read_text().splitlines() if x.strip()]
    rows = [r for r in rows if "loss" in r]
    if not rows:
        return False
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    ax.plot([r["step"] for r in rows], [r["loss"] for r in rows], lw=1.2)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_title("Training loss")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def write_report(out_dir: Path, metrics: dict, generations: list[dict], training_metrics: Path | None) -> None:
    name = metrics["model"]
    parts = [f"# Evaluation of {name}", ""]
    scope = f"first {metrics['limit']} test examples per task" if metrics.get("limit") else "all test examples"
    parts.append(f"KoBEST ({metrics['source']} data, {scope}; few-shot examples from train, seed "
                 f"{metrics['fewshot_seed']}; log-likelihood scoring; macro-F1 as sklearn computes it).")
    parts.append("")
    for shots, tasks in metrics["kobest"].items():
        f1 = {t: r["f1"] for t, r in tasks.items()}
        parts.append(markdown_table(name, f1, int(shots)))
        s = metrics["scores"][shots]
        extra = ", ".join(f"{t} acc_norm {r['acc_norm']:.4f}" for t, r in tasks.items() if "acc_norm" in r)
        parts.append(f"Mean macro-F1 {s['kobest_macro_f1_mean']:.4f}, mean accuracy {s['kobest_acc_mean']:.4f}"
                     + (f"; {extra}" if extra else "") + ".")
        chart = out_dir / f"kobest_f1_{shots}shot.png"
        f1_chart(chart, name, f1, int(shots))
        parts += ["", f"![KoBEST macro-F1, {shots}-shot]({chart.name})", ""]
    if metrics.get("validation_perplexity") is not None:
        parts.append(f"Validation perplexity: {metrics['validation_perplexity']:.2f}.")
        parts.append("")
    if training_metrics is not None and training_metrics.is_file() and \
            loss_chart(out_dir / "loss_curve.png", training_metrics):
        parts += ["![Training loss](loss_curve.png)", ""]
    parts += ["## Generations (greedy, repetition penalty 1.3)", "", "| prompt | continuation |", "|---|---|"]
    parts += [f"| {g['prompt']} | {_cell(g['text'])} |" for g in generations]
    (out_dir / "report.md").write_text("\n".join(parts) + "\n", encoding="utf-8")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ⏎ ").strip()
