"""collect and curate under the stage contract: accounting, quarantine, shards, caching, rerun after a kill."""
import gzip
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from components.contract.execution import StageRun, check_accounting
from components.contract.manifest import verify
from components.errors import StageFailed
from components.contract.storage import Storage
from tests.support.stages import write_jsonl


def _cfg(tmp_path: Path, world: int = 2, **curate) -> dict:
    src = tmp_path / "src"
    rows = [{"rid": i, "body": f"{i}번째 리뷰입니다. 정말 재미있는 영화였어요ㅋㅋㅋㅋ"} for i in range(40)]
    rows += [{"rid": 100, "body": "0번째 리뷰입니다. 정말 재미있는 영화였어요ㅋㅋ"}]   # duplicate after cleaning
    rows += [{"rid": 101, "body": "짧음"}, {"rid": 102, "body": "   "}, {"rid": 103, "other": "no body"}]
    write_jsonl(src / "a.jsonl", rows, raw_lines=[b"{not json", b'{"rid": 9, "body": "\xff\xfe bad utf8"}'])
    with gzip.open(src / "b.jsonl.gz", "wt", encoding="utf-8") as f:
        for i in range(10):
            f.write(json.dumps({"rid": 200 + i, "body": f"압축된 문서 {i} 입니다. 전화 010-1234-56{i:02d}"}) + "\n")
    (src / "docs").mkdir(exist_ok=True)
    (src / "docs" / "one.txt").write_text("텍스트 파일 하나는 문서 하나입니다.\n", encoding="utf-8")
    return {"collect": {"world_size": world, "sources": [
                {"name": "jsonl", "uri": str(src / "a.jsonl"), "text_field": "body", "id_field": "rid"},
                {"name": "gz", "uri": str(src / "b.jsonl.gz"), "text_field": "body"},
                {"name": "txt", "uri": str(src / "docs"), "format": "txt"}]},
            "curate": {"world_size": world, "min_chars": 8, "near_dedup": False, **curate}}


def test_collect_quarantines_bad_input_and_accounts_for_every_record(stages, tmp_path):
    m, hit = stages.run(_cfg(tmp_path), "collect")
    assert not hit
    s = m.stats
    assert s["quarantined"] == {"invalid_json": 1, "invalid_utf8": 1, "missing_text_field": 1}
    assert s["records_in"] == 44 + 2 + 10 + 1 and s["records_out"] == 44 - 1 + 10 + 1
    check_accounting("collect", s)
    assert verify(Storage(), m) == []
    q = [f for f in m.files if "quarantine" in f.name]
    raws = pq.read_table(m.file_uri(q[0].name)).to_pylist()
    assert {r["reason"] for r in raws} == {"invalid_json", "invalid_utf8", "missing_text_field"}
    assert any(r["raw"] == b"{not json" for r in raws), "the raw bytes are kept"


def test_curate_cleans_dedups_and_counts_reasons(stages, tmp_path):
    cfg = _cfg(tmp_path)
    raw, _ = stages.run(cfg, "collect")
    cur, _ = stages.run(cfg, "curate", {"raw": raw.uri})
    s = cur.stats
    assert s["dropped"] == {"duplicate": 1, "too_short": 1, "empty": 1}
    assert s["records_in"] == raw.stats["records_out"]
    check_accounting("curate", s)
    texts = [r["text"] for f in cur.files if f.name.startswith("data/")
             for r in pq.read_table(Path(cur.uri) / f.name).to_pylist()]
    assert len(texts) == len(set(texts)) == s["records_out"]
    assert all("ㅋㅋㅋ" not in t and "010-" not in t for t in texts)
    assert s["pii"]["tel"] == 10
    assert not (Path(cur.uri) / "steps").exists(), "the steps' intermediate files are removed"


