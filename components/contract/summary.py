"""The end-of-run summary: what `finish` records on the parent run and `polyglot-ko run` prints."""
from __future__ import annotations

import dataclasses

from . import kinds
from .config import KOBEST_TASKS as TASKS


def _core_seconds(manifest) -> float:
    """What a stage's tasks spent (their seconds summed; a one-task stage: its own)."""
    steps = manifest.stats.get("steps") or {}
    if steps:
        return round(sum(s.get("task_seconds_sum", s.get("seconds", 0)) for s in steps.values()), 1)
    return round(manifest.stats.get("seconds") or 0.0, 1)


def reuse(manifests: dict, tokenizer_from: str | None) -> dict:
    """What a run took from earlier work and what it computed, by stage (files, records, tokens, core-seconds);
    `tokenizer_from`: the Tokenizer URI the run's config said to take (train_tokenizer.reuse)."""
    info = {stage: kinds.read(m) for stage, m in manifests.items()}
    out: dict = {}
    if "collect" in info:
        c: kinds.RawCorpus = info["collect"]
        out["collect"] = {"files_reused": c.files_reused, "files_read": c.files - c.files_reused,
                          "records_reused": c.records_reused, "records_read": c.records_out - c.records_reused,
                          "core_seconds": _core_seconds(manifests["collect"])}
    if "curate" in info:
        c: kinds.CuratedCorpus = info["curate"]
        out["curate"] = {"base": c.base, "base_reason": c.base_reason, "generation": c.generation,
                         "records_reused": c.records_reused, "records_curated": c.records_out - c.records_reused,
                         "raw_files_curated": c.raw_files_curated, "core_seconds": _core_seconds(manifests["curate"])}
    if "train-tokenizer" in manifests:
        m = manifests["train-tokenizer"]
        taken = bool(tokenizer_from) and m.uri.rstrip("/") == tokenizer_from.rstrip("/")
        out["train-tokenizer"] = {"reused_from": m.uri if taken else None,
                                  "core_seconds": 0.0 if taken else _core_seconds(m)}
    if "tokenize" in info:
        t: kinds.TokenizedDataset = info["tokenize"]
        out["tokenize"] = {"segments_reused": t.segments_reused, "segments_made": t.segments - t.segments_reused,
                           "tokens_reused": t.tokens_reused, "tokens_made": t.tokens - t.tokens_reused,
                           "core_seconds": t.task_seconds}
    if "pretrain" in info:
        out["pretrain"] = {"init_from": info["pretrain"].init_from, "tokens_seen": info["pretrain"].tokens_seen}
    return out


def summarize(manifests: dict, tokenizer_from: str | None = None) -> dict:
    """stage -> Manifest (the run's artifacts, in graph order) -> the summary's plain data."""
    info = {stage: kinds.read(m) for stage, m in manifests.items()}
    s: dict = {"stages": {n: {"digest": m.digest[:12], "uri": m.uri, "seconds": m.stats.get("seconds")}
                          for n, m in manifests.items()},
               "reuse": reuse(manifests, tokenizer_from)}
    if "curate" in info:
        c: kinds.CuratedCorpus = info["curate"]
        s["records"] = {"in": c.records_in, "kept": c.records_out, "dropped": c.dropped,
                        "quarantined": c.quarantined}
    if "tokenize" in info:
        t: kinds.TokenizedDataset = info["tokenize"]
        s["tokens"] = {"train": t.train.tokens, "validation": t.validation.tokens}
    if "pretrain" in info:
        s["final_loss"] = info["pretrain"].final_loss
    if "evaluate" in info:
        e: kinds.EvalReport = info["evaluate"]
        s.update(kobest=e.headline, kobest_shots=e.shots[0], perplexity=e.validation_perplexity)
    if "register" in info:
        r: kinds.RegisteredModel = info["register"]
        s.update(model_uri=r.model_uri, aliases=r.aliases, reason=r.reason,
                 generation=dataclasses.asdict(r.generation))
    return s


