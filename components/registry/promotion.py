"""The model registry's rules: the promotion gate, and promote / rollback for people, with one record format.

Every decision is written on the model version it concerns: `promotion.decision` (champion, challenger,
not_compared, rolled_back), `promotion.reason`, `promotion.by`, `promotion.at`, and on a new champion
`promotion.previous_champion`, which is what `rollback` follows. The scores the gate compares are the version's
`eval.*` tags, so a gate decision can be re-checked from the registry alone.

The gate compares only a candidate whose corpus was decontaminated against every task it is scored on: a model
that saw the test items would win on them. Such a version is registered without an alias (`not_compared`); a
person can still promote it.
"""
from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone

from ..contract.config import KOBEST_TASKS
from ..errors import UserError

CHAMPION, CHALLENGER = "champion", "challenger"
NOT_COMPARED = "not_compared"       # a decision, not an alias


@dataclass
class Scores:
    score: float
    tasks: dict[str, float] = field(default_factory=dict)   # per-task macro-F1 at the gate's shot count


def eval_tags(metrics: dict, score_name: str, shots: int) -> dict[str, str]:
    """Tags for a model version from an evaluation's numbers (an EvalReport's description, as a dict)."""
    key = str(shots)
    if key not in metrics["kobest"]:
        raise UserError(f"register.score_shots: {shots} was not evaluated (evaluate.shots: {metrics['shots']})")
    if score_name not in metrics["scores"][key]:
        raise UserError(f"register.score: {score_name!r} is not one of {sorted(metrics['scores'][key])}")
    tags = {"eval.score_name": score_name, "eval.score_shots": key,
            "eval.score": f"{metrics['scores'][key][score_name]:.6f}"}
    for s, tasks in metrics["kobest"].items():
        for t, r in tasks.items():
            tags[f"eval.kobest.{s}shot.{t}.f1"] = f"{r['f1']:.6f}"
    if metrics.get("validation_perplexity") is not None:
        tags["eval.validation_perplexity"] = f"{metrics['validation_perplexity']:.4f}"
    return tags


def kobest_f1_from_tags(tags: dict[str, str]) -> dict[str, dict[str, float]]:
    """A version's KoBEST macro-F1 at every shot count it was scored at, from its `eval.kobest.*` tags:
    shots -> task -> value."""
    out: dict[str, dict[str, float]] = {}
    for k, v in tags.items():
        if k.startswith("eval.kobest.") and k.endswith(".f1"):
            shots, task = k[len("eval.kobest."):-len(".f1")].split(".", 1)
            out.setdefault(shots.removesuffix("shot"), {})[task] = float(v)
    return out


def scores_from_tags(tags: dict[str, str], score_name: str, shots: int) -> Scores | None:
    """A version's scores as the gate sees them; None if it was not scored the same way."""
    if tags.get("eval.score_name") != score_name or tags.get("eval.score_shots") != str(shots):
        return None
    return Scores(float(tags["eval.score"]), kobest_f1_from_tags(tags).get(str(shots), {}))


def decontaminated_tasks(corpora: list) -> list[str]:
    """The scored tasks every corpus behind a model was cleaned of (its test split indexed, items in the index);
    `corpora`: (what, Decontamination or None), as register.training_corpora gives them."""
    sets = [{t for t in d.tasks if "test" in d.splits and d.items.get(t, 0) > 0} if d else set() for _, d in corpora]
    common = set.intersection(*sets) if sets else set()
    return [t for t in KOBEST_TASKS if t in common]


def contamination_problem(corpora: list, scored: list[str], scored_files: dict[str, str] | None = None) -> str | None:
    """Why the gate may not compare a candidate scored on `scored`, or None when it may: every corpus behind the
    model must have been decontaminated against every scored task's test split, from the very files evaluate scored
    (`scored_files`: evaluate's `kobest_files`, name -> sha256; None when it read the hub's copy)."""
    from ..evaluation.kobest_data import split_file
    for what, d in corpora:
        if d is None:
            return f"{what} records no decontamination: the gate does not compare it (`polyglot-ko promote` can)"
        missing = [t for t in scored if t not in d.tasks or d.items.get(t, 0) == 0]
        if "test" not in d.splits:
            missing = scored
        if missing:
            return (f"{what} was not decontaminated against {', '.join(missing)} (test split), which it is scored "
                    "on: the gate does not compare it (`polyglot-ko promote` can, by hand)")
        tested = [split_file(t, "test") for t in scored]
        other = [f for f in tested if scored_files and f in scored_files and d.files.get(f) != scored_files[f]]
        if other:
            return (f"{what} was cleaned of other KoBEST files than the evaluation scored ({', '.join(other)}): the "
                    "gate does not compare it (`polyglot-ko promote` can)")
    return None