def test_same_inputs_cache_hit_and_param_change_reruns_only_downstream(stages, tmp_path):
    cfg = _cfg(tmp_path)
    raw, _ = stages.run(cfg, "collect")
    cur, _ = stages.run(cfg, "curate", {"raw": raw.uri})
    raw2, hit_raw = stages.run(cfg, "collect")
    cur2, hit_cur = stages.run(cfg, "curate", {"raw": raw2.uri})
    assert hit_raw and hit_cur and cur2.uri == cur.uri
    cfg["curate"]["min_chars"] = 20
    raw3, hit3 = stages.run(cfg, "collect")
    cur3, hit_cur3 = stages.run(cfg, "curate", {"raw": raw3.uri})
    assert hit3 and not hit_cur3 and cur3.uri != cur.uri


def test_output_does_not_depend_on_the_number_of_shards(stages, tmp_path):
    one = _cfg(tmp_path, world=1)
    three = _cfg(tmp_path, world=3)
    r1, _ = stages.run(one, "collect", workdir=tmp_path / "w1")
    c1, _ = stages.run(one, "curate", {"raw": r1.uri}, workdir=tmp_path / "w1")
    r3, _ = stages.run(three, "collect", workdir=tmp_path / "w3")
    c3, _ = stages.run(three, "curate", {"raw": r3.uri}, workdir=tmp_path / "w3")

    def docs(m):
        return sorted((r["id"], r["text"]) for f in m.files if f.name.startswith("data/")
                      for r in pq.read_table(Path(m.uri) / f.name).to_pylist())
    assert docs(c1) == docs(c3)
    assert c1.stats["records_out"] == c3.stats["records_out"]


def test_a_killed_shard_is_redone_alone_and_gives_the_same_bytes(stages, tmp_path):
    cfg = _cfg(tmp_path)
    sr = stages.prepare(cfg, "collect")
    part0 = sr.run_step(sr.node.step("shard"), 0)
    before = {f.name: f.sha256 for f in part0.adopted}
    # The worker for shard 1 "died" before writing part.json; shard 0's part must not be recomputed.
    mtime = (Path(part0.uri) / "part.json").stat().st_mtime_ns
    m, hit = sr.execute()
    assert not hit
    assert (Path(part0.uri) / "part.json").stat().st_mtime_ns == mtime
    full = stages.run(cfg, "collect", workdir=tmp_path / "fresh")[0]
    assert m.digest == full.digest
    assert before.items() <= {f.name: f.sha256 for f in m.files}.items()


def test_the_copy_kept_is_the_first_in_corpus_order_whatever_the_number_of_shards(stages, tmp_path):
    """Every pair of source files shares a document: the copy kept must be the same for 1, 2 and 3 curate shards
    (documents are numbered by consecutive files, not dealt out to shards)."""
    src = tmp_path / "src"
    files = 4
    for i in range(files):
        rows = [{"rid": f"f{i}-{n}", "body": f"{i}번 파일만의 문서 {n}번입니다. 내용이 조금 깁니다."} for n in range(5)]
        rows += [{"rid": f"f{i}-pair{a}{b}", "body": f"파일 {a}와 파일 {b}가 함께 가진 문서입니다."}
                 for a in range(files) for b in range(a + 1, files) if i in (a, b)]
        write_jsonl(src / f"part-{i}.jsonl", rows)
    cfg = {"collect": {"world_size": 2, "sources": [{"name": "p", "uri": str(src / "*.jsonl"), "text_field": "body",
                                                     "id_field": "rid"}]},
           "curate": {"world_size": 1, "min_chars": 8, "near_dedup": False}}
    raw, _ = stages.run(cfg, "collect")
    kept = {}
    for world in (1, 2, 3):
        cfg["curate"]["world_size"] = world
        cur, _ = stages.run(cfg, "curate", {"raw": raw.uri}, workdir=tmp_path / f"w{world}")
        kept[world] = sorted(r["id"] for f in cur.files if f.name.startswith("data/")
                             for r in pq.read_table(Path(cur.uri) / f.name).to_pylist())
        assert cur.stats["dropped"] == {"duplicate": 6}
    assert kept[1] == kept[2] == kept[3]


def _curate_steps(stages, cfg: dict, raw_uri: str, until: str | None = None) -> StageRun:
    """The curate steps run one task at a time, as an orchestrator would, up to (not including) `until`."""
    sr = stages.prepare(cfg, "curate", {"raw": raw_uri})
    for step in sr.node.steps:
        if step.name == until:
            break
        for rank in range(sr.width(step)):
            sr.run_step(step, rank)
    return sr


