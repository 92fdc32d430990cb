"""evaluate: TrainedModel (+ its TokenizedDataset) -> EvalReport: KoBEST at every configured shot count through
lm-evaluation-harness, validation perplexity, generations for fixed prompts, the report with charts."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from ..contract.artifact import Artifact, Output
from ..contract.config import EvaluateConfig
from ..contract.kinds import EvalReport, TokenizedDataset, TrainedModel
from ..contract.manifest import sha256_file
from ..evaluation.harness import check, evaluate_model
from ..tokenizer.segments import artifact_stream

# The report names the model as it will be registered.
NEEDS = {"model_name": "register.model_name"}


def params(cfg: EvaluateConfig) -> dict:
    check(cfg)
    p = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("kobest_dir", "batch_size", "device")}
    if cfg.source == "tsv":      # the data's content, not its path, decides whether a result can be reused
        d = Path(cfg.kobest_dir)
        p["kobest_files"] = {str(f.relative_to(d)): sha256_file(f)[:16] for f in sorted(d.rglob("*.tsv"))}
    return p


def run(cfg: EvaluateConfig, *, model: Artifact[TrainedModel], dataset: Artifact[TokenizedDataset],
        model_name: str, out: Output) -> EvalReport:
    model_dir = model.local_dir() / "hf"
    metrics = evaluate_model(
        model_dir, cfg, out.dir, out.workdir, model_name=model_name,
        validation=artifact_stream(dataset, "validation", cfg.perplexity_max_tokens), seq_length=model.info.seq_length,
        training_metrics=model.path("metrics.jsonl"))
    out.reports += [out.dir / "report.md", out.dir / "generations.json"] + sorted(out.dir.glob("*.png"))
    return EvalReport(model_name=model_name, shots=list(cfg.shots), limit=cfg.limit, kobest=metrics["kobest"],
                      scores=metrics["scores"], validation_perplexity=metrics["validation_perplexity"])
