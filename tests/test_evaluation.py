"""KoBEST as Polyglot-Ko reported it: the TSV conversion against an independent reader, equality with the
harness's built-in `kobest_*` tasks on a tiny model, the report, the model card, and `polyglot-ko evaluate`."""
import csv
import json
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from components.cli import main
from components.contract.config import EvaluateConfig
from components.evaluation.kobest import TASKS, load_split, write_jsonl, write_tasks

KOBEST = Path("data/kobest/v1.0")
DIRS = {"boolq": ("BoolQ", "Answer"), "copa": ("COPA", "Answer"), "hellaswag": ("HellaSwag", "label"),
        "sentineg": ("SentiNeg", "Label"), "wic": ("WiC", "ANSWER")}


def _independent_labels(task: str, split: str) -> Counter:
    """Label counts read with pandas, the way SOURCE.md says each file must be read."""
    folder, col = DIRS[task]
    name = {"train": "train", "validation": "dev", "test": "test"}[split]
    quoting = csv.QUOTE_MINIMAL if task == "hellaswag" else csv.QUOTE_NONE
    df = pd.read_csv(KOBEST / folder / f"{name}.tsv", sep="\t", quoting=quoting, dtype=str, keep_default_na=False)
    values = df[col].str.strip().str.lower()
    if task in ("boolq", "wic"):
        values = (values == "true").astype(int).astype(str)
    elif task == "copa":
        values = (values.astype(int) - 1).astype(str)
    return Counter(values)


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("split", ["train", "validation", "test"])
def test_label_distribution_per_split_matches_an_independent_reader(task, split):
    ours = Counter(str(r["label"]) for r in load_split(KOBEST, task, split))
    assert ours == _independent_labels(task, split)


def _tiny_model(path: Path) -> Path:
    """A random GPT-NeoX with the published tokenizer: enough to compare two evaluations number for number."""
    import torch
    from transformers import GPTNeoXForCausalLM, PreTrainedTokenizerFast

    from training.presets import PRESETS, hf_config

    torch.manual_seed(0)
    tok = PreTrainedTokenizerFast.from_pretrained("data/reference/polyglot-ko-tokenizer")
    GPTNeoXForCausalLM(hf_config(PRESETS["micro"], vocab_size=30_080)).save_pretrained(str(path))
    tok.save_pretrained(str(path))
    return path


def _evaluate(model: Path, tasks: list[str], manager, shots: int) -> tuple[dict, dict]:
    import lm_eval

    res = lm_eval.simple_evaluate(
        model="hf", model_args=f"pretrained={model},dtype=float32", tasks=tasks, num_fewshot=shots, limit=6,
        batch_size=4, device="cpu", task_manager=manager, random_seed=0, numpy_random_seed=1234,
        torch_random_seed=1234, fewshot_random_seed=42, log_samples=True)
    metrics = {t.split("_")[-1]: {k: v for k, v in r.items() if k.endswith(",none")} for t, r in res["results"].items()}
    samples = {t.split("_")[-1]: [(s["doc_id"], s["arguments"], s["resps"]) for s in ss]
               for t, ss in res["samples"].items()}
    return metrics, samples


@pytest.mark.slow
def test_numbers_equal_the_harness_builtin_kobest_tasks_on_a_tiny_model(tmp_path, monkeypatch):
    """The built-in `kobest_*` tasks, unmodified, load `skt/kobest_v1`; a directory of that name in the working
    directory is a dataset repository in the hub's layout, so they read the same rows from disk. Our tasks must
    produce the same contexts, the same per-choice log-likelihoods and the same metrics, 0-shot and few-shot."""
    from lm_eval.tasks import TaskManager

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    model = _tiny_model(tmp_path / "model")
    repo = tmp_path / "hub" / "skt" / "kobest_v1"
    write_jsonl(KOBEST, repo)
    configs = "".join(f"- config_name: {t}\n  data_files:\n" + "".join(
        f"  - split: {s}\n    path: {t}/{s}.jsonl\n" for s in ("train", "validation", "test")) for t in TASKS)
    (repo / "README.md").write_text(f"---\nconfigs:\n{configs}---\n")
    ours = write_tasks(repo, tmp_path / "tasks")
    monkeypatch.chdir(tmp_path / "hub")
    # each manager once (indexing the harness's built-in tasks costs seconds); ours as the pipeline builds it
    builtin, local = TaskManager(), TaskManager(include_path=str(tmp_path / "tasks"), include_defaults=False)
    for shots in (0, 3):
        builtin_m, builtin_s = _evaluate(model, [f"kobest_{t}" for t in TASKS], builtin, shots)
        ours_m, ours_s = _evaluate(model, ours, local, shots)
        assert set(ours_m) == set(TASKS)
        assert ours_m == builtin_m, shots
        assert ours_s == builtin_s, shots
    assert "f1,none" in ours_m["copa"] and "acc_norm,none" in ours_m["hellaswag"]