def test_bad_input_is_accounted_for_in_every_step_and_every_shard(stages, tmp_path):
    cfg = _cfg(tmp_path, world=3, near_dedup=True, dedup_buckets=2)
    raw, _ = stages.run(cfg, "collect")
    assert raw.stats["quarantined"] == {"invalid_json": 1, "invalid_utf8": 1, "missing_text_field": 1}
    sr = _curate_steps(stages, cfg, raw.uri)
    steps = sr.parts_before(None)
    assert [len(steps[s]) for s in ("shard", "bucket", "cluster", "filter")] == [3, 2, 1, 3]
    for name, parts in steps.items():
        for p in parts:
            check_accounting(f"{name} {p.rank}", p.stats)
    assert sum(p.stats["records_in"] for p in steps["shard"]) == raw.stats["records_out"]
    assert [p.stats["records_in"] for p in steps["filter"]] == [p.stats["records_out"] for p in steps["shard"]]
    kept = sum(p.stats["records_out"] for p in steps["filter"])
    near = steps["cluster"][0].stats["removed"]["near_duplicate"]
    assert near > 0, "the numbered reviews differ by one character: near duplicates"
    cur, hit = sr.execute()
    assert not hit
    s = cur.stats
    check_accounting("curate", s)
    assert s["dropped"] == {"duplicate": 1, "too_short": 1, "empty": 1, "near_duplicate": near}
    assert s["records_out"] == kept == raw.stats["records_out"] - 3 - near


def test_records_lost_between_steps_fail_the_stage(stages, tmp_path):
    """A filter that drops other rows than the cluster step decided (here: its list of rows to drop lost) is
    caught by the reduce, and nothing is published."""
    import numpy as np

    cfg = _cfg(tmp_path, world=3)
    raw, _ = stages.run(cfg, "collect")
    sr = _curate_steps(stages, cfg, raw.uri, until="filter")
    decided = Path(sr.part(sr.node.step("cluster"), 0).uri)
    lists = [f for f in sorted(decided.glob("remove-*.npy")) if len(np.load(f))]
    assert lists, "the corpus has a duplicate"
    np.save(lists[0], np.load(lists[0])[:0])
    with pytest.raises(StageFailed, match="records lost between steps: cluster removed 1 as duplicate, the "
                                          "filters dropped 0"):
        sr.execute()
    assert sr.existing() is None


def test_a_failed_task_of_any_step_is_redone_alone_and_gives_the_same_bytes(stages, tmp_path, monkeypatch):
    """What a retry does, from the orchestrator or from rerunning the pipeline (KFP ignores retries set inside a
    ParallelFor): a task whose part.json is missing runs again, overwriting what it half wrote; the other tasks'
    parts are reused."""
    cfg = _cfg(tmp_path, world=3, near_dedup=True, dedup_buckets=2)
    raw, _ = stages.run(cfg, "collect")
    sr = _curate_steps(stages, cfg, raw.uri)
    filter1 = Path(sr.part_uri(sr.node.step("filter"), 1))
    (filter1 / "part.json").unlink()                      # the task died after publishing, before part.json
    published = sorted((Path(sr.uri) / "data" / "g0000").glob("curated-00001-*.parquet"))
    assert published
    published[0].write_bytes(b"half written")
    ran = []
    run_step = StageRun.run_step
    monkeypatch.setattr(StageRun, "run_step", lambda self, step, rank: ran.append((step.name, rank)) or
                        run_step(self, step, rank))
    cur, hit = sr.execute()
    assert ran == [("filter", 1)], "only the failed task ran again"
    assert not hit and verify(Storage(), cur) == []
    assert not (Path(sr.uri) / "steps").exists()
    fresh = stages.upto(cfg, "curate", workdir=tmp_path / "fresh")["curate"]
    assert cur.digest == fresh.digest


def test_accounting_violation_is_an_error():
    with pytest.raises(StageFailed, match="accounting broken"):
        check_accounting("x", {"records_in": 10, "records_out": 5, "dropped": {"a": 2}, "quarantined": {}})


