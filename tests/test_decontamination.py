"""Decontamination: KoBEST test items planted in a corpus are dropped as contaminated, clean text is kept, the
counts reach the artifact, the data card and the gate; and the matcher's recall and precision on a sample."""
import json
import random
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from components.contract.config import KOBEST_TASKS, DecontaminateConfig, config_from_dict
from components.contract.execution import check_accounting
from components.contract.kinds import read as read_kind
from components.corpus.decontam import index_for, normalise
from components.corpus.decontam_eval import _disturb, evaluate
from components.errors import UserError
from components.evaluation.kobest_data import load_split
from components.registry.promotion import contamination_problem, decontaminated_tasks
from components.stages.register import training_corpora
from tests.support.stages import write_jsonl

KOBEST = Path("data/kobest/v1.0")


@pytest.fixture(scope="module")
def index():
    return index_for(DecontaminateConfig())


def test_the_index_covers_every_scored_task_and_counts_what_it_cannot_match(index):
    assert sorted(index.indexed) == sorted(KOBEST_TASKS)
    total = {t: len(load_split(KOBEST, t, "test")) for t in KOBEST_TASKS}
    assert all(index.indexed[t] + index.unmatchable.get(t, 0) == total[t] for t in KOBEST_TASKS)
    # SentiNeg's test sentences are short reviews: the ones under 8 letters are counted, not indexed
    assert 0 < index.unmatchable["sentineg"] < total["sentineg"] / 4
    assert index.indexed["boolq"] == total["boolq"]


def test_normalising_removes_what_spacing_and_punctuation_change():
    assert normalise("할 수 있다.\n그렇다!") == normalise("할수 있다 그렇다") == "할수있다그렇다"
    assert normalise("ＡＢＣ 1２3") == "abc123"


def test_a_test_item_is_found_however_it_is_written(index):
    row = load_split(KOBEST, "copa", "test")[7]
    item = f"{row['premise']} {row['alternative_1']} {row['alternative_2']}"
    for text in (item, f"오늘의 일기.\n{item}\n끝.", _disturb(random.Random(1), item),
                 "\n".join([row["premise"], row["alternative_2"], row["alternative_1"]])):
        assert [(it.task, it.key) for it in index.find(text)] == [("copa", "test:7")], text
    assert index.find(row["premise"]) == [], "one short sentence of an item is not the item"


def test_recall_and_precision_on_planted_and_clean_documents(index):
    r = evaluate(index, KOBEST, clean_docs=300, limit=40, seed=7)
    for task, variants in r["tasks"].items():
        for variant in ("whole", "inside", "spacing"):
            v = variants[variant]      # every strong item, however written; a weak one only among its own
            assert v["planted"] and v["found"] >= v["planted"] - v["weak"], (task, variant, v)
        assert variants["dump"]["found"] >= 0.95 * variants["dump"]["planted"], (task, variants["dump"])
        if variants["passage"]["planted"]:
            assert variants["passage"]["found"] == variants["passage"]["planted"], (task, variants["passage"])
    # one syllable in 40 edited: long items survive (measured on every item: boolq 0.99, hellaswag 0.98)
    assert r["tasks"]["boolq"]["edited"]["found"] >= 0.9 * r["tasks"]["boolq"]["edited"]["planted"]
    assert r["clean"]["corpus"]["flagged"] == 0
    assert r["false_positive_rate"] < 0.01 and r["precision"] > 0.98, r


def _corpus(tmp_path: Path, index) -> tuple[dict, dict]:
    """A wiki source and a web source with KoBEST test items planted in four ways, and clean text beside them."""
    boolq, copa = load_split(KOBEST, "boolq", "test"), load_split(KOBEST, "copa", "test")
    senti, wic = load_split(KOBEST, "sentineg", "test"), load_split(KOBEST, "wic", "test")
    # three SentiNeg reviews long enough to match (8+ letters) yet weak (under 20): they count only together
    weak = [i for i, r in enumerate(senti) if 8 <= len(normalise(r["sentence"])) < 20][:3]
    # a train passage on another subject that holds no test item (some train passages repeat test ones)
    clean_wiki = next(r["paragraph"] for r in load_split(KOBEST, "boolq", "train") if not index.find(r["paragraph"]))
    reviews = ["배우들 연기가 정말 좋았고 음악도 훌륭했습니다.", "두 번 보니 더 재밌네요 강추합니다",
               "스토리가 좀 뻔하지만 가족이랑 보기 좋아요", "감독의 전작보다 훨씬 나아진 느낌입니다"]
    planted = {
        "boolq": f"{boolq[3]['paragraph']}\n\n같이 보기\n각주",                        # the Wikipedia page itself
        "copa": _disturb(random.Random(3), " / ".join([copa[11]["premise"], copa[11]["alternative_1"],
                                                       copa[11]["alternative_2"]])),   # a dump, respaced
        "sentineg": "\n".join(reviews[:2] + [senti[i]["sentence"] for i in weak] + reviews[2:]),   # a page of them
        "wic": f"[예문] {wic[5]['context_1']}\n[예문] {wic[5]['context_2']}\n출처: 사전",
    }
    keys = {"boolq": ["test:3"], "copa": ["test:11"], "sentineg": [f"test:{i}" for i in weak], "wic": ["test:5"]}
    rows = [{"id": "wiki-contaminated", "text": planted["boolq"]}, {"id": "wiki-clean", "text": clean_wiki}]
    write_jsonl(tmp_path / "src" / "wiki.jsonl", rows)
    rows = [{"id": f"web-{t}", "text": planted[t]} for t in ("copa", "sentineg", "wic")]
    rows += [{"id": f"web-clean-{i}", "text": f"{r} 영화 후기 {i}번째입니다."} for i, r in enumerate(reviews)]
    # one short test review among others is a phrase, not the test set: kept
    rows += [{"id": "web-one-review", "text": "\n".join(reviews[:2] + [senti[weak[0]]["sentence"]])}]
    write_jsonl(tmp_path / "src" / "web.jsonl", rows)
    sources = [{"name": n, "uri": str(tmp_path / "src" / f"{n}.jsonl"), "id_field": "id"} for n in ("wiki", "web")]
    cfg = {"collect": {"world_size": 2, "sources": sources}, "curate": {"world_size": 2, "near_dedup": False}}
    return cfg, keys


