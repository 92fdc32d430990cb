"""The promotion gate and `polyglot-ko promote / rollback`, against a real MLflow model registry (SQLite)."""
import pytest
from mlflow import MlflowClient

from components.registry import promotion as registry
from components.cli import main
from components.contract.kinds import Decontamination
from components.registry.promotion import Scores, decide

TASKS = {"boolq": 0.5, "copa": 0.6, "hellaswag": 0.4, "sentineg": 0.7, "wic": 0.35}


def _scores(delta: float = 0.0, **task_delta) -> Scores:
    tasks = {t: v + delta + task_delta.get(t, 0.0) for t, v in TASKS.items()}
    return Scores(sum(tasks.values()) / len(tasks), tasks)


def test_a_worse_model_does_not_take_champion_and_a_better_one_does():
    assert decide(_scores(-0.02), _scores(), margin=0.0, tolerance=0.05)[0] == "challenger"
    alias, reason = decide(_scores(+0.02), _scores(), margin=0.0, tolerance=0.05, score_name="f1@5shot")
    assert alias == "champion" and "f1@5shot" in reason and "by 0.0200" in reason
    assert decide(_scores(), None, 0.0, 0.05) == ("champion", "no current champion")


def test_ties_and_margins():
    assert decide(_scores(), _scores(), 0.0, 0.05)[0] == "challenger", "a tie is not a win"
    assert decide(_scores(+0.01), _scores(), 0.02, 0.05)[0] == "challenger", "within the margin"
    assert decide(_scores(+0.03), _scores(), 0.02, 0.05)[0] == "champion"


def test_no_task_may_fall_more_than_the_tolerance():
    better_but_wic_collapses = _scores(+0.05, wic=-0.2)
    assert better_but_wic_collapses.score > _scores().score
    alias, reason = decide(better_but_wic_collapses, _scores(), 0.0, 0.05)
    assert alias == "challenger" and reason.startswith("wic macro-F1 falls by 0.1500")
    assert decide(_scores(+0.05, wic=-0.09), _scores(), 0.0, 0.05)[0] == "champion", "a 0.04 drop is tolerated"


def _metrics(delta: float) -> dict:
    s = _scores(delta)
    kobest = {"5": {t: {"f1": v, "acc": v} for t, v in s.tasks.items()}}
    return {"kobest": kobest, "shots": [5], "validation_perplexity": 100.0,
            "scores": {"5": {"kobest_macro_f1_mean": s.score, "kobest_acc_mean": s.score}}}


@pytest.fixture
def registry_uri(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)      # what the CLI reads
    return uri


def _cleaned_of(tasks) -> list:
    """The corpora behind a model as register.training_corpora gives them: one corpus cleaned of `tasks`."""
    if tasks is None:
        return [("its corpus", None)]
    return [("its corpus", Decontamination(tasks=list(tasks), splits=["test"], items_digest="x",
                                           items={t: 10 for t in tasks}, unmatchable={}, weak={}, documents={},
                                           files={"BoolQ/test.tsv": "a" * 16},
                                           items_found={}, per_source={}))]


def _register(client: MlflowClient, name: str, delta: float, tmp_path, decontaminated=tuple(TASKS)) -> str:
    """A model version scored like the pipeline scores one, gated like the register stage gates it."""
    src = tmp_path / f"model-{delta}"
    src.mkdir(exist_ok=True)
    try:
        client.create_registered_model(name)
    except Exception:
        pass
    mv = client.create_model_version(name, str(src))
    tags = registry.eval_tags(_metrics(delta), "kobest_macro_f1_mean", 5)
    corpora = _cleaned_of(decontaminated)
    tags["decontamination.tasks"] = ",".join(registry.decontaminated_tasks(corpora)) or "none"
    for k, v in tags.items():
        client.set_model_version_tag(name, mv.version, k, v)
    candidate = registry.scores_from_tags(tags, "kobest_macro_f1_mean", 5)
    alias, reason = registry.gate(client, name, candidate, score_name="kobest_macro_f1_mean", shots=5, margin=0.0,
                                  tolerance=0.05, corpora=corpora, scored=sorted(TASKS))
    registry.apply(client, name, str(mv.version), alias, reason)
    return str(mv.version)


