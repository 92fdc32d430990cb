"""register: TrainedModel + EvalReport -> RegisteredModel: an MLflow model version whose tags lead back to every
upstream artifact and run, a model card, and the promotion gate that decides between `champion` and
`challenger`."""
from __future__ import annotations

import json

from ..config import RegisterConfig
from ..published import markdown_table
from ..stage import git_commit

PIP_REQUIREMENTS = ["torch==2.13.0", "transformers>=5,<6", "tokenizers>=0.23,<0.24", "safetensors"]


def upstream(inputs, storage) -> dict[str, dict]:
    """Every artifact this one descends from, by stage: uri, digest, MLflow run (following manifests' inputs)."""
    from ..artifacts import read_manifest

    found: dict[str, dict] = {}
    todo = [a.manifest for a in inputs.values()]
    while todo:
        m = todo.pop()
        if m.stage in found:
            continue
        found[m.stage] = {"kind": m.kind, "uri": m.uri, "digest": m.digest, "run_id": m.mlflow_run_id or ""}
        for ref in m.inputs:
            up = read_manifest(storage, ref.uri)
            if up is not None:
                todo.append(up)
    return found


def decide(cfg: RegisterConfig, candidate: dict, champion: dict | None) -> tuple[str, str]:
    """The promotion gate: (alias, reason). `candidate`/`champion` hold the score and per-task macro-F1."""
    if champion is None:
        return "champion", "no current champion"
    gain = candidate["score"] - champion["score"]
    if gain <= cfg.margin:
        return "challenger", f"{cfg.score} {candidate['score']:.4f} does not beat champion {champion['score']:.4f} " \
                             f"by more than {cfg.margin}"
    for task, f1 in champion.get("tasks", {}).items():
        drop = f1 - candidate["tasks"].get(task, 0.0)
        if drop > cfg.task_tolerance:
            return "challenger", f"{task} falls by {drop:.4f} (> tolerance {cfg.task_tolerance})"
    return "champion", f"{cfg.score} {candidate['score']:.4f} beats champion {champion['score']:.4f} by {gain:.4f}"


def run(cfg: RegisterConfig, inputs, out, ctx) -> dict:
    import mlflow
    import torch
    from huggingface_hub import ModelCard
    from mlflow.exceptions import MlflowException
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model_art, report_art = inputs["model"], inputs["report"]
    model_dir = model_art.local_dir() / "hf"
    metrics = json.loads(report_art.path("metrics.json").read_text())
    lineage_map = upstream(inputs, ctx.storage)
    client = ctx.lineage.client
    card = model_card(cfg, model_art.manifest, metrics, lineage_map)
    (out.dir / "README.md").write_text(card, encoding="utf-8")

    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    with mlflow.start_run(run_id=out.run_id):
        info = mlflow.transformers.log_model(
            transformers_model={"model": model, "tokenizer": tok}, name="model", task="text-generation",
            pip_requirements=PIP_REQUIREMENTS, registered_model_name=cfg.model_name, model_card=ModelCard(card))
    version = str(info.registered_model_version)
    tags = {"code_version.git": git_commit(), "eval.score_name": cfg.score,
            "eval.score": f"{metrics[cfg.score]:.6f}",
            **{f"eval.kobest.{t}.f1": f"{r['f1']:.6f}" for t, r in metrics["kobest"].items()}}
    for stage, info_ in lineage_map.items():
        for k, v in info_.items():
            tags[f"lineage.{stage}.{k}"] = v
    for k, v in tags.items():
        client.set_model_version_tag(cfg.model_name, version, k, v)
    client.update_model_version(cfg.model_name, version, description=card[:5000])

    try:
        champ_v = client.get_model_version_by_alias(cfg.model_name, "champion")
        champion = {"score": float(champ_v.tags.get("eval.score", "nan")),
                    "tasks": {k.split(".")[2]: float(v) for k, v in champ_v.tags.items()
                              if k.startswith("eval.kobest.") and k.endswith(".f1")}}
    except MlflowException:
        champ_v, champion = None, None
    candidate = {"score": metrics[cfg.score], "tasks": {t: r["f1"] for t, r in metrics["kobest"].items()}}
    alias, reason = decide(cfg, candidate, champion)
    client.set_registered_model_alias(cfg.model_name, alias, version)
    client.set_model_version_tag(cfg.model_name, version, "promotion.decision", alias)
    client.set_model_version_tag(cfg.model_name, version, "promotion.reason", reason)

    # The proof that the registry entry works: load it back through MLflow and generate.
    uri = f"models:/{cfg.model_name}@{alias}"
    pipe = mlflow.transformers.load_model(uri)
    prompt = "대한민국의 수도는"
    text = pipe(prompt, max_new_tokens=20, do_sample=False, repetition_penalty=1.3,
                return_full_text=False)[0]["generated_text"]
    registration = {"model_name": cfg.model_name, "version": version, "model_uri": uri, "aliases": [alias],
                    "decision": alias, "reason": reason, "generation": {"prompt": prompt, "text": text},
                    "lineage": lineage_map}
    (out.dir / "registration.json").write_text(json.dumps(registration, ensure_ascii=False, indent=2),
                                               encoding="utf-8")
    out.reports.append(out.dir / "README.md")
    return {k: registration[k] for k in ("model_uri", "version", "aliases", "decision", "reason", "generation")}


def model_card(cfg: RegisterConfig, model_manifest, metrics: dict, lineage_map: dict) -> str:
    p = model_manifest.params
    f1 = {t: r["f1"] for t, r in metrics["kobest"].items()}
    rows = "\n".join(f"| {s} | {i['kind']} | `{i['digest'][:16]}` | {i['uri']} |" for s, i in sorted(lineage_map.items()))
    return f"""---
language: ko
license: cc-by-sa-4.0
library_name: transformers
pipeline_tag: text-generation
tags: [gpt-neox, polyglot-ko]
---
# {cfg.model_name}

A Korean GPT-NeoX model trained by the Polyglot-Ko pipeline (preset `{p.get('preset')}`,
{model_manifest.stats.get('parameters', 0):,} parameters, {model_manifest.stats.get('steps')} steps,
{model_manifest.stats.get('tokens_seen', 0):,} tokens seen, final loss {model_manifest.stats.get('final_loss', float('nan')):.4f}).

## Data and processing
Cleaning follows Polyglot-Ko's rules: empty documents dropped, repeated characters collapsed (digits never),
phone numbers, resident registration numbers and bank accounts masked as `<|tel|>`, `<|rrn|>`, `<|acc|>`,
whitespace normalised, HTML removed, exact duplicates removed. Tokenizer: byte-level BPE with Polyglot-Ko's layout.

## Evaluation (KoBEST)
{markdown_table(cfg.model_name, f1, metrics.get('num_fewshot', 0))}
First {metrics.get('limit') or 'all'} test examples per task. Validation perplexity {metrics['validation_perplexity']:.2f}.

## Lineage
| stage | kind | digest | location |
|---|---|---|---|
{rows}

## Limitations
Trained on a small sample; expect repetitive, often ungrammatical text. Not for any use beyond testing the pipeline.
"""
