import struct

import numpy as np

from components.tokenizer.indexed_dataset import MAGIC, IndexedDataset, IndexedDatasetWriter
from components.tokenizer.mbbpe import MORPHEME_MARK, PII, SPECIAL, segment_morphemes, train_bpe

TEXTS = ["오늘 영화는 정말 재미있었다", "배우들의 연기가 훌륭했습니다", "파이썬에서 리스트는 가변 시퀀스입니다"] * 50


def test_indexed_dataset_has_the_megatron_layout(tmp_path):
    w = IndexedDatasetWriter(tmp_path / "ds", np.uint16)
    docs = [[5, 6, 7, 2], [8, 2], [9, 10, 11, 12, 2]]
    for d in docs:
        w.add_document(d)
    w.close()
    idx = (tmp_path / "ds.idx").read_bytes()
    assert idx[:9] == MAGIC
    assert struct.unpack("<QBQQ", idx[9:34]) == (1, 8, 3, 4)   # version, uint16 code, sequences, doc boundaries
    sizes = np.frombuffer(idx, np.int32, 3, 34)
    pointers = np.frombuffer(idx, np.int64, 3, 34 + 12)
    assert sizes.tolist() == [4, 2, 5] and pointers.tolist() == [0, 8, 12]
    assert np.frombuffer(idx, np.int64, 4, 34 + 12 + 24).tolist() == [0, 1, 2, 3]
    ds = IndexedDataset(tmp_path / "ds")
    assert [ds[i].tolist() for i in range(len(ds))] == docs
    assert ds.num_tokens == 11 and (tmp_path / "ds.bin").stat().st_size == 22


def test_morpheme_marks_sit_between_morphemes_only():
    seg = list(segment_morphemes(["오늘 영화는 정말 재미있었다"]))[0]
    assert seg.replace(MORPHEME_MARK, "") == "오늘 영화는 정말 재미있었다"
    assert "영화" + MORPHEME_MARK + "는" in seg


def test_bpe_has_the_published_special_layout():
    tok, learned = train_bpe(segment_morphemes(TEXTS), vocab_size=400, min_frequency=1)
    assert [tok.token_to_id(t) for t in SPECIAL] == [0, 1, 2, 3]
    assert [tok.token_to_id(t) for t in PII] == [learned, learned + 1, learned + 2]
    enc = tok.encode("영화는 <|tel|> 재미있었다")
    assert tok.token_to_id("<|tel|>") in enc.ids
    assert tok.decode(enc.ids, skip_special_tokens=False) == "영화는 <|tel|> 재미있었다"
    assert not any(MORPHEME_MARK in t for t in tok.get_vocab())


def test_the_writer_holds_nothing_per_document_and_writes_the_same_index_across_chunks(tmp_path, monkeypatch):
    """Lengths go to a side file and the index is written from it in chunks (here 1,000 lengths, so 25,000
    documents cross many chunk edges): the .idx equals the one built from all lengths at once, the writer's
    memory does not grow with the documents, and no side file is left."""
    import tracemalloc

    monkeypatch.setattr(IndexedDatasetWriter, "CHUNK", 1000)
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 40, 25_000)
    w = IndexedDatasetWriter(tmp_path / "ds", np.uint16)
    tracemalloc.start()
    for n in lengths:
        w.add_document(np.full(n, 7, dtype=np.uint16))
    w.close()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 12 * len(lengths), f"{peak} bytes traced for {len(lengths)} documents"
    sizes = lengths.astype(np.int32)
    pointers = np.concatenate([[0], np.cumsum(lengths[:-1].astype(np.int64) * 2)])
    expected = (MAGIC + struct.pack("<QBQQ", 1, 8, len(sizes), len(sizes) + 1) + sizes.tobytes()
                + pointers.astype(np.int64).tobytes() + np.arange(len(sizes) + 1, dtype=np.int64).tobytes())
    assert (tmp_path / "ds.idx").read_bytes() == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds.bin", "ds.idx"]
    ds = IndexedDataset(tmp_path / "ds")
    assert len(ds) == len(lengths) and ds.num_tokens == int(lengths.sum()) and list(ds[24_999]) == [7] * lengths[-1]
    empty = IndexedDatasetWriter(tmp_path / "empty", np.uint16)
    empty.close()
    assert len(IndexedDataset(tmp_path / "empty")) == 0