def test_curate_drops_planted_kobest_items_and_keeps_clean_text(stages, tmp_path, index):
    cfg, keys = _corpus(tmp_path, index)
    cur = stages.upto(cfg, "curate")["curate"]
    s = cur.stats
    check_accounting("curate", s)
    assert s["dropped"] == {"contaminated": 4}, s["dropped"]
    d = read_kind(cur).decontamination
    assert d.tasks == list(KOBEST_TASKS) and d.splits == ["test"] and d.items_digest
    assert d.documents == {"boolq": 1, "copa": 1, "sentineg": 1, "wic": 1}
    assert d.per_source == {"wiki": {"boolq": 1}, "web": {"copa": 1, "sentineg": 1, "wic": 1}}
    assert d.items_found == {t: len(k) for t, k in keys.items()} and d.items == index.indexed
    assert d.weak["sentineg"] > 300 and d.unmatchable == index.unmatchable
    # the files read, digested as evaluate digests the ones it scores
    from components.stages.evaluate import params as evaluate_params
    from components.contract.config import EvaluateConfig
    scored = evaluate_params(EvaluateConfig())["kobest_files"]
    assert len(d.files) == 5 and all(scored[name] == digest for name, digest in d.files.items())
    assert s["per_source"]["web"]["dropped"] == {"contaminated": 3}
    found = json.loads((Path(cur.uri) / "contamination.json").read_text())
    assert found == {t: {k: 1 for k in ks} for t, ks in keys.items()}
    card = (Path(cur.uri) / "data_card.md").read_text()
    assert "Decontaminated against KoBEST boolq, copa, hellaswag, sentineg, wic" in card and "| wiki | 1 |" in card
    kept = [r for f in cur.files if f.name.startswith("data/")
            for r in pq.read_table(Path(cur.uri) / f.name).to_pylist()]
    assert sorted(r["id"] for r in kept) == ["web/web-clean-0", "web/web-clean-1", "web/web-clean-2",
                                             "web/web-clean-3", "web/web-one-review", "wiki/wiki-clean"]
    # every kept record carries its language and score
    metas = [json.loads(r["meta"]) for r in kept]
    assert all(m["lang"] == "ko" and 0.5 <= m["lang_score"] <= 1.0 for m in metas), metas
    # what the register stage reads to gate the model
    assert decontaminated_tasks(training_corpora(None, {"curate": cur})) == list(KOBEST_TASKS)


def test_without_the_step_the_corpus_says_so_and_the_gate_will_refuse(stages, tmp_path, index):
    from components.contract.config import CurateConfig
    cfg, _ = _corpus(tmp_path, index)
    cfg["curate"]["steps"] = [s for s in CurateConfig().steps if s != "decontaminate"]
    cur = stages.upto(cfg, "curate")["curate"]
    assert "contaminated" not in cur.stats["dropped"]
    assert read_kind(cur).decontamination.tasks == []
    assert "Decontamination: off" in (Path(cur.uri) / "data_card.md").read_text()
    assert "its corpus was not decontaminated against boolq, copa" in contamination_problem(
        training_corpora(None, {"curate": cur}), list(KOBEST_TASKS))


def test_scoring_a_task_the_corpus_keeps_is_a_config_error():
    with pytest.raises(UserError, match="evaluate.tasks scores wic, which curate.decontaminate.tasks does not"):
        config_from_dict({"curate": {"decontaminate": {"tasks": ["boolq", "copa", "hellaswag", "sentineg"]}}})
    # turning the step off is allowed (the gate then does not compare the model)
    config_from_dict({"curate": {"steps": ["empty"], "decontaminate": {"tasks": ["boolq"]}}})


@pytest.mark.parametrize("setting, message", [
    ({"splits": ["validation"]}, "splits must include test"),
    ({"coverage": 3.0}, "coverage 3.0"),
    ({"gram": 0}, "gram 0"),
    ({"min_item": 1000}, "min_item 1000"),
])
def test_settings_that_cannot_clean_the_scored_split_are_refused(setting, message):
    with pytest.raises(UserError, match=message):
        config_from_dict({"curate": {"decontaminate": setting}})


def test_a_preset_must_be_a_name():
    with pytest.raises(UserError, match="curate.preset"):
        config_from_dict({"curate": {"preset": ["fineweb2-kor"]}})