def decide(candidate: Scores, champion: Scores | None, margin: float, tolerance: float,
           score_name: str = "score") -> tuple[str, str]:
    """(alias, reason). The candidate becomes champion only if it beats the champion's score by more than
    `margin` and no task's macro-F1 falls by more than `tolerance`; a tie is not a win."""
    if champion is None:
        return CHAMPION, "no current champion"
    gain = candidate.score - champion.score
    if gain <= margin:
        return CHALLENGER, (f"{score_name} {candidate.score:.4f} does not beat the champion's {champion.score:.4f} "
                            f"by more than {margin}")
    for task, f1 in sorted(champion.tasks.items()):
        drop = f1 - candidate.tasks.get(task, 0.0)
        if drop > tolerance:
            return CHALLENGER, f"{task} macro-F1 falls by {drop:.4f} (more than the tolerance {tolerance})"
    return CHAMPION, f"{score_name} {candidate.score:.4f} beats the champion's {champion.score:.4f} by {gain:.4f}"


def gate(client, name: str, candidate: Scores, *, score_name: str, shots: int, margin: float, tolerance: float,
         corpora: list, scored: list[str], scored_files: dict[str, str] | None = None) -> tuple[str, str]:
    """The register stage's decision for a new version: (alias or NOT_COMPARED, reason). `corpora`: every corpus
    behind the candidate with its decontamination record (register.training_corpora); `scored_files`: the KoBEST
    files evaluate scored, with their digests."""
    refused = contamination_problem(corpora, scored, scored_files)
    if refused:
        return NOT_COMPARED, refused
    champ_v = current(client, name)
    if champ_v is None:
        return CHAMPION, "no current champion"
    champion = scores_from_tags(champ_v.tags, score_name, shots)
    if champion is None:
        return CHALLENGER, (f"champion version {champ_v.version} was not scored by {score_name} at {shots} shots; "
                            "compare by hand and use `polyglot-ko promote`")
    kept = [t for t in scored if t not in champ_v.tags.get("decontamination.tasks", "").split(",")]
    if kept:        # its scores on those tasks may be inflated: not a fair bar
        return CHALLENGER, (f"champion version {champ_v.version} was trained on a corpus not decontaminated "
                            f"against {', '.join(kept)}; compare by hand and use `polyglot-ko promote`")
    alias, reason = decide(candidate, champion, margin, tolerance, f"{score_name}@{shots}shot")
    return alias, f"{reason} (champion: version {champ_v.version})"


def current(client, name: str, alias: str = CHAMPION):
    """The model version holding `alias`, or None when the model or the alias does not exist. Any other error
    (the registry unreachable, no permission) is raised: a scheduled run must not take it for "no champion" and
    start from scratch."""
    from mlflow.exceptions import MlflowException
    try:
        # the model first: under MLflow's basic auth a non-admin asking for an alias of a model that does not
        # exist yet (a cluster's first run) gets 403 Permission denied, not "not found"
        client.get_registered_model(name)
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as e:
        # MLflow says RESOURCE_DOES_NOT_EXIST for a missing model, INVALID_PARAMETER_VALUE for a missing alias
        if e.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise


def _record(client, name: str, version: str, decision: str, reason: str, by: str) -> None:
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    for k, v in {"promotion.decision": decision, "promotion.reason": reason, "promotion.by": by,
                 "promotion.at": stamp}.items():
        client.set_model_version_tag(name, version, k, v)


def apply(client, name: str, version: str, alias: str, reason: str, by: str = "pipeline") -> None:
    """Give `version` the alias the gate (or a person) chose, and record why."""
    if alias == CHAMPION:
        old = current(client, name)
        if old is not None and str(old.version) != str(version):
            client.set_model_version_tag(name, version, "promotion.previous_champion", str(old.version))
        client.set_registered_model_alias(name, CHAMPION, version)
        challenger = current(client, name, CHALLENGER)
        if challenger is not None and str(challenger.version) == str(version):
            client.delete_registered_model_alias(name, CHALLENGER)
    elif alias != NOT_COMPARED:
        client.set_registered_model_alias(name, alias, version)
    _record(client, name, str(version), alias, reason, by)


def _who() -> str:
    try:
        return os.environ.get("POLYGLOT_KO_USER") or getpass.getuser()
    except Exception:
        return "unknown"


def promote(client, name: str, version: str, reason: str | None = None) -> str:
    """A person makes VERSION the champion, whatever the gate said."""
    from mlflow.exceptions import MlflowException
    try:
        client.get_model_version(name, str(version))
    except MlflowException:
        raise UserError(f"promote: no version {version} of registered model {name!r}") from None
    old = current(client, name)
    if old is not None and str(old.version) == str(version):
        raise UserError(f"promote: version {version} of {name} is already the champion")
    why = reason or f"promoted by hand (was: {f'version {old.version}' if old else 'no champion'})"
    apply(client, name, str(version), CHAMPION, why, by=_who())
    return why


def rollback(client, name: str, reason: str | None = None) -> tuple[str, str]:
    """Give `champion` back to the version that held it before the current one. Returns (from, to)."""
    champ = current(client, name)
    if champ is None:
        raise UserError(f"rollback: {name!r} has no champion")
    previous = champ.tags.get("promotion.previous_champion")
    if not previous:
        raise UserError(f"rollback: version {champ.version} of {name} records no previous champion")
    by = _who()
    why = reason or f"rolled back from version {champ.version} by hand"
    client.set_registered_model_alias(name, CHAMPION, previous)
    _record(client, name, previous, CHAMPION, why, by)
    _record(client, name, str(champ.version), "rolled_back", f"champion given back to version {previous}", by)
    return str(champ.version), previous
