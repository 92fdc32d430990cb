"""KoBEST for lm-evaluation-harness: the converted splits as JSONL, and task definitions that are the harness's
own `kobest_*` tasks with only the data source changed. Reading the TSVs is components/evaluation/kobest_data.py.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from ..contract.config import KOBEST_TASKS
from .kobest_data import _SPLITS, load_split

TASKS = KOBEST_TASKS


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
