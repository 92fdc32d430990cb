"""Evaluating a causal LM the way Polyglot-Ko reported it, plus what the tables do not show.

KoBEST runs through lm-evaluation-harness with the harness's own `kobest_*` task definitions (prompts, choices,
log-likelihood scoring, macro-F1 via sklearn): either on the bundled TSVs converted to the hub dataset's field
layout (`source: tsv`, only the task's data source changes) or on `skt/kobest_v1` from the Hub (`source: hub`).
Few-shot examples come from train, drawn with random.Random(42), joined by a blank line. Beyond KoBEST:
perplexity on the validation split and generations for fixed Korean prompts, kept with every evaluation so
versions can be read side by side.

Used by the pipeline's evaluate stage and by `polyglot-ko evaluate MODEL` alike.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

from ..contract.config import EvaluateConfig
from ..errors import UserError
from .kobest import write_jsonl, write_tasks

FEWSHOT_SEED = 42   # Polyglot-Ko drew few-shot examples with random.Random(42)
# Generations are greedy with this repetition penalty everywhere (evaluation reports, the registry's check), so two
# versions can be compared line by line.
GREEDY = {"do_sample": False, "repetition_penalty": 1.3}


def check(cfg: EvaluateConfig) -> None:
    if not cfg.shots or any(s < 0 for s in cfg.shots):
        raise UserError(f"evaluate.shots: a non-empty list of shot counts >= 0, got {cfg.shots}")
    if cfg.source == "tsv" and not Path(cfg.kobest_dir).is_dir():
        raise UserError(f"evaluate.kobest_dir: no directory {cfg.kobest_dir}")


def run_kobest(model_dir: Path, cfg: EvaluateConfig, workdir: Path) -> tuple[dict, dict]:
    """{shots: {task: {f1, acc[, acc_norm]}}} for every configured shot count, and the data's row counts."""
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        names, manager, data_counts = kobest_suite(cfg.source, Path(cfg.kobest_dir), cfg.tasks, Path(tmp))
        results = {str(shots): score_kobest("hf", names, manager, shots, cfg.limit, cfg.batch_size, cfg.device,
                                            model_args=f"pretrained={model_dir},dtype=auto")
                   for shots in cfg.shots}
    return results, data_counts


def kobest_suite(source: str, kobest_dir: Path, tasks, tmp: Path):
    """(harness task names, their TaskManager, the data's row counts) for `tasks`; tsv: converted under tmp,
    which must outlive the scoring."""
    from lm_eval.tasks import TaskManager

    if source == "hub":
        return [f"kobest_{t}" for t in tasks], TaskManager(), {}
    data_counts = write_jsonl(kobest_dir, tmp / "data", tasks)
    names = write_tasks(tmp / "data", tmp / "tasks", tasks)
    # only the copied tasks: indexing the harness's thousands of built-in task files costs about 6 s a manager,
    # paid by every evaluation and every evaluating trainer (the copies need none of them)
    return names, TaskManager(include_path=str(tmp / "tasks"), include_defaults=False), data_counts


def score_kobest(model, names: list[str], manager, shots: int, limit: int | None, batch_size: int,
                 device: str | None, model_args: str | None = None) -> dict | None:
    """{task: {f1, acc[, acc_norm]}} at one shot count: `model` is "hf" (with model_args) or a harness LM (the
    trainer's live weights, wrapped); seeds as Polyglot-Ko drew its few-shot examples."""
    import lm_eval

    extra = {"model_args": model_args, "batch_size": batch_size, "device": device} if isinstance(model, str) else {}
    res = lm_eval.simple_evaluate(
        model=model, tasks=names, num_fewshot=shots, limit=limit, task_manager=manager, random_seed=0,
        numpy_random_seed=1234, torch_random_seed=1234, fewshot_random_seed=FEWSHOT_SEED, log_samples=False,
        **extra)
    if res is None:        # the harness reports on LOCAL_RANK 0 only (a ZeRO-3 trainer's other ranks score too)
        return None
    return {name.rsplit("_", 1)[1]: {m: float(res["results"][name][f"{m},none"]) for m in ("f1", "acc", "acc_norm")
                                     if f"{m},none" in res["results"][name]}
            for name in names}


