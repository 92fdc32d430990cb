"""evaluate: TrainedModel (+ its TokenizedDataset) -> EvalReport: KoBEST at every configured shot count through
lm-evaluation-harness, validation perplexity, generations for fixed prompts, the report with charts."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from ..contract.manifest import sha256_file
from ..contract.config import EvaluateConfig
from ..evaluation.harness import check, evaluate_model

CODE_DEPS = ["components.evaluation.kobest", "components.evaluation.published", "components.evaluation.harness", "components.evaluation.harness.report"]


def params(cfg: EvaluateConfig) -> dict:
    check(cfg)
    p = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("kobest_dir", "batch_size", "device")}
    if cfg.source == "tsv":      # the data's content, not its path, decides whether a result can be reused
        d = Path(cfg.kobest_dir)
        p["kobest_files"] = {str(f.relative_to(d)): sha256_file(f)[:16] for f in sorted(d.rglob("*.tsv"))}
    return p


def run(cfg: EvaluateConfig, inputs, out, ctx) -> dict:
    model, dataset = inputs["model"], inputs["dataset"]
    model_dir = model.local_dir() / "hf"
    dataset.path("validation.idx")
    metrics = evaluate_model(
        model_dir, cfg, out.dir, ctx.workdir, model_name=ctx.cfg.register.model_name,
        validation_prefix=dataset.path("validation.bin").with_suffix(""),
        seq_length=model.manifest.params.get("seq_length", 2048), training_metrics=model.path("metrics.jsonl"))
    out.reports += [out.dir / "report.md", out.dir / "generations.json"] + sorted(out.dir.glob("*.png"))
    first = str(cfg.shots[0])
    # Flat numbers for the stage's MLflow run; the nested ones stay in metrics.json.
    flat = {f"kobest_{s}shot_{t}_{m}": v for s, tasks in metrics["kobest"].items() for t, r in tasks.items()
            for m, v in r.items()}
    flat.update({f"{k}_{s}shot": v for s, sc in metrics["scores"].items() for k, v in sc.items()})
    return {**flat, "kobest": metrics["kobest"][first], "kobest_shots": int(first),
            "validation_perplexity": metrics["validation_perplexity"], "shots": cfg.shots, "limit": cfg.limit}
