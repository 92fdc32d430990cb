"""evaluate: TrainedModel -> EvalReport. KoBEST through lm-evaluation-harness on the bundled data, validation
perplexity, and generations for a fixed set of Korean prompts."""
from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
from pathlib import Path

from ..artifacts import sha256_file
from ..config import EvaluateConfig
from ..errors import UserError
from ..kobest import TASKS, write_jsonl, write_tasks
from ..published import markdown_table

CODE_DEPS = ["components.kobest", "components.published"]
FEWSHOT_SEED = 42   # Polyglot-Ko drew few-shot examples with random.Random(42)


def params(cfg: EvaluateConfig) -> dict:
    d = Path(cfg.kobest_dir)
    if not d.is_dir():
        raise UserError(f"evaluate.kobest_dir: no directory {d}")
    files = sorted(p for p in d.rglob("*.tsv"))
    p = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("kobest_dir", "batch_size")}
    p["kobest_files"] = {str(f.relative_to(d)): sha256_file(f)[:16] for f in files}
    return p


def run(cfg: EvaluateConfig, inputs, out, ctx) -> dict:
    bad = sorted(set(cfg.tasks) - set(TASKS))
    if bad:
        raise UserError(f"evaluate.tasks: unknown {bad} (KoBEST tasks: {', '.join(TASKS)})")
    model_dir = inputs["model"].local_dir() / "hf"
    seq_length = inputs["model"].manifest.params.get("seq_length", 128)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    with tempfile.TemporaryDirectory(dir=ctx.workdir) as tmp:
        data_counts = write_jsonl(Path(cfg.kobest_dir), Path(tmp) / "data", cfg.tasks)
        names = write_tasks(Path(tmp) / "data", Path(tmp) / "tasks", cfg.tasks)
        kobest = run_harness(model_dir, names, Path(tmp) / "tasks", cfg)
    ppl = validation_perplexity(model_dir, inputs["dataset"].path("validation"), seq_length,
                                cfg.perplexity_max_tokens)
    gens = generate(model_dir, cfg.prompts, cfg.max_new_tokens)
    f1s = {t: r["f1"] for t, r in kobest.items()}
    mean_f1 = sum(f1s.values()) / len(f1s)
    metrics = {"kobest": kobest, "kobest_macro_f1_mean": mean_f1, "validation_perplexity": ppl,
               "num_fewshot": cfg.num_fewshot, "limit": cfg.limit}
    (out.dir / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    (out.dir / "generations.json").write_text(json.dumps(gens, ensure_ascii=False, indent=2), encoding="utf-8")
    table = markdown_table("this model", f1s, cfg.num_fewshot)
    (out.dir / "report.md").write_text(
        f"# KoBEST evaluation\n\n{table}\n"
        f"First {cfg.limit or 'all'} test examples per task; mean macro-F1 {mean_f1:.4f}; "
        f"validation perplexity {ppl:.2f}.\n", encoding="utf-8")
    (out.dir / "kobest_data.json").write_text(json.dumps(data_counts, indent=2), encoding="utf-8")
    out.reports += [out.dir / "report.md", out.dir / "generations.json"]
    return metrics


def run_harness(model_dir: Path, task_names: list[str], tasks_dir: Path, cfg: EvaluateConfig) -> dict:
    import lm_eval
    from lm_eval.tasks import TaskManager

    res = lm_eval.simple_evaluate(
        model="hf", model_args=f"pretrained={model_dir},dtype=float32", tasks=task_names,
        num_fewshot=cfg.num_fewshot, limit=cfg.limit, batch_size=cfg.batch_size, device="cpu",
        task_manager=TaskManager(include_path=str(tasks_dir)), random_seed=0, numpy_random_seed=1234,
        torch_random_seed=1234, fewshot_random_seed=FEWSHOT_SEED, log_samples=False)
    out = {}
    for name in task_names:
        r = res["results"][name]
        task = name.rsplit("_", 1)[1]
        out[task] = {m: float(r[f"{m},none"]) for m in ("f1", "acc", "acc_norm") if f"{m},none" in r}
    return out


def validation_perplexity(model_dir: Path, prefix: Path, seq_length: int, max_tokens: int) -> float:
    import numpy as np
    import torch
    from transformers import AutoModelForCausalLM

    from ..indexed_dataset import IndexedDataset

    tokens = np.asarray(IndexedDataset(prefix).tokens()[: max_tokens + 1], dtype=np.int64)
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()
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
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    out = []
    for p in prompts:
        ids = tok(p, return_tensors="pt").input_ids
        with torch.no_grad():
            gen = model.generate(ids, max_new_tokens=max_new_tokens, do_sample=False, repetition_penalty=1.3,
                                 pad_token_id=tok.pad_token_id)
        out.append({"prompt": p, "text": tok.decode(gen[0, ids.size(1):], skip_special_tokens=True)})
    return out