def summary_scores(kobest: dict) -> dict:
    """Mean macro-F1 and mean accuracy over the tasks, per shot count."""
    out = {}
    for shots, tasks in kobest.items():
        out[shots] = {"kobest_macro_f1_mean": sum(r["f1"] for r in tasks.values()) / len(tasks),
                      "kobest_acc_mean": sum(r["acc"] for r in tasks.values()) / len(tasks)}
    return out


def validation_perplexity(model_dir: Path, validation, seq_length: int, max_tokens: int) -> float:
    """exp(mean next-token loss) over the first max_tokens of the validation split (a TokenStream of its
    segments), in seq_length windows."""
    import numpy as np
    import torch
    from transformers import AutoModelForCausalLM

    tokens = np.asarray(validation[: max_tokens + 1], dtype=np.int64)
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype="auto").eval()
    nll, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(tokens) - 1, seq_length):
            chunk = torch.from_numpy(tokens[start:start + seq_length + 1])[None]
            if chunk.size(1) < 2:
                break
            logits = model(input_ids=chunk[:, :-1]).logits
            nll += torch.nn.functional.cross_entropy(logits[0].float(), chunk[0, 1:], reduction="sum").item()
            count += chunk.size(1) - 1
    return math.exp(nll / max(count, 1))


def generate(model_dir: Path, prompts: list[str], max_new_tokens: int) -> list[dict]:
    """Greedy continuations (repetition penalty 1.3), deterministic, so two versions can be compared line by line."""
    import torch
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype="auto").eval()
    out = []
    for p in prompts:
        ids = tok(p, return_tensors="pt").input_ids
        with torch.no_grad():
            gen = model.generate(ids, max_new_tokens=max_new_tokens, **GREEDY,
                                 pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else 0)
        out.append({"prompt": p, "text": tok.decode(gen[0, ids.size(1):], skip_special_tokens=True)})
    return out


def evaluate_model(model_dir: Path, cfg: EvaluateConfig, out_dir: Path, workdir: Path, model_name: str,
                   validation=None, seq_length: int = 2048,
                   training_metrics: Path | None = None) -> dict:
    """The whole evaluation into out_dir: metrics.json, report.md, charts, generations.json, kobest_data.json."""
    from .report import write_report

    check(cfg)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if cfg.source == "tsv":     # everything is local: never wait on the Hub
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    kobest, data_counts = run_kobest(model_dir, cfg, workdir)
    ppl = None
    if validation is not None:
        ppl = validation_perplexity(model_dir, validation, seq_length, cfg.perplexity_max_tokens)
    gens = generate(model_dir, cfg.prompts, cfg.max_new_tokens)
    metrics = {"model": model_name, "kobest": kobest, "scores": summary_scores(kobest),
               "validation_perplexity": ppl, "shots": list(cfg.shots), "limit": cfg.limit, "source": cfg.source,
               "fewshot_seed": FEWSHOT_SEED}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    (out_dir / "generations.json").write_text(json.dumps(gens, ensure_ascii=False, indent=2), encoding="utf-8")
    (out_dir / "kobest_data.json").write_text(json.dumps(data_counts, indent=2), encoding="utf-8")
    write_report(out_dir, metrics, gens, training_metrics)
    return metrics


def resolve_model(model: str, dest: Path) -> Path:
    """A local Hugging Face directory for MODEL: a directory as it is, or a `models:/NAME@alias|/VERSION` URI
    loaded through MLflow and saved as a Hugging Face directory."""
    if not model.startswith("models:/"):
        path = Path(model)
        if (path / "hf" / "config.json").is_file():     # a TrainedModel artifact directory
            return path / "hf"
        if not (path / "config.json").is_file():
            raise UserError(f"evaluate: {model} is neither a Hugging Face model directory nor a models:/ URI")
        return path
    import mlflow
    try:
        parts = mlflow.transformers.load_model(model, return_type="components")
    except Exception as e:
        raise UserError(f"evaluate: cannot load {model} from MLflow ({mlflow.get_tracking_uri()}): {e}") from None
    dest.mkdir(parents=True, exist_ok=True)
    parts["model"].save_pretrained(str(dest))
    parts["tokenizer"].save_pretrained(str(dest))
    return dest