@pytest.mark.slow
def test_evaluate_command_writes_the_report_for_a_directory_and_a_registered_model(tiny_pipeline, tmp_path,
                                                                                  monkeypatch, capsys):
    """`polyglot-ko evaluate` on the pipeline's TrainedModel gives the pipeline's own numbers; through the registry
    (`models:/NAME@champion`) it gives them again."""
    stage_metrics = json.loads(Path(tiny_pipeline.manifest("evaluate").file_uri("metrics.json")).read_text())
    model_dir = tiny_pipeline.manifest("pretrain").uri
    args = ["--config", "configs/tiny.yaml", "--dataset", tiny_pipeline.manifest("tokenize").uri, "--name", "tiny"]
    assert main(["evaluate", model_dir, "--out", str(tmp_path / "dir"), *args]) == 0
    direct = json.loads((tmp_path / "dir" / "metrics.json").read_text())
    assert direct["kobest"] == stage_metrics["kobest"] and direct["shots"] == [0, 2]
    assert direct["validation_perplexity"] == pytest.approx(stage_metrics["validation_perplexity"])
    report = (tmp_path / "dir" / "report.md").read_text()
    for shots in ("0", "2"):
        assert f"Macro-F1, {shots}-shot" in report
        assert (tmp_path / "dir" / f"kobest_f1_{shots}shot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "dir" / "loss_curve.png").is_file() and "![Training loss](loss_curve.png)" in report
    assert "| polyglot-ko-12.8b | 0.7937 | 0.5954 | 0.4818 | 0.9117 | 0.3985 |" in report, "published 0-shot row"
    assert "| **tiny** |" in report
    gens = json.loads((tmp_path / "dir" / "generations.json").read_text())
    assert [g["prompt"] for g in gens] == EvaluateConfig().prompts

    # through the registry: the same numbers (on two of the tasks, at 0 shots: what is compared is the model loaded)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tiny_pipeline.tracking_uri)
    assert main(["evaluate", "models:/polyglot-ko-tiny@champion", "--out", str(tmp_path / "reg"), *args,
                 "--set", "evaluate.tasks=[copa, wic]", "--set", "evaluate.shots=[0]"]) == 0
    registered = json.loads((tmp_path / "reg" / "metrics.json").read_text())
    assert registered["kobest"] == {"0": {t: direct["kobest"]["0"][t] for t in ("copa", "wic")}}, \
        "the registered model scores as its directory does"
    assert "mean macro-F1" in capsys.readouterr().out
    assert main(["evaluate", str(tmp_path), "--out", str(tmp_path / "x")]) == 2


@pytest.mark.slow
def test_pipeline_report_model_card_and_linked_metrics(tiny_pipeline):
    import mlflow
    from mlflow import MlflowClient
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

    ev = tiny_pipeline.manifest("evaluate")
    names = {f.name for f in ev.files}
    assert {"metrics.json", "report.md", "generations.json", "kobest_f1_0shot.png", "kobest_f1_2shot.png",
            "loss_curve.png"} <= names
    metrics = json.loads(Path(ev.file_uri("metrics.json")).read_text())
    assert sorted(metrics["kobest"]) == ["0", "2"] and set(metrics["kobest"]["0"]) == set(TASKS)
    for shots, tasks in metrics["kobest"].items():
        mean = sum(r["f1"] for r in tasks.values()) / 5
        assert metrics["scores"][shots]["kobest_macro_f1_mean"] == pytest.approx(mean)

    reg = tiny_pipeline.manifest("register")
    card = Path(reg.file_uri("README.md")).read_text()
    assert card.startswith("---\nlanguage: ko\nlicense: cc0-1.0\n"), "the tiny config's sources are all CC0"
    cur = tiny_pipeline.manifest("curate").stats
    for needle in ("## Training data", "| nsmc | CC0-1.0 |", "## Cleaning and PII policy", "<|rrn|>",
                   f"{cur['records_out']:,} kept", "## Tokenizer", "## Training", "ZeRO-1", "## Evaluation (KoBEST)",
                   "Macro-F1, 2-shot", "## Limitations", "## Licence", tiny_pipeline.manifest("tokenize").digest[:16]):
        assert needle in card, needle

    uri = tiny_pipeline.tracking_uri
    client = MlflowClient(uri, uri)
    mv = client.get_model_version_by_alias("polyglot-ko-tiny", "champion")
    assert mv.tags["eval.score_name"] == "kobest_macro_f1_mean" and mv.tags["eval.score_shots"] == "0"
    assert float(mv.tags["eval.score"]) == pytest.approx(metrics["scores"]["0"]["kobest_macro_f1_mean"], abs=1e-6)
    logged = client.get_logged_model(mv.tags["logged_model_id"])
    linked = {m.key: m.value for m in logged.metrics}
    assert linked["kobest_macro_f1_mean_0shot"] == pytest.approx(metrics["scores"]["0"]["kobest_macro_f1_mean"])
    assert linked["kobest_2shot_copa_f1"] == pytest.approx(metrics["kobest"]["2"]["copa"]["f1"])

    # both ways of loading the champion generate text
    hf = Path(tiny_pipeline.manifest("pretrain").uri) / "hf"
    tok = PreTrainedTokenizerFast.from_pretrained(str(hf))
    model = AutoModelForCausalLM.from_pretrained(str(hf))
    ids = tok("오늘 영화는", return_tensors="pt").input_ids
    out = model.generate(ids, max_new_tokens=5, do_sample=False)
    assert out.shape[1] == ids.shape[1] + 5 and tok.decode(out[0, ids.shape[1]:]).strip()
    from components.contract.lineage import set_process_uri
    set_process_uri(uri)
    pipe = mlflow.transformers.load_model("models:/polyglot-ko-tiny@champion")
    text = pipe("오늘 영화는", max_new_tokens=5, do_sample=False)[0]["generated_text"]
    assert text.startswith("오늘 영화는") and len(text) > len("오늘 영화는")


def test_the_model_is_evaluated_in_its_export_dtype(tmp_path, monkeypatch):
    """A float16 export is loaded as float16 (12.8B: 25.8 GB, not 51.6 GB in float32), with the same perplexity
    as the float32 weights it came from, to float16's precision."""
    import numpy as np
    import torch
    from transformers import AutoModelForCausalLM, GPTNeoXConfig, GPTNeoXForCausalLM

    from components.evaluation import harness

    torch.manual_seed(0)
    model = GPTNeoXForCausalLM(GPTNeoXConfig(vocab_size=256, hidden_size=32, num_hidden_layers=1,
                                             num_attention_heads=2, intermediate_size=128))
    model.save_pretrained(tmp_path / "fp32")
    half = model.to(torch.float16)
    half.config.dtype = torch.float16
    half.save_pretrained(tmp_path / "fp16")
    loaded, load = [], AutoModelForCausalLM.from_pretrained

    def load_and_note_dtype(*a, **k):
        m = load(*a, **k)
        loaded.append(next(m.parameters()).dtype)
        return m

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", load_and_note_dtype)
    tokens = np.arange(400) % 256
    p16 = harness.validation_perplexity(tmp_path / "fp16", tokens, 32, 300)
    p32 = harness.validation_perplexity(tmp_path / "fp32", tokens, 32, 300)
    assert loaded == [torch.float16, torch.float32]
    assert abs(p16 - p32) / p32 < 0.01
