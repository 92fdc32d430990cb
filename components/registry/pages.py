"""What the model registry shows: the registered model's description, each version's description (a summary
written for that page, within MLflow's limit) and, when a champion exists, the comparison report of the new version
against it (per-task deltas, and what changed in the data: a data-card diff).

The full model card stays an artifact of the register run (README.md); tags stay, for machines.
"""
from __future__ import annotations

from ..contract import kinds
from ..contract.config import KOBEST_TASKS
from ..contract.manifest import read_manifest
from ..contract.pages import run_link
from ..errors import StageFailed
from .promotion import kobest_f1_from_tags

LIMIT = 5000          # MLflow keeps at most 5,000 characters of a registered model's or a version's description
DATA_STAGES = ("collect", "curate", "train-tokenizer", "tokenize", "pretrain")    # what a data-card diff reads

MODEL_DESCRIPTION = """\
**{name}**: Korean GPT-NeoX causal language models (the Polyglot-Ko family: byte-level BPE with morpheme \
boundaries, 30,003 tokens in the published configs) trained by the Polyglot-Ko pipeline; one version per \
registered training run.

**Promotion.** The register stage scores a new version on KoBEST and gates it against the version holding the \
`champion` alias: it becomes champion only if {score} at the gate's shot count beats the champion's by more \
than the margin and no task's macro-F1 falls by more than the tolerance; otherwise it gets `challenger`. A \
version whose corpus was not decontaminated against every scored task is not compared (no alias). The decision, \
its reason, who made it and when are the version's `promotion.*` tags; its description starts with them.

**Use.** `mlflow.transformers.load_model("models:/{name}@champion")`.

**By hand.** `polyglot-ko promote {name} VERSION` makes a version champion whatever the gate said; \
`polyglot-ko rollback {name}` gives `champion` back to the version that held it before (its \
`promotion.previous_champion` tag). Scheduled retraining continues from the champion's corpus, tokenizer and \
weights.
"""


def model_description(name: str, score: str) -> str:
    return MODEL_DESCRIPTION.format(name=name, score=f"`{score}`")


def _mean(scores: dict[str, float]) -> float | None:
    return sum(scores.values()) / len(scores) if scores else None


def _num(v, digits: int = 4) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _delta(new, old) -> str:
    if new is None or old is None:
        return "-"
    d = round(new - old, 4)
    return f"{d + 0.0:+.4f}"          # + 0.0: no "-0.0000" for a difference that rounds to nothing


def kobest_tables(candidate: dict[str, dict[str, float]], champion: dict[str, dict[str, float]] | None,
                  champion_version: str | None, label: str = "champion") -> list[str]:
    """One table per shot count: macro-F1 per task, the champion's beside it and the difference."""
    out = []
    for shots in sorted(candidate, key=int):
        new, old = candidate[shots], (champion or {}).get(shots)
        tasks = [t for t in KOBEST_TASKS if t in new]
        if old:
            out += [f"**KoBEST macro-F1, {shots}-shot**", "",
                    f"| task | this version | {label} (v{champion_version}) | Δ |", "|---|---|---|---|"]
            out += [f"| {t} | {_num(new[t])} | {_num(old.get(t))} | {_delta(new[t], old.get(t))} |" for t in tasks]
            out.append(f"| **mean** | **{_num(_mean(new))}** | {_num(_mean(old))} | {_delta(_mean(new), _mean(old))} |")
        else:
            why = "no champion" if champion is None else f"champion v{champion_version} not scored at {shots} shots"
            out += [f"**KoBEST macro-F1, {shots}-shot** ({why})", "", "| task | this version |", "|---|---|"]
            out += [f"| {t} | {_num(new[t])} |" for t in tasks]
            out.append(f"| **mean** | **{_num(_mean(new))}** |")
        out.append("")
    return out


