"""Scheduled retraining that reuses the champion's work: a run, one new source file, a run again. The second run
collects only the new file, curates only it (deduplicating it against what was kept), takes the champion's
tokenizer, tokenizes only the new segment, continues from the champion's weights, and the gate compares it with
the champion; the summary, the parent run and the model card say so."""
import json
from pathlib import Path

import pytest

REUSE = ["curate.base=champion", "train_tokenizer.reuse=champion", "pretrain.init_from=champion",
         "pretrain.train_on=new"]
# what this test does not look at, made cheaper: evaluation during training (tests/test_pipeline.py checks it), and
# KoBEST on two tasks at 0 shots (the gate compares the new version with the champion on those)
CHEAPER = ["pretrain.eval_every=0", "evaluate.tasks=[boolq, copa]", "evaluate.shots=[0]"]


def _write(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def _segments(dataset_uri: str) -> list[dict]:
    return json.loads(Path(dataset_uri, "segments.json").read_text())["segments"]


def _args_of(work: Path, model_uri: str) -> str:
    """The arguments the pretrain stage gave the trainer (its local launcher writes them beside its output)."""
    return Path(work, "train", Path(model_uri).name, "train_args.json").read_text()


def _losses(model_uri: str) -> list[float]:
    return [json.loads(x)["loss"] for x in Path(model_uri, "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_a_scheduled_rerun_with_one_new_file_reuses_the_champions_work(tmp_path, capsys):
    """Over a minute: two whole pipeline runs (the second continues training from the first's weights)."""
    from mlflow import MlflowClient

    from components.contract.manifest import read_manifest
    from components.contract.runner import run_pipeline
    from components.contract.storage import Storage

    rows = [json.loads(x) for x in Path("tests/data/nsmc_small.jsonl").read_text(encoding="utf-8").splitlines()]
    src = tmp_path / "src"
    src.mkdir()
    _write(src / "a.jsonl", rows[:1200])
    _write(src / "b.jsonl", rows[1200:2400])
    overrides = ["collect.sources=[{name: nsmc, uri: '" + str(src) + "/*.jsonl', text_field: review, "
                 "id_field: review_id, license: CC0-1.0}]", *REUSE, *CHEAPER]
    work = tmp_path / "work"

    first = run_pipeline("configs/tiny.yaml", work, overrides, log=print)
    r1 = first["reuse"]
    assert r1["curate"]["base"] is None and r1["curate"]["generation"] == 0
    assert r1["train-tokenizer"]["reused_from"] is None and r1["pretrain"]["init_from"] is None
    assert first["aliases"] == ["champion"]

    # the schedule finds one new file: new reviews, and a copy of one already kept under another id
    copy = {**rows[5], "review_id": "copy-of-5"}
    _write(src / "c.jsonl", rows[2400:] + [copy])
    second = run_pipeline("configs/tiny.yaml", work, overrides, log=print)
    r2, s1, s2 = second["reuse"], first["stages"], second["stages"]
    storage = Storage()

    assert (r2["collect"]["files_reused"], r2["collect"]["files_read"]) == (2, 1)
    assert r2["collect"]["records_read"] == len(rows) - 2400 + 1
    cur1, cur2 = (read_manifest(storage, s["curate"]["uri"]) for s in (first["stages"], second["stages"]))
    assert r2["curate"]["base"] == cur1.uri and r2["curate"]["generation"] == 1
    assert r2["curate"]["raw_files_curated"] == 1
    assert r2["curate"]["records_reused"] == cur1.stats["records_out"]
    assert cur2.stats["dropped"]["duplicate"] == cur1.stats["dropped"].get("duplicate", 0) + 1, \
        "the copy of a kept review was dropped against the base"
    assert {f.name for f in cur1.files if f.name.startswith("data/")} <= \
        {f.name.split("/", 2)[2] for f in cur2.files if f.name.startswith("@stage/")}, "the base's files are listed"
    # only the new generation's shard tasks read raw records
    assert cur2.stats["steps"]["shard"]["tasks"] == 2 and \
        cur2.stats["records_in"] - cur1.stats["records_in"] == len(rows) - 2400 + 1

    assert s2["train-tokenizer"]["uri"] == s1["train-tokenizer"]["uri"], "the champion's tokenizer, as it is"
    from components.contract.summary import print_summary
    print_summary(second)
    assert "train-tokenizer  taken" in capsys.readouterr().out
    assert r2["train-tokenizer"]["reused_from"] == s1["train-tokenizer"]["uri"]
    tok1 = read_manifest(storage, s1["tokenize"]["uri"])
    assert r2["tokenize"]["segments_reused"] == tok1.stats["segments"] and r2["tokenize"]["segments_made"] >= 1
    assert r2["tokenize"]["tokens_reused"] == tok1.stats["tokens"]

    assert r2["pretrain"]["init_from"] == s1["pretrain"]["uri"]
    # on the new tokens only: the segments the champion's dataset did not hold
    from training.args import TrainArgs
    from training.data import open_split
    args = TrainArgs.from_json(_args_of(work, s2["pretrain"]["uri"]))
    assert args.datasets[0].exclude == s1["tokenize"]["uri"]
    new_train = sum(s["train"]["tokens"] for s in _segments(s2["tokenize"]["uri"])
                    if s["name"] not in {x["name"] for x in _segments(s1["tokenize"]["uri"])})
    assert len(open_split(args.datasets[0], work / "cache")) == new_train > 0
    # step 1 is logged before any update (the warmup's learning rate is 0 there): the loss of the initial weights.
    # A fresh start is where the champion began; the second run begins about where the champion ended.
    first, second_ = _losses(s1["pretrain"]["uri"]), _losses(s2["pretrain"]["uri"])
    assert second_[0] < first[0] - 0.5 * (first[0] - first[-1]) and first[-1] < first[0], (first, second_)
    assert "(champion: version 1)" in second["reason"], "the gate compared the new version with the champion"

    tags = MlflowClient(second["tracking_uri"]).get_run(second["parent_run_id"]).data.tags
    assert tags["reuse.version"] == "1" and tags["reuse.tokenize.segments_reused"] == str(tok1.stats["segments"])
    card = Path(s2["register"]["uri"], "README.md").read_text(encoding="utf-8")
    assert "## Reuse" in card and f"continued from {s1['pretrain']['uri']}" in card

    # once more, continuing from the second model on the same data: nothing it has not seen. One clear line from
    # the stage, before any trainer starts (on a cluster: before a TrainJob is submitted)
    from components.errors import UserError
    trained = sorted(p.name for p in (work / "train").iterdir())
    again = [o for o in overrides if not o.startswith("pretrain.init_from=")]
    with pytest.raises(UserError, match="nothing new to train on"):
        run_pipeline("configs/tiny.yaml", work, [*again, f"pretrain.init_from={s2['pretrain']['uri']}"], log=print)
    assert sorted(p.name for p in (work / "train").iterdir()) == trained, "no trainer ran"
