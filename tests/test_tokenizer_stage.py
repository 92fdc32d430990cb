"""The train-tokenizer and tokenize stages: published layout, determinism, round-trip, megatron-core's reader,
and bring-your-own with the published Polyglot-Ko tokenizer."""
import json
from pathlib import Path

import numpy as np
import pytest

from tests.support.stages import Stages

PUBLISHED = Path("data/reference/polyglot-ko-tokenizer")


def _corpus_and_tokenizer(workdir: Path, **tok):
    cfg = {
        "collect": {"world_size": 1, "sources": [
            {"name": "nsmc", "uri": "tests/data/nsmc_small.jsonl", "text_field": "review", "id_field": "review_id"},
            {"name": "syn", "uri": "data/corpus/synopses", "format": "txt"}]},
        "curate": {"world_size": 1, "records_per_file": 400},     # several curated files: several segments
        "train_tokenizer": {"vocab_size": 1500, "heldout_fraction": 0.05, **tok},
        "tokenize": {"validation_fraction": 0.05}}
    out = Stages(workdir).upto(cfg, "tokenize")
    return out["train-tokenizer"], out["tokenize"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return _corpus_and_tokenizer(tmp_path_factory.mktemp("tok"))


def test_trained_tokenizer_has_the_published_layout(trained):
    from transformers import PreTrainedTokenizerFast

    tk, _ = trained
    tj = json.loads(Path(tk.file_uri("tokenizer.json")).read_text())
    published = json.loads((PUBLISHED / "tokenizer.json").read_text())
    assert tj["pre_tokenizer"] == published["pre_tokenizer"]
    assert tj["normalizer"] is None
    learned = tk.stats["learned_vocab"]
    ids = {t["content"]: t["id"] for t in tj["added_tokens"]}
    assert ids == {"<pad>": 0, "<eos>": 1, "<|endoftext|>": 2, "<|sep|>": 3,
                   "<|acc|>": learned, "<|tel|>": learned + 1, "<|rrn|>": learned + 2}
    assert tk.stats["padded_vocab"] % 128 == 0 and tk.stats["padded_vocab"] >= learned + 3
    hf = PreTrainedTokenizerFast.from_pretrained(Path(tk.uri))
    assert isinstance(hf, PreTrainedTokenizerFast)
    assert hf.eos_token == hf.pad_token == "<|endoftext|>" and hf.eos_token_id == 2


def test_quality_report_compares_with_the_published_tokenizer(trained):
    tk, _ = trained
    q = json.loads(Path(tk.file_uri("quality.json")).read_text())
    for name in ("trained", "reference"):
        assert q[name]["documents"] > 0 and 0 < q[name]["tokens_per_char"] < 2
        assert q[name]["roundtrip_failures"] == 0
    assert q["merges"]["merges"] > 0 and len(q["merges"]["longest_tokens"]) == 20
    assert "published Polyglot-Ko" in Path(tk.file_uri("quality.md")).read_text()


def test_tokenize_round_trips_the_whole_validation_split(trained):
    _, ds = trained
    assert ds.stats["validation"]["documents"] > 0
    assert ds.stats["validation_roundtrip_failures"] == 0
    assert ds.stats["dtype"] == "uint16"


def _segments(ds) -> list[dict]:
    return json.loads(Path(ds.file_uri("segments.json")).read_text())["segments"]


def test_megatron_core_reads_every_segment_unchanged(trained):
    from megatron.core.datasets.indexed_dataset import IndexedDataset as MegatronIndexedDataset

    from components.tokenizer.indexed_dataset import IndexedDataset

    _, ds = trained
    segments = _segments(ds)
    assert len(segments) == ds.stats["segments"] >= 2, "the demo-like corpus is tokenized in several segments"
    for split in ("train", "validation"):
        documents = tokens = 0
        for seg in segments:
            prefix = ds.file_uri(f"{seg['name']}/{split}.bin")[:-len(".bin")]
            theirs, ours = MegatronIndexedDataset(prefix), IndexedDataset(Path(prefix))
            assert len(theirs) == len(ours) == seg[split]["documents"]
            assert theirs.index.dtype == np.uint16
            assert list(theirs.document_indices) == list(range(len(ours) + 1))
            for i in sorted({0, len(ours) // 2, len(ours) - 1} if len(ours) else set()):
                assert np.array_equal(theirs[i], ours[i]) and ours[i][-1] == 2     # ends with <|endoftext|>
            documents += len(theirs)
            tokens += int(theirs.sequence_lengths.sum())
        assert (documents, tokens) == (ds.stats[split]["documents"], ds.stats[split]["tokens"])


def test_tokenize_shards_make_the_same_dataset_and_a_retried_shard_redoes_only_itself(stages, tmp_path,
                                                                                       monkeypatch):
    """world_size 1 and 3 give the same segments (so the same digest); a shard that fails part-way is the only
    one that runs again, and it redoes only the files it had not finished; every validation document, decoded
    from the segments, is its curated text."""
    import pyarrow.parquet as pq
    from tokenizers import Tokenizer

    from components.contract.artifact import Shard
    from components.corpus.records import file_order
    from components.tokenizer import encode
    from components.tokenizer.indexed_dataset import IndexedDataset

    monkeypatch.setenv("POLYGLOT_KO_MAX_WORKERS", "1")      # tasks in this process, where the counter is
    base = {"collect": {"world_size": 1, "sources": [
                {"name": "nsmc", "uri": "tests/data/nsmc_small.jsonl", "text_field": "review",
                 "id_field": "review_id"}]},
            "curate": {"world_size": 2, "records_per_file": 60},
            "train_tokenizer": {"vocab_size": 300, "morphemes": "none", "compare_with": None},
            "tokenize": {"validation_fraction": 0.1}}
    out = stages.upto(base, "train-tokenizer")
    cur, tk = out["curate"], out["train-tokenizer"]
    entries = sorted((f for f in cur.files if f.name.startswith("data/")), key=lambda f: file_order(f.name))
    files = [f.name for f in entries]
    runs = [len(Shard(r, 3).run_of(files, [f.bytes for f in entries])) for r in range(3)]
    assert len(files) >= 6 and runs[1] >= 2, runs

    def tokenize_with(world_size, workdir):
        cfg = {**base, "tokenize": {**base["tokenize"], "world_size": world_size}}
        return stages.prepare(cfg, "tokenize", {"corpus": cur.uri, "tokenizer": tk.uri}, workdir=workdir)

    one, _ = tokenize_with(1, tmp_path / "one").execute()
    assert one.stats["segments"] == len(files) and one.stats["segments_reused"] == 0

    calls, real = [], encode.tokenize_file
    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == runs[0] + 2:        # shard 1's second file
            raise RuntimeError("node lost")
        return real(*args, **kwargs)
    monkeypatch.setattr(encode, "tokenize_file", failing)
    three = tokenize_with(3, tmp_path / "three")
    with pytest.raises(RuntimeError, match="node lost"):
        three.execute()
    assert [three.done(three.node.steps[0], r) for r in range(3)] == [True, False, False]
    calls.clear()
    monkeypatch.setattr(encode, "tokenize_file", lambda *a, **k: calls.append(1) or real(*a, **k))
    ds, _ = tokenize_with(3, tmp_path / "three").execute()
    assert ds.stats["segments_reused"] == 1, "shard 1's first file was published before it failed"
    assert len(calls) == runs[1] - 1 + runs[2], "shard 0 was not run again, shard 1 only in part"
    assert ds.digest == one.digest, "the same segments whatever the number of shards"

    tok = Tokenizer.from_file(str(Path(tk.file_uri("tokenizer.json"))))
    texts = {r["id"]: r["text"] for f in files for r in pq.read_table(cur.file_uri(f)).to_pylist()}
    decoded = 0
    for seg in _segments(ds):
        v = IndexedDataset(Path(ds.file_uri(f"{seg['name']}/validation.bin")).with_suffix(""))
        for i in range(len(v)):
            text = tok.decode(v[i][:-1].tolist(), skip_special_tokens=False)
            assert text in texts.values()
            decoded += 1
    assert decoded == ds.stats["validation"]["documents"] > 0


def test_training_is_deterministic(trained, tmp_path):
    tk, ds = trained
    tk2, ds2 = _corpus_and_tokenizer(tmp_path / "again")
    assert tk2.digest == tk.digest and ds2.digest == ds.digest
    assert Path(tk2.file_uri("tokenizer.json")).read_bytes() == Path(tk.file_uri("tokenizer.json")).read_bytes()


def test_bring_your_own_published_tokenizer(tmp_path):
    tk, ds = _corpus_and_tokenizer(tmp_path, pretrained=str(PUBLISHED))
    assert tk.stats["special_ids"] == {"<pad>": 0, "<eos>": 1, "<|endoftext|>": 2, "<|sep|>": 3,
                                       "<|acc|>": 30000, "<|tel|>": 30001, "<|rrn|>": 30002}
    assert tk.stats["vocab_size"] == 30003 and tk.stats["padded_vocab"] == 30080
    assert tk.stats["learned_vocab"] == 30000
    ours = json.loads(Path(tk.file_uri("tokenizer.json")).read_text())["model"]["vocab"]
    published = json.loads((PUBLISHED / "tokenizer.json").read_text())["model"]["vocab"]
    assert ours == published
    assert ds.stats["validation_roundtrip_failures"] == 0 and ds.stats["tokens"] > 0


def test_train_tokenizer_reads_only_the_row_groups_it_samples(stages, monkeypatch):
    """Its reading follows sample_chars (plus the few held-out documents), not the corpus: a corpus of many row
    groups, a small sample, a count of the row groups read."""
    import pyarrow.parquet as pq

    cfg = {"collect": {"world_size": 1, "sources": [
               {"name": "nsmc", "uri": "tests/data/nsmc_small.jsonl", "text_field": "review", "id_field": "review_id"}]},
           "curate": {"world_size": 2, "records_per_file": 40},
           "train_tokenizer": {"vocab_size": 300, "morphemes": "none", "heldout_fraction": 0.2,
                               "heldout_documents": 10, "compare_with": None}}
    cur = stages.upto(cfg, "curate")["curate"]
    groups = sum(pq.ParquetFile(cur.file_uri(f.name)).metadata.num_row_groups for f in cur.files
                 if f.name.startswith("data/"))
    read = []
    original = pq.ParquetFile.read_row_group
    monkeypatch.setattr(pq.ParquetFile, "read_row_group",
                        lambda self, i, *a, **k: read.append(i) or original(self, i, *a, **k))
    sizes = {}
    for chars in (3_000, 30_000):
        read.clear()
        cfg["train_tokenizer"]["sample_chars"] = chars
        tk, _ = stages.run(cfg, "train-tokenizer", {"corpus": cur.uri})
        assert chars <= tk.stats["sample_chars"] < chars + 2_000
        sizes[chars] = len(read)
    assert groups >= 20
    assert sizes[3_000] < sizes[30_000] < groups, (sizes, groups)
    assert sizes[3_000] <= groups // 4