def version_description(*, name: str, version: str, decision: str, reason: str, score_name: str,
                        candidate: dict[str, dict[str, float]], champion, lineage_map: dict, facts: dict,
                        experiment_id: str, compared: bool) -> str:
    """The version page's description. `champion`: the champion's ModelVersion when this one was registered (or
    None); `lineage_map`: stage -> kind, uri, digest, run_id; `facts`: data figures (data_facts)."""
    what = {"champion": "the new **champion**", "challenger": "a **challenger** (the champion stays)",
            "not_compared": "**not compared** by the gate (no alias)"}.get(decision, decision)
    # the versions table shows the first ~30 characters of this line: the decision first
    head = f"Gate: {decision} · {name} v{version}, preset {facts.get('preset', '?')}, " \
           f"{facts.get('tokens_seen', 0):,} tokens seen. It is {what}: {reason}."
    champ_scores = kobest_f1_from_tags(champion.tags) if champion is not None else None
    out = [head, ""]
    out += kobest_tables(candidate, champ_scores, champion.version if champion is not None else None,
                         "previous champion" if decision == "champion" else "champion")
    out.append(f"Gate score: `{score_name}`." + (" The comparison report (per-task deltas and a data-card diff) is "
                                                 "`comparison.md` in the register run's artifacts." if compared else ""))
    out += ["", "**Data and tokenizer**", "", "| stage | artifact | digest | run |", "|---|---|---|---|"]
    for stage in (*DATA_STAGES, "evaluate"):
        if stage in lineage_map:
            i = lineage_map[stage]
            link = run_link(experiment_id, i["run_id"], stage) if i["run_id"] else "-"
            out.append(f"| {stage} | {i['kind']} | `{i['digest'][:16]}` | {link} |")
    figures = [f"{k} {v}" for k, v in facts.get("lines", {}).items()]
    if figures:
        out += [""] + [f"- {line}" for line in figures]
    out += ["", "The full model card is `README.md` in the register run's artifacts (and the logged model's); "
                "`lineage.*`, `eval.*` and `promotion.*` tags hold the same facts for machines."]
    return fit(out)


def fit(lines: list[str], limit: int = LIMIT) -> str:
    """Join, keeping whole lines within MLflow's limit (a cut says so)."""
    text = "\n".join(lines)
    if len(text) <= limit:
        return text
    note = "\n\n(cut to MLflow's description limit: the model card artifact has everything)"
    kept, size = [], len(note)
    for line in lines:
        if size + len(line) + 1 > limit:
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join(kept) + note


# ------------------------------------------------------------------------------------- data-card facts


def data_facts(manifests: dict) -> dict:
    """The data figures a version page and a comparison show, from the typed descriptions of its upstream."""
    info = {stage: kinds.read(m) for stage, m in manifests.items() if stage in DATA_STAGES}
    out: dict = {"lines": {}}
    col, cur, tok, toks, pre = (info.get(s) for s in DATA_STAGES)
    if col is not None:
        out["sources"] = {n: s.records for n, s in col.sources.items()}
        out["lines"]["sources:"] = ", ".join(f"{n} {s.records:,} records ({s.license})" for n, s in col.sources.items())
    if cur is not None:
        out.update(records_in=cur.records_in, records_out=cur.records_out, dropped=dict(cur.dropped),
                   quarantined=dict(cur.quarantined))
        out["lines"]["curation:"] = (f"{cur.records_in:,} records in, {cur.records_out:,} kept, "
                                     f"{sum(cur.dropped.values()):,} dropped, {sum(cur.quarantined.values()):,} "
                                     "quarantined")
    if tok is not None:
        out["tokenizer"] = manifests["train-tokenizer"].digest
        out["lines"]["tokenizer:"] = (f"{tok.vocab_size:,} entries (padded {tok.padded_vocab:,}), "
                                      f"{tok.quality.tokens_per_char:.3f} tokens per character")
    if toks is not None:
        out.update(train_tokens=toks.train.tokens, validation_tokens=toks.validation.tokens)
        out["lines"]["tokens:"] = f"train {toks.train.tokens:,}, validation {toks.validation.tokens:,}"
    if pre is not None:
        out.update(preset=pre.preset, tokens_seen=pre.tokens_seen, final_loss=pre.final_loss, steps=pre.steps)
        out["lines"]["training:"] = (f"preset {pre.preset}, {pre.parameters:,} parameters, {pre.steps:,} steps, "
                                     f"final loss {pre.final_loss:.4f}")
    return out


