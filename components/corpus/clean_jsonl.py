"""`polyglot-ko clean`: the per-document curation chain on one JSONL file (no cross-document dedup).

Lines are read as collect reads JSONL (components/corpus/readers.py: encodings, compression, truncated archives),
with the same quarantine reasons. Every field but `text` is kept as it was; bad lines are counted as quarantined
and written beside the output (`OUTPUT.quarantine.jsonl`) with their reason and raw bytes (base64), so the
accounting always adds up and nothing is lost.
"""
from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from ..contract.config import CurateConfig
from ..errors import UserError
from .cleaning import Cleaner, tally
from .readers import problem, read_jsonl


def clean_file(src: Path, dst: Path, cfg: CurateConfig) -> dict:
    if not src.is_file():
        raise UserError(f"input file not found: {src}")
    clean = Cleaner(cfg)
    stats = {"records_in": 0, "records_out": 0, "dropped": {}, "quarantined": {}, "edits": {}, "pii": {}}
    qpath = dst.with_name(dst.name + ".quarantine.jsonl")
    tmp, qtmp = dst.with_name(f".{dst.name}.tmp"), qpath.with_name(f".{qpath.name}.tmp")
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(tmp, "w", encoding="utf-8") as fout, open(qtmp, "w", encoding="utf-8") as q:
        for loc, item in read_jsonl(src, src.name):
            stats["records_in"] += 1
            reason, raw = problem(item, "text")
            if reason:
                stats["quarantined"][reason] = stats["quarantined"].get(reason, 0) + 1
                q.write(json.dumps({"location": loc, "reason": reason, "raw": raw.decode("utf-8", "replace"),
                                    "raw_base64": base64.b64encode(raw).decode()}, ensure_ascii=False) + "\n")
                continue
            o = clean(item["text"])
            tally(o, stats)
            if o.text is None:
                continue
            item["text"] = o.text
            fout.write(json.dumps(item, ensure_ascii=False) + "\n")
            stats["records_out"] += 1
    os.replace(tmp, dst)
    if stats["quarantined"]:
        os.replace(qtmp, qpath)
    else:
        qtmp.unlink()
    return stats
