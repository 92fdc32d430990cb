"""The lineage as a picture: a pipeline run's stage graph, each stage's artifact (kind, digest) and whether this
run made it, reused it or took it, drawn with matplotlib into the PNG logged on the parent run."""
from __future__ import annotations

from pathlib import Path

from . import graph

# how this run got each stage's artifact -> box colour
COLOURS = {"ran": "#d8f0d8", "cache hit": "#dbe8fb", "taken": "#eadcf7", "earlier run": "#eeeeee"}


def _depths() -> dict[str, int]:
    """Each stage's column: one more than its deepest input (the graph is listed in dependency order)."""
    depth: dict[str, int] = {}
    for node in graph.STAGES:
        depth[node.name] = 1 + max((depth[s] for s in node.inputs.values()), default=-1)
    return depth


def draw(path: Path, stages: dict[str, dict], title: str) -> Path:
    """stages: name -> {"kind", "digest", "status"} for the stages the run has (graph order)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    depth = _depths()
    shown = [n for n in graph.STAGES if n.name in stages]
    columns = sorted({depth[n.name] for n in shown})
    col = {d: i for i, d in enumerate(columns)}
    rows: dict[int, int] = {}
    pos = {}
    for n in shown:                      # stages of one column stack downwards
        c = col[depth[n.name]]
        pos[n.name] = (c * 2.2, -rows.get(c, 0) * 1.6)
        rows[c] = rows.get(c, 0) + 1
    w, h = 1.8, 1.0
    fig, ax = plt.subplots(figsize=(2.2 * len(columns) + 0.6, 1.6 * max(rows.values()) + 1.9), dpi=110)
    for name, (x, y) in pos.items():
        s = stages[name]
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.04",
                                    fc=COLOURS.get(s["status"], "#ffffff"), ec="#444444", lw=1.0))
        ax.text(x, y + 0.28, name, ha="center", va="center", fontsize=10, fontweight="bold")
        ax.text(x, y + 0.04, s["kind"], ha="center", va="center", fontsize=8)
        ax.text(x, y - 0.17, s["digest"][:12], ha="center", va="center", fontsize=8, family="monospace")
        ax.text(x, y - 0.37, s["status"], ha="center", va="center", fontsize=8, style="italic")
    for n in shown:
        for src in n.inputs.values():
            if src not in pos:
                continue
            (x0, y0), (x1, y1) = pos[src], pos[n.name]
            if col[depth[n.name]] - col[depth[src]] > 1:     # skips a column: from top to top, over the boxes
                ends, bend = ((x0 + 0.3, y0 + h / 2), (x1 - 0.3, y1 + h / 2)), "arc3,rad=-0.3"
            else:
                ends, bend = ((x0 + w / 2, y0), (x1 - w / 2, y1)), "arc3,rad=0"
            ax.add_patch(FancyArrowPatch(*ends, arrowstyle="-|>", mutation_scale=12, lw=1.0, color="#555555",
                                         connectionstyle=bend))
    handles = [plt.Rectangle((0, 0), 1, 1, fc=c, ec="#444444") for c in COLOURS.values()]
    ax.legend(handles, list(COLOURS), loc="lower center", ncol=len(COLOURS), fontsize=8, frameon=False,
              bbox_to_anchor=(0.5, -0.02))
    xs = [x for x, _ in pos.values()]
    ys = [y for _, y in pos.values()]
    ax.set_xlim(min(xs) - 1.1, max(xs) + 1.1)
    ax.set_ylim(min(ys) - 1.0, max(ys) + 1.9)
    ax.set_title(title, fontsize=10)
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
