"""The train-tokenizer and tokenize stages: published layout, determinism, round-trip, megatron-core's reader,
and bring-your-own with the published Polyglot-Ko tokenizer."""
import json
from pathlib import Path

import numpy as np
import pytest

from components.contract import graph
from components.contract.config import config_from_dict
from components.contract.runner import make_context
from components.contract.execution import StageRun

PUBLISHED = Path("data/reference/polyglot-ko-tokenizer")


def _corpus_and_tokenizer(workdir: Path, **tok):
    cfg = config_from_dict({
        "collect": {"world_size": 1, "sources": [
            {"name": "nsmc", "uri": "tests/data/nsmc_small.jsonl", "text_field": "review", "id_field": "review_id"},
            {"name": "syn", "uri": "data/corpus/synopses", "format": "txt"}]},
        "curate": {"world_size": 1},
        "train_tokenizer": {"vocab_size": 1500, "heldout_fraction": 0.05, **tok},
        "tokenize": {"validation_fraction": 0.05}})
    ctx = make_context(cfg, workdir, None)
    raw, _ = StageRun(graph.stage("collect"), ctx, {}).execute()
    cur, _ = StageRun(graph.stage("curate"), ctx, {"raw": raw.uri}).execute()
    tk, _ = StageRun(graph.stage("train-tokenizer"), ctx, {"corpus": cur.uri}).execute()
    ds, _ = StageRun(graph.stage("tokenize"), ctx, {"corpus": cur.uri, "tokenizer": tk.uri}).execute()
    return tk, ds


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


def test_megatron_core_reads_our_indexed_dataset_unchanged(trained):
    from megatron.core.datasets.indexed_dataset import IndexedDataset as MegatronIndexedDataset

    from components.tokenizer.indexed_dataset import IndexedDataset

    _, ds = trained
    for split in ("train", "validation"):
        prefix = str(Path(ds.uri) / split)
        theirs, ours = MegatronIndexedDataset(prefix), IndexedDataset(Path(prefix))
        assert len(theirs) == len(ours) == ds.stats[split]["documents"]
        assert theirs.index.dtype == np.uint16
        assert list(theirs.document_indices) == list(range(len(ours) + 1))
        for i in (0, len(ours) // 2, len(ours) - 1):
            assert np.array_equal(theirs[i], ours[i]) and ours[i][-1] == 2     # ends with <|endoftext|>
        assert int(theirs.sequence_lengths.sum()) == ds.stats[split]["tokens"]


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


def test_train_tokenizer_reads_only_the_row_groups_it_samples(tmp_path, monkeypatch):
    """Its reading follows sample_chars (plus the few held-out documents), not the corpus: a corpus of many row
    groups, a small sample, a count of the row groups read."""
    import pyarrow.parquet as pq

    cfg = {"collect": {"world_size": 1, "sources": [
               {"name": "nsmc", "uri": "tests/data/nsmc_small.jsonl", "text_field": "review", "id_field": "review_id"}]},
           "curate": {"world_size": 2, "records_per_file": 40},
           "train_tokenizer": {"vocab_size": 300, "morphemes": "none", "heldout_fraction": 0.2,
                               "heldout_documents": 10, "compare_with": None}}
    ctx = make_context(config_from_dict(cfg), tmp_path / "wd", None)
    raw, _ = StageRun(graph.stage("collect"), ctx, {}).execute()
    cur, _ = StageRun(graph.stage("curate"), ctx, {"raw": raw.uri}).execute()
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
        ctx = make_context(config_from_dict(cfg), tmp_path / "wd", None)
        tk, _ = StageRun(graph.stage("train-tokenizer"), ctx, {"corpus": cur.uri}).execute()
        assert chars <= tk.stats["sample_chars"] < chars + 2_000
        sizes[chars] = len(read)
    assert groups >= 20
    assert sizes[3_000] < sizes[30_000] < groups, (sizes, groups)
    assert sizes[3_000] <= groups // 4