def champion_facts(storage, champion) -> tuple[dict, list[str]]:
    """The champion's data facts from its lineage tags' URIs, and what could not be read (moved or deleted)."""
    manifests, missing = {}, []
    for stage in DATA_STAGES:
        uri = champion.tags.get(f"lineage.{stage}.uri")
        if not uri:
            continue
        try:
            m = read_manifest(storage, uri)
        except Exception:         # unreachable storage counts as unreadable here: the report says so
            m = None
        if m is None:
            missing.append(f"{stage} ({uri})")
        else:
            manifests[stage] = m
    try:
        return data_facts(manifests), missing
    except StageFailed as e:       # written by another version of the pipeline
        return {"lines": {}}, missing + [str(e)]


def _rows(new: dict, old: dict, keys) -> list[str]:
    rows = []
    for k in keys:
        a, b = old.get(k), new.get(k)
        diff = "-" if a is None or b is None else f"{b - a:+,}"
        rows.append(f"| {k} | {'-' if a is None else f'{a:,}'} | {'-' if b is None else f'{b:,}'} | {diff} |")
    return rows


def comparison(*, name: str, version: str, decision: str, reason: str, candidate: dict[str, dict[str, float]],
               champion, facts: dict, champion_data: dict, unreadable: list[str]) -> tuple[str, dict]:
    """The comparison report of a new version against the champion: (markdown, the same as data)."""
    champ_scores = kobest_f1_from_tags(champion.tags)
    deltas = {s: {t: candidate[s][t] - champ_scores[s][t] for t in candidate[s] if t in champ_scores.get(s, {})}
              for s in candidate if s in champ_scores}
    out = [f"# {name} v{version} against the champion v{champion.version}", "",
           f"Gate decision: **{decision}**: {reason}.", ""]
    out += kobest_tables(candidate, champ_scores, champion.version)
    out += ["## What changed in the data", ""]
    if unreadable:
        out += [f"The champion's artifacts that could not be read: {', '.join(unreadable)}.", ""]
    head = [f"| | champion v{champion.version} | v{version} | Δ |", "|---|---|---|---|"]
    sources = sorted(set(facts.get("sources", {})) | set(champion_data.get("sources", {})))
    if sources:
        out += ["Records collected, by source:", ""] + head
        out += _rows(facts.get("sources", {}), champion_data.get("sources", {}), sources) + [""]
    out += ["Curation:", ""] + head + _rows(facts, champion_data, ("records_in", "records_out"))
    for what in ("dropped", "quarantined"):          # by reason, the reasons of both
        new, old = ({f"{what}: {k}": v for k, v in d.get(what, {}).items()} for d in (facts, champion_data))
        out += _rows(new, old, sorted(set(new) | set(old)))
    out += ["", "Tokens and training:", ""] + head
    out += _rows(facts, champion_data, ("train_tokens", "validation_tokens", "steps", "tokens_seen"))
    theirs = champion_data.get("tokenizer") or champion.tags.get("lineage.train-tokenizer.digest")
    same = "unknown" if not theirs else "the same" if facts.get("tokenizer") == theirs else "different"
    out += ["", f"Tokenizer: {same} (`{str(facts.get('tokenizer'))[:16]}` against the champion's "
                f"`{str(theirs)[:16]}`)."]
    data = {"model": name, "version": version, "champion_version": str(champion.version), "decision": decision,
            "reason": reason, "kobest_f1": candidate, "champion_kobest_f1": champ_scores, "kobest_f1_delta": deltas,
            "data": {k: v for k, v in facts.items() if k != "lines"},
            "champion_data": {k: v for k, v in champion_data.items() if k != "lines"}, "unreadable": unreadable}
    return "\n".join(out) + "\n", data
