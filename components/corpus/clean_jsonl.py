"""`polyglot-ko clean`: the per-document curation chain on one JSONL file (no cross-document dedup).

Every field but `text` is kept as it was; bad lines are counted as quarantined and written beside the output
(`OUTPUT.quarantine.jsonl`) with a reason, so the accounting always adds up.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from .cleaning import Cleaner
from ..contract.config import CurateConfig
from ..errors import UserError


def clean_file(src: Path, dst: Path, cfg: CurateConfig) -> dict:
    if not src.is_file():
        raise UserError(f"input file not found: {src}")
    clean = Cleaner(cfg)
    stats = {"records_in": 0, "records_out": 0, "dropped": {}, "quarantined": {}, "edits": {}, "pii": {}}
    qpath = dst.with_name(dst.name + ".quarantine.jsonl")
    tmp, qtmp = dst.with_name(f".{dst.name}.tmp"), qpath.with_name(f".{qpath.name}.tmp")
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(src, "rb") as fin, open(tmp, "w", encoding="utf-8") as fout, open(qtmp, "w", encoding="utf-8") as q:
        for n, line in enumerate(fin, 1):
            if not line.strip():
                continue
            stats["records_in"] += 1
            reason = None
            try:
                rec = json.loads(line)
                if not isinstance(rec, dict) or not isinstance(rec.get("text"), str):
                    reason = "missing_text_field"
            except (UnicodeDecodeError, json.JSONDecodeError):
                reason = "invalid_json"
            if reason:
                stats["quarantined"][reason] = stats["quarantined"].get(reason, 0) + 1
                q.write(json.dumps({"line": n, "reason": reason, "raw": line.decode("utf-8", "replace")},
                                   ensure_ascii=False) + "\n")
                continue
            o = clean(rec["text"])
            for k, v in o.edits.items():
                stats["edits"][k] = stats["edits"].get(k, 0) + v
            for k, v in o.pii.items():
                stats["pii"][k] = stats["pii"].get(k, 0) + v
            if o.text is None:
                stats["dropped"][o.drop_reason] = stats["dropped"].get(o.drop_reason, 0) + 1
                continue
            rec["text"] = o.text
            fout.write(json.dumps(rec, ensure_ascii=False) + "\n")
            stats["records_out"] += 1
    os.replace(tmp, dst)
    if stats["quarantined"]:
        os.replace(qtmp, qpath)
    else:
        qtmp.unlink()
    return stats
