"""KoBEST v1 from the original TSVs to the field layout of the `skt/kobest_v1` hub dataset, and lm-eval task
definitions that are the harness's own `kobest_*` tasks with only the data source changed.

Parsing traps (data/kobest/SOURCE.md): booleans in mixed case; COPA answers are 1-based; SentiNeg's columns differ
between splits (test: Text/Label are the negated pair, *_origin the original); HellaSwag needs a CSV reader
(quoted fields); BoolQ and the others must be split on tabs WITHOUT CSV quoting (fields may start with a literal
quote); CRLF line endings.
"""
from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path

from ..contract.config import KOBEST_TASKS
from ..errors import UserError

TASKS = KOBEST_TASKS
_DIRS = {"boolq": "BoolQ", "copa": "COPA", "hellaswag": "HellaSwag", "sentineg": "SentiNeg", "wic": "WiC"}
_SPLITS = {"train": "train", "validation": "dev", "test": "test"}


def _bool(v: str) -> int:
    v = v.strip().lower()
    if v not in ("true", "false"):
        raise ValueError(f"not a boolean: {v!r}")
    return int(v == "true")


def _rows(path: Path, quoted: bool) -> list[dict]:
    text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
    if quoted:
        reader = csv.DictReader(io.StringIO(text), delimiter="\t")
        return list(reader)
    lines = [ln for ln in text.split("\n") if ln != ""]
    header = lines[0].split("\t")
    out = []
    for n, ln in enumerate(lines[1:], 2):
        cells = ln.split("\t")
        if len(cells) != len(header):
            raise UserError(f"{path}:{n}: {len(cells)} fields, header has {len(header)}")
        out.append(dict(zip(header, cells)))
    return out


def convert_row(task: str, split: str, r: dict) -> dict:
    if task == "boolq":
        return {"paragraph": r["Text"], "question": r["Question"], "label": _bool(r["Answer"])}
    if task == "copa":
        return {"premise": r["sentence"], "question": r["question"], "alternative_1": r["1"],
                "alternative_2": r["2"], "label": int(r["Answer"]) - 1}
    if task == "hellaswag":
        return {"context": r["context"], **{f"ending_{i}": r[f"choice{i}"] for i in range(1, 5)},
                "label": int(r["label"])}
    if task == "sentineg":
        return {"sentence": r["Text"], "label": int(r["Label"])}
    if task == "wic":
        strip = lambda s: re.sub(r"\[([^\[\]]*)\]", r"\1", s)   # the target word is bracketed in the TSVs
        return {"word": r["Target"], "context_1": strip(r["SENTENCE1"]), "context_2": strip(r["SENTENCE2"]),
                "label": _bool(r["ANSWER"])}
    raise KeyError(task)


def load_split(kobest_dir: Path, task: str, split: str) -> list[dict]:
    path = Path(kobest_dir) / _DIRS[task] / f"{_SPLITS[split]}.tsv"
    if not path.is_file():
        raise UserError(f"KoBEST file missing: {path}")
    return [convert_row(task, split, r) for r in _rows(path, quoted=(task == "hellaswag"))]


def write_jsonl(kobest_dir: Path, out: Path, tasks=TASKS) -> dict:
    """Converted splits as <out>/<task>/<split>.jsonl; returns row counts and label distributions."""
    counts = {}
    for task in tasks:
        (out / task).mkdir(parents=True, exist_ok=True)
        for split in _SPLITS:
            rows = load_split(kobest_dir, task, split)
            with open(out / task / f"{split}.jsonl", "w", encoding="utf-8") as f:
                for r in rows:
                    f.write(json.dumps(r, ensure_ascii=False) + "\n")
            labels: dict[str, int] = {}
            for r in rows:
                labels[str(r["label"])] = labels.get(str(r["label"]), 0) + 1
            counts[f"{task}.{split}"] = {"rows": len(rows), "labels": labels}
    return counts


def harness_task_dir() -> Path:
    import lm_eval.tasks
    return Path(lm_eval.tasks.__file__).parent / "kobest"


def write_tasks(data_dir: Path, tasks_dir: Path, tasks=TASKS, prefix: str = "kobest_local") -> list[str]:
    """Task YAMLs copied from the harness's own kobest tasks, pointed at local JSONL files.

    Only the task name and the dataset source change, so prompts, choices and metrics are the harness's.
    """
    src = harness_task_dir()
    tasks_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src / "utils.py", tasks_dir / "utils.py")
    names = []
    for task in tasks:
        text = (src / f"kobest_{task}.yaml").read_text(encoding="utf-8")
        files = {s: str((data_dir / task / f"{s}.jsonl").resolve()) for s in _SPLITS}
        source = ("dataset_path: json\ndataset_kwargs:\n  data_files:\n"
                  + "".join(f"    {s}: {json.dumps(p)}\n" for s, p in files.items()))
        new, n1 = re.subn(r"^task: kobest_\w+$", f"task: {prefix}_{task}", text, flags=re.M)
        new, n2 = re.subn(r"^dataset_path: .*\n(dataset_name: .*\n)?", source, new, flags=re.M)
        if n1 != 1 or n2 != 1:
            raise RuntimeError(f"unexpected layout of the harness's kobest_{task}.yaml")
        (tasks_dir / f"{prefix}_{task}.yaml").write_text(new, encoding="utf-8")
        names.append(f"{prefix}_{task}")
    return names