def test_gate_promote_and_rollback_in_a_real_registry(registry_uri, tmp_path, capsys):
    client = MlflowClient(registry_uri, registry_uri)
    v1 = _register(client, "m", 0.0, tmp_path)
    v2 = _register(client, "m", -0.03, tmp_path)          # worse: challenger
    v3 = _register(client, "m", +0.04, tmp_path)          # better: champion
    assert str(registry.current(client, "m").version) == v3
    assert client.get_model_version("m", v2).tags["promotion.decision"] == "challenger"
    assert "does not beat" in client.get_model_version("m", v2).tags["promotion.reason"]
    assert client.get_model_version("m", v3).tags["promotion.previous_champion"] == v1

    # a person promotes the challenger anyway; the record says who and what was replaced
    assert main(["promote", "m", v2, "--reason", "preferred by the language team"]) == 0
    mv2 = client.get_model_version("m", v2)
    assert str(registry.current(client, "m").version) == v2
    assert mv2.tags["promotion.decision"] == "champion" and mv2.tags["promotion.reason"] == \
        "preferred by the language team"
    assert mv2.tags["promotion.previous_champion"] == v3 and mv2.tags["promotion.by"]
    assert registry.current(client, "m", "challenger") is None, "the challenger alias moved to champion"

    # rollback walks back the chain of champions, recording both sides
    assert main(["rollback", "m"]) == 0
    assert str(registry.current(client, "m").version) == v3
    assert client.get_model_version("m", v2).tags["promotion.decision"] == "rolled_back"
    assert main(["rollback", "m"]) == 0
    assert str(registry.current(client, "m").version) == v1
    assert main(["rollback", "m"]) == 2, "v1 had no predecessor"
    err = capsys.readouterr().err
    assert "records no previous champion" in err
    assert main(["promote", "m", "99"]) == 2 and "no version 99" in capsys.readouterr().err
    assert main(["promote", "m", v1]) == 2 and "already the champion" in capsys.readouterr().err


def test_versions_scored_differently_are_not_compared(registry_uri, tmp_path):
    client = MlflowClient(registry_uri, registry_uri)
    _register(client, "n", 0.0, tmp_path)
    champ = registry.current(client, "n")
    assert registry.scores_from_tags(champ.tags, "kobest_macro_f1_mean", 0) is None, "scored at 5 shots, not 0"
    assert registry.scores_from_tags(champ.tags, "kobest_acc_mean", 5) is None
    with pytest.raises(Exception, match="score_shots: 10 was not evaluated"):
        registry.eval_tags(_metrics(0.0), "kobest_macro_f1_mean", 10)


def test_the_gate_does_not_compare_a_model_whose_corpus_kept_its_test_items(registry_uri, tmp_path):
    client = MlflowClient(registry_uri, registry_uri)
    v1 = _register(client, "m", 0.0, tmp_path)
    # far better, but its corpus was cleaned of four of the five tasks it is scored on
    v2 = _register(client, "m", +0.2, tmp_path, decontaminated=["boolq", "copa", "hellaswag", "sentineg"])
    mv2 = client.get_model_version("m", v2)
    assert mv2.tags["promotion.decision"] == "not_compared"
    assert "not decontaminated against wic" in mv2.tags["promotion.reason"]
    assert str(registry.current(client, "m").version) == v1
    assert registry.current(client, "m", "challenger") is None, "not compared: no alias at all"
    v3 = _register(client, "m", +0.2, tmp_path, decontaminated=None)     # a corpus from before decontamination
    assert "records no decontamination" in client.get_model_version("m", v3).tags["promotion.reason"]
    v4 = _register(client, "m", +0.2, tmp_path)
    assert str(registry.current(client, "m").version) == v4
    # a champion whose own corpus kept test items is no fair bar: promoted by hand, it stops the gate
    assert main(["promote", "m", v2]) == 0
    v5 = _register(client, "m", +0.3, tmp_path)
    mv5 = client.get_model_version("m", v5)
    assert mv5.tags["promotion.decision"] == "challenger" and "not decontaminated against wic" in mv5.tags[
        "promotion.reason"]


def test_every_corpus_behind_a_model_must_be_clean_of_the_scored_tasks():
    clean, partial = _cleaned_of(TASKS)[0][1], _cleaned_of(["boolq"])[0][1]
    assert registry.contamination_problem([("its corpus", clean)], sorted(TASKS)) is None
    problem = registry.contamination_problem([("its corpus", clean), ("blended dataset s3://b", partial)],
                                             sorted(TASKS))
    assert problem.startswith("blended dataset s3://b was not decontaminated against copa, hellaswag")
    assert registry.decontaminated_tasks([("a", clean), ("b", partial)]) == ["boolq"]
    dev_only = Decontamination(**{**clean.__dict__, "splits": ["validation"]})
    assert "test split" in registry.contamination_problem([("its corpus", dev_only)], ["boolq"])
    nothing = Decontamination(**{**clean.__dict__, "items": {}})      # settings that index no item
    assert "not decontaminated against boolq" in registry.contamination_problem([("its corpus", nothing)], ["boolq"])
    assert "records no decontamination" in registry.contamination_problem(
        [("its corpus", clean), ("the weights it continued from (EleutherAI/polyglot-ko-1.3b)", None)], ["boolq"])
    # scored on other files than the corpus was cleaned of (another kobest_dir); the hub's copy has no digests
    assert "other KoBEST files than the evaluation scored (BoolQ/test.tsv)" in registry.contamination_problem(
        [("its corpus", clean)], ["boolq"], {"BoolQ/test.tsv": "b" * 16})
    assert registry.contamination_problem([("its corpus", clean)], ["boolq"], {"BoolQ/test.tsv": "a" * 16}) is None
    assert registry.contamination_problem([("its corpus", clean)], ["boolq"], None) is None
