"""register: TrainedModel + EvalReport -> RegisteredModel: an MLflow model version whose tags lead back to every
upstream artifact and run, the evaluation's metrics linked to the logged model, a model card, and the promotion
gate that decides between `champion` and `challenger` (components/registry.py)."""
from __future__ import annotations

import json

from ..registry import promotion as registry
from ..contract.config import RegisterConfig
from ..registry.model_card import build as build_card
from ..contract.execution import git_commit

PIP_REQUIREMENTS = ["torch==2.13.0", "transformers>=5,<6", "tokenizers>=0.23,<0.24", "safetensors"]


def upstream(inputs, storage) -> tuple[dict[str, dict], dict]:
    """Every artifact this one descends from, by stage: (uri, digest, MLflow run) and the manifests themselves."""
    from ..contract.manifest import read_manifest

    found: dict[str, dict] = {}
    manifests: dict = {}
    todo = [a.manifest for a in inputs.values()]
    while todo:
        m = todo.pop()
        if m.stage in found:
            continue
        found[m.stage] = {"kind": m.kind, "uri": m.uri, "digest": m.digest, "run_id": m.mlflow_run_id or ""}
        manifests[m.stage] = m
        for ref in m.inputs:
            up = read_manifest(storage, ref.uri)
            if up is not None:
                todo.append(up)
    return found, manifests


def score_shots(cfg: RegisterConfig, metrics: dict) -> int:
    return cfg.score_shots if cfg.score_shots is not None else int(metrics["shots"][0])


def run(cfg: RegisterConfig, inputs, out, ctx) -> dict:
    import mlflow
    import torch
    from huggingface_hub import ModelCard
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

    model_art, report_art = inputs["model"], inputs["report"]
    model_dir = model_art.local_dir() / "hf"
    metrics = json.loads(report_art.path("metrics.json").read_text())
    shots = score_shots(cfg, metrics)
    tags = registry.eval_tags(metrics, cfg.score, shots)      # checks score and shots before anything is logged
    lineage_map, manifests = upstream(inputs, ctx.storage)
    hf_config = json.loads((model_dir / "config.json").read_text())
    shape = {"layers": hf_config["num_hidden_layers"], "hidden": hf_config["hidden_size"],
             "heads": hf_config["num_attention_heads"], "ffn": hf_config["intermediate_size"],
             "rotary_pct": hf_config.get("rope_parameters", {}).get("partial_rotary_factor",
                                                                     hf_config.get("rotary_pct"))}
    card = build_card(cfg.model_name, manifests, metrics, lineage_map, shape)
    (out.dir / "README.md").write_text(card, encoding="utf-8")

    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    tok = PreTrainedTokenizerFast.from_pretrained(str(model_dir))
    with mlflow.start_run(run_id=out.run_id):
        info = mlflow.transformers.log_model(
            transformers_model={"model": model, "tokenizer": tok}, name="model", task="text-generation",
            pip_requirements=PIP_REQUIREMENTS, registered_model_name=cfg.model_name, model_card=ModelCard(card))
        # The evaluation's numbers, linked to the logged model (they show on its page in MLflow).
        linked = {f"kobest_{s}shot_{t}_f1": r["f1"] for s, ts in metrics["kobest"].items() for t, r in ts.items()}
        linked.update({f"{k}_{s}shot": v for s, sc in metrics["scores"].items() for k, v in sc.items()})
        if metrics.get("validation_perplexity") is not None:
            linked["validation_perplexity"] = metrics["validation_perplexity"]
        mlflow.log_metrics(linked, model_id=info.model_id)
    version = str(info.registered_model_version)
    client = ctx.lineage.client
    tags.update({"code_version.git": git_commit(), "logged_model_id": info.model_id})
    for stage, info_ in lineage_map.items():
        for k, v in info_.items():
            tags[f"lineage.{stage}.{k}"] = v
    for k, v in tags.items():
        client.set_model_version_tag(cfg.model_name, version, k, v)
    client.update_model_version(cfg.model_name, version, description=card[:5000])

    candidate = registry.scores_from_tags(tags, cfg.score, shots)
    champ_v = registry.current(client, cfg.model_name)
    if champ_v is None:
        alias, reason = registry.CHAMPION, "no current champion"
    else:
        champion = registry.scores_from_tags(champ_v.tags, cfg.score, shots)
        if champion is None:
            alias, reason = registry.CHALLENGER, (f"champion version {champ_v.version} was not scored by {cfg.score} "
                                                  f"at {shots} shots; compare by hand and use `polyglot-ko promote`")
        else:
            alias, reason = registry.decide(candidate, champion, cfg.margin, cfg.task_tolerance,
                                            f"{cfg.score}@{shots}shot")
            reason += f" (champion: version {champ_v.version})"
    registry.apply(client, cfg.model_name, version, alias, reason)

    # The proof that the registry entry works: load it back through MLflow and generate.
    uri = f"models:/{cfg.model_name}/{version}"
    pipe = mlflow.transformers.load_model(uri)
    prompt = "대한민국의 수도는"
    text = pipe(prompt, max_new_tokens=20, do_sample=False, repetition_penalty=1.3,
                return_full_text=False)[0]["generated_text"]
    registration = {"model_name": cfg.model_name, "version": version, "model_uri": f"models:/{cfg.model_name}@{alias}",
                    "aliases": [alias], "decision": alias, "reason": reason, "score": candidate.score,
                    "score_name": f"{cfg.score}@{shots}shot", "generation": {"prompt": prompt, "text": text},
                    "lineage": lineage_map, "logged_model_id": info.model_id}
    (out.dir / "registration.json").write_text(json.dumps(registration, ensure_ascii=False, indent=2),
                                               encoding="utf-8")
    out.reports.append(out.dir / "README.md")
    return {k: registration[k] for k in ("model_uri", "version", "aliases", "decision", "reason", "generation",
                                         "score")}
