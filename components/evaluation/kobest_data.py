"""KoBEST v1's TSVs read into the field layout of the `skt/kobest_v1` hub dataset: the data alone, without the
harness. The curate stage's decontamination reads the same items evaluate scores through this module, so a change
to the harness's task writers (components/evaluation/kobest.py) does not change what curation's code version is.

Parsing traps (data/kobest/SOURCE.md): booleans in mixed case; COPA answers are 1-based; SentiNeg's columns differ
between splits (test: Text/Label are the negated pair, *_origin the original); HellaSwag needs a CSV reader
(quoted fields); BoolQ and the others must be split on tabs WITHOUT CSV quoting (fields may start with a literal
quote); CRLF line endings.
"""
from __future__ import annotations

import csv
import io
import re
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


def split_file(task: str, split: str) -> str:
    """The TSV of a task's split, relative to the KoBEST directory (as evaluate's `kobest_files` names it)."""
    return f"{_DIRS[task]}/{_SPLITS[split]}.tsv"


def load_split(kobest_dir: Path, task: str, split: str) -> list[dict]:
    path = Path(kobest_dir) / split_file(task, split)
    if not path.is_file():
        raise UserError(f"KoBEST file missing: {path}")
    return [convert_row(task, split, r) for r in _rows(path, quoted=(task == "hellaswag"))]