def test_nothing_valid_left_fails_clearly(stages, tmp_path):
    src = write_jsonl(tmp_path / "only-bad.jsonl", [{"text": "  "}, {"text": "x"}])
    cfg = {"collect": {"world_size": 1, "sources": [{"name": "bad", "uri": str(src)}]},
           "curate": {"world_size": 1}}
    raw, _ = stages.run(cfg, "collect")
    with pytest.raises(StageFailed, match="no valid records left"):
        stages.run(cfg, "curate", {"raw": raw.uri})


def test_missing_source_is_a_user_error(stages, tmp_path):
    from components.errors import UserError
    cfg = {"collect": {"sources": [{"name": "gone", "uri": str(tmp_path / "nope.jsonl")}]}}
    with pytest.raises(UserError, match="source 'gone': no files"):
        stages.run(cfg, "collect")
    (tmp_path / "data" / "2026").mkdir(parents=True)
    (tmp_path / "data" / "2026" / "a.jsonl").write_text('{"text": "한국어 문서입니다."}\n')
    cfg = {"collect": {"sources": [{"name": "flat", "uri": str(tmp_path / "data" / "*.jsonl")}]}}
    with pytest.raises(UserError, match=r"no name under .*/data/ matches '\*.jsonl': `\*` and `\?` stay within"):
        stages.run(cfg, "collect")


def test_a_stage_that_crashes_publishes_no_manifest_and_reruns_cleanly(stages, tmp_path, monkeypatch):
    import components.stages.curate as curate
    from components.contract.artifact import Artifact
    from components.contract.kinds import CuratedCorpus, RawCorpus

    cfg = _cfg(tmp_path)
    raw, _ = stages.run(cfg, "collect")
    real_reduce = curate.reduce

    def crash_after_writing(cfg_, *, raw: Artifact[RawCorpus], steps: dict, out) -> CuratedCorpus:
        real_reduce(cfg_, raw=raw, steps=steps, out=out)
        raise RuntimeError("worker lost")

    monkeypatch.setattr(curate, "reduce", crash_after_writing)
    with pytest.raises(RuntimeError, match="worker lost"):
        stages.run(cfg, "curate", {"raw": raw.uri})
    sr = stages.prepare(cfg, "curate", {"raw": raw.uri})
    assert sr.existing() is None, "no manifest: the directory is incomplete and never read"
    monkeypatch.setattr(curate, "reduce", real_reduce)
    m, hit = stages.run(cfg, "curate", {"raw": raw.uri})
    assert not hit and m.uri == sr.uri
    assert verify(Storage(), m) == []


def test_shards_can_run_as_separate_tasks_then_reduce(stages, tmp_path, capsys):
    """What an orchestrator's fan-out does: one `stage --shard R` task per rank, then `stage` reduces."""
    import yaml
    from components.cli import main

    cfg = _cfg(tmp_path, world=3)
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    wd = str(tmp_path / "wd")
    assert main(["begin", "--config", str(path), "--workdir", wd]) == 0
    run_id = capsys.readouterr().out.strip().splitlines()[-1]
    parts = []
    for rank in range(3):
        assert main(["stage", "collect", "--workdir", wd, "--parent-run-id", run_id, "--shard", str(rank)]) == 0
        parts.append(capsys.readouterr().out.strip().splitlines()[-1])
    assert [p.rsplit("/", 1)[1] for p in parts] == ["00000-of-00003", "00001-of-00003", "00002-of-00003"]
    assert main(["stage", "collect", "--workdir", wd, "--parent-run-id", run_id]) == 0
    uri = capsys.readouterr().out.strip().splitlines()[-1]
    whole, _ = stages.run(cfg, "collect", workdir=tmp_path / "fresh")
    from components.contract.manifest import require_manifest
    assert require_manifest(Storage(), uri).digest == whole.digest
    assert main(["stage", "curate", "--workdir", wd, "--parent-run-id", run_id, "--shard", "5",
                 "--input", f"raw={uri}"]) == 2
