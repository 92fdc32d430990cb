"""What the MLflow UI shows for a pipeline: the experiment's kind and description, each stage run's description,
and the parent run's description (the run summary in markdown).

MLflow renders a run's, an experiment's and a model's description as markdown; links inside it are the UI's own
routes (`#/experiments/ID/runs/RUN`), so they work on whichever server shows the store.
"""
from __future__ import annotations

NOTE = "mlflow.note.content"                 # the description MLflow shows for a run or an experiment
KIND = "mlflow.experimentKind"               # MLflow 3: a training project, not a GenAI app
TRAINING = "custom_model_development"
# The query that opens MLflow 3.17's UI on its model-training view (the UI keeps a GenAI/training switch of its
# own per browser, whatever the experiment's kind): on every link this project prints.
TRAINING_VIEW = "workflowType=machine_learning"

EXPERIMENT_NOTE = """\
**{name}**: runs of the Polyglot-Ko training pipeline, one configuration.

The stages: collect → curate → train-tokenizer → tokenize → pretrain → evaluate → register.

How to read it:
- Each pipeline run is a parent run named `pipeline-<date>-<time>`; expand it to see one child run per stage. The
  parent's description is the run's summary (stages, cache hits, digests, records, tokens, KoBEST) and its
  `lineage.png` artifact draws the stage graph.
- A stage run's tags lead to its artifact (`artifact.uri`, `artifact.digest`), `cache_hit` says whether it was
  made or reused, `stats.*` tags hold its key figures, `stats.json` every figure, `manifest.json` the manifest.
- Metrics are time series only: the **pretrain** run's `train/*` (loss, learning rate, gradient norm, tokens/s,
  MFU), `eval/*` (validation loss and KoBEST during training), `system/*` and `forward_time/*` charts. The
  **Models** tab lists the checkpoints evaluated during training and the registered model.
- The model registry entry says how promotion works; each version's page summarises that model against the
  champion.
"""


def experiment_tags(name: str) -> dict[str, str]:
    return {KIND: TRAINING, NOTE: EXPERIMENT_NOTE.format(name=name)}


def run_link(experiment_id: str, run_id: str, text: str | None = None) -> str:
    return f"[{text or run_id[:12]}](#/experiments/{experiment_id}/runs/{run_id}?{TRAINING_VIEW})"


def ui_url(tracking_uri: str, experiment_id: str, run_id: str | None = None) -> str:
    """The UI page of an experiment (or one of its runs): on the tracking server, or for a local store where
    `make mlflow-ui` serves it."""
    base = tracking_uri.rstrip("/") if tracking_uri.startswith("http") else "http://127.0.0.1:5000"
    path = f"#/experiments/{experiment_id}" + (f"/runs/{run_id}" if run_id else "")
    return f"{base}/{path}?{TRAINING_VIEW}"


def _figure(v) -> str:
    return f"{v:,.4g}" if isinstance(v, float) else f"{v:,}"


def stage_note(manifest, cache_hit: bool, key_figures: dict, seconds: float, experiment_id: str) -> str:
    how = "reused (cache hit)" if cache_hit else f"made in {seconds:,.1f} s"
    lines = [f"**{manifest.stage}**: {manifest.kind} `{manifest.digest[:12]}`, {how}.", "",
             f"Artifact: `{manifest.uri}`"]
    if cache_hit and manifest.mlflow_run_id:
        lines.append(f"Made by run {run_link(experiment_id, manifest.mlflow_run_id)}.")
    for ref in manifest.inputs:
        made_by = f" (run {run_link(experiment_id, ref.mlflow_run_id)})" if ref.mlflow_run_id else ""
        lines.append(f"- input {ref.role}: {ref.kind} `{ref.digest[:12]}`{made_by}")
    if key_figures:
        lines += ["", "| figure | value |", "|---|---|"]
        lines += [f"| {k} | {_figure(v)} |" for k, v in key_figures.items()]
    return "\n".join(lines)


def run_note(summary: dict, status: dict[str, str], stage_runs: dict[str, str], experiment_id: str) -> str:
    """The parent run's description. `status`: stage -> ran | cache hit | taken | earlier run; `stage_runs`:
    stage -> its child run in this pipeline run."""
    from .summary import kobest_table

    out = ["**Pipeline run summary**", "", "| stage | this run | artifact digest | stage run |", "|---|---|---|---|"]
    for name, info in summary.get("stages", {}).items():
        link = run_link(experiment_id, stage_runs[name], name) if name in stage_runs else "-"
        out.append(f"| {name} | {status.get(name, '-')} | `{info['digest']}` | {link} |")
    reuse = summary.get("reuse", {})
    if reuse:
        from .summary import reuse_lines
        out += ["", "**Reuse**", ""] + ["- " + line.removeprefix("reuse: ") for line in reuse_lines(reuse)]
    if "records" in summary:
        r = summary["records"]
        drops = ", ".join(f"{k} {v:,}" for k, v in sorted(r["dropped"].items(), key=lambda kv: -kv[1])) or "none"
        out += ["", f"**Records**: {r['in']:,} in, {r['kept']:,} kept; dropped: {drops}; quarantined: "
                    f"{sum(r['quarantined'].values()):,}."]
    if "tokens" in summary:
        t = summary["tokens"]
        out += ["", f"**Tokens**: train {t['train']:,}, validation {t['validation']:,}."]
    if summary.get("final_loss") is not None:
        out += ["", f"**Final training loss**: {summary['final_loss']:.4f}."]
    if summary.get("perplexity") is not None:
        out += ["", f"**Validation perplexity**: {summary['perplexity']:.2f}."]
    if summary.get("kobest"):
        out += ["", f"**KoBEST** ({summary.get('kobest_shots', 0)}-shot; every shot count in the evaluate run's "
                    "report.md):", ""] + kobest_table(summary["kobest"])
    if summary.get("model_uri"):
        aliases = ", ".join(summary.get("aliases") or []) or "none"
        out += ["", f"**Registered**: `{summary['model_uri']}` (aliases: {aliases})."]
        if summary.get("reason"):
            out += ["", f"**Promotion gate**: {summary['reason']}."]
    out += ["", "The stage graph, with each artifact's digest and cache status: the `lineage.png` artifact."]
    return "\n".join(out)