# stage -> its line of the reuse section, from its entry in `reuse`
_REUSE_TEXT = {
    "collect": lambda c: f"collect read {c['files_read']:,} files ({c['records_read']:,} records), reused "
                         f"{c['files_reused']:,} ({c['records_reused']:,} records); {c['core_seconds']:,.1f} core-s",
    "curate": lambda c: f"curate generation {c['generation']} ({c['base_reason']}): {c['raw_files_curated']:,} raw "
                        f"files curated, {c['records_curated']:,} documents kept from them, {c['records_reused']:,} "
                        f"from the base; {c['core_seconds']:,.1f} core-s",
    "train-tokenizer": lambda t: f"tokenizer {'taken from ' + t['reused_from'] if t['reused_from'] else 'trained'}; "
                                 f"{t['core_seconds']:,.1f} core-s",
    "tokenize": lambda t: f"tokenize made {t['segments_made']:,} segments ({t['tokens_made']:,} tokens), reused "
                          f"{t['segments_reused']:,} ({t['tokens_reused']:,} tokens); {t['core_seconds']:,.1f} core-s",
    "pretrain": lambda p: f"pretrain {'continued from ' + p['init_from'] if p['init_from'] else 'from scratch'}, "
                          f"{p['tokens_seen']:,} tokens",
}


def reuse_lines(r: dict) -> list[str]:
    """The summary's reuse section as text (also the model card's)."""
    return [f"reuse: {_REUSE_TEXT[stage](entry)}" for stage, entry in r.items() if stage in _REUSE_TEXT]


def kobest_table(kobest: dict) -> list[str]:
    if not kobest:
        return []
    head = "| task | macro-F1 | accuracy |"
    rows = [head, "|---|---|---|"]
    for t in TASKS:
        if t in kobest:
            r = kobest[t]
            rows.append(f"| {t} | {r.get('f1', float('nan')):.4f} | {r.get('acc', float('nan')):.4f} |")
    return rows


def print_summary(s: dict) -> None:
    out = ["", "=" * 72, "Polyglot-Ko pipeline: summary", "=" * 72]
    timings = s.get("timings", {})
    for name, info in s.get("stages", {}).items():
        secs, hit = timings.get(name, (info.get("seconds") or 0.0, False))
        taken = bool(s.get("reuse", {}).get(name, {}).get("reused_from"))     # an earlier run's artifact, as it is
        how = "taken" if taken else "cache hit" if hit else "ran"
        out.append(f"  {name:<16} {how:<10} {secs:7.1f}s  digest {info['digest']}")
    for line in reuse_lines(s.get("reuse", {})):
        out.append(line)
    if "records" in s:
        r = s["records"]
        out.append(f"records: {r['in']:,} in, {r['kept']:,} kept, dropped {r['dropped']}, quarantined {r['quarantined']}")
    if "tokens" in s:
        t = s["tokens"]
        out.append(f"tokens: train {t['train']:,}, validation {t['validation']:,}")
    if s.get("final_loss") is not None:
        out.append(f"final training loss: {s['final_loss']:.4f}")
    if s.get("perplexity") is not None:
        out.append(f"validation perplexity: {s['perplexity']:.2f}")
    if s.get("kobest"):
        out += [f"KoBEST ({s.get('kobest_shots', 0)}-shot; every shot count in the evaluate artifact's report.md):"]
        out += ["  " + r for r in kobest_table(s["kobest"])]
    if s.get("model_uri"):
        out.append(f"registered model: {s['model_uri']}  aliases: {', '.join(s.get('aliases') or []) or '-'}")
        if s.get("reason"):
            out.append(f"promotion gate: {s['reason']}")
    if s.get("generation"):
        g = s["generation"]
        out.append(f"generated by the registered model: {g['prompt']!r} -> {g['text']!r}")
    if s.get("tracking_uri"):
        out.append(f"MLflow: {s['tracking_uri']}  (parent run {s.get('parent_run_id')})")
    if s.get("ui_url"):
        local = not s.get("tracking_uri", "").startswith("http")
        out.append(f"MLflow UI: {s['ui_url']}" + ("  (after `make mlflow-ui`)" if local else ""))
    out.append("=" * 72)
    print("\n".join(out), flush=True)
