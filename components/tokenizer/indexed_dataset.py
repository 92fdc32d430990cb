"""Megatron / GPT-NeoX "mmap" indexed datasets: `<prefix>.bin` (token ids back to back) + `<prefix>.idx`.

.idx layout (little endian), as megatron-core's IndexedDataset and GPT-NeoX's MMapIndexedDataset read it:
  b"MMIDIDX\\x00\\x00"  magic (9 bytes)
  <Q  version (1)
  <B  dtype code (1 uint8, 2 int8, 3 int16, 4 int32, 5 int64, 6 float64, 7 float32, 8 uint16)
  <Q  number of sequences
  <Q  number of document boundaries (documents + 1)
  int32[sequences]  sequence lengths (tokens)
  int64[sequences]  byte offset of each sequence in .bin
  int64[documents + 1]  document boundaries as sequence indices (0, 1, ..., n when one sequence per document)
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

MAGIC = b"MMIDIDX\x00\x00"
DTYPES = {1: np.uint8, 2: np.int8, 3: np.int16, 4: np.int32, 5: np.int64, 6: np.float64, 7: np.float32,
          8: np.uint16}
CODES = {np.dtype(v): k for k, v in DTYPES.items()}


def dtype_for_vocab(vocab_size: int) -> type:
    return np.uint16 if vocab_size < 65500 else np.int32


class IndexedDatasetWriter:
    """Streams documents to .bin; the index (small: 12 bytes per document) is kept in memory until close."""

    def __init__(self, prefix: Path, dtype: type):
        self.prefix, self.dtype = Path(prefix), np.dtype(dtype)
        self.bin = open(self.prefix.with_suffix(".bin"), "wb")
        self.sizes: list[int] = []
        self.tokens = 0

    def add_document(self, ids) -> None:
        arr = np.asarray(ids, dtype=self.dtype)
        self.bin.write(arr.tobytes(order="C"))
        self.sizes.append(len(arr))
        self.tokens += len(arr)

    def close(self) -> None:
        self.bin.close()
        sizes = np.asarray(self.sizes, dtype=np.int32)
        pointers = np.zeros(len(sizes), dtype=np.int64)
        if len(sizes) > 1:
            np.cumsum(sizes[:-1].astype(np.int64) * self.dtype.itemsize, out=pointers[1:])
        doc_idx = np.arange(len(sizes) + 1, dtype=np.int64)
        with open(self.prefix.with_suffix(".idx"), "wb") as f:
            f.write(MAGIC)
            f.write(struct.pack("<Q", 1))
            f.write(struct.pack("<B", CODES[self.dtype]))
            f.write(struct.pack("<Q", len(sizes)))
            f.write(struct.pack("<Q", len(doc_idx)))
            f.write(sizes.tobytes(order="C"))
            f.write(pointers.tobytes(order="C"))
            f.write(doc_idx.tobytes(order="C"))


class IndexedDataset:
    """Read-only, memory-mapped view of a .bin/.idx pair."""

    def __init__(self, prefix: Path):
        prefix = Path(prefix)
        idx = prefix.with_suffix(".idx").read_bytes()
        if idx[:9] != MAGIC:
            raise ValueError(f"{prefix}.idx: not a Megatron mmap index (bad magic)")
        (version,) = struct.unpack("<Q", idx[9:17])
        if version != 1:
            raise ValueError(f"{prefix}.idx: unsupported version {version}")
        self.dtype = np.dtype(DTYPES[idx[17]])
        n, ndoc = struct.unpack("<QQ", idx[18:34])
        off = 34
        self.sizes = np.frombuffer(idx, dtype=np.int32, count=n, offset=off)
        off += 4 * n
        self.pointers = np.frombuffer(idx, dtype=np.int64, count=n, offset=off)
        off += 8 * n
        self.doc_idx = np.frombuffer(idx, dtype=np.int64, count=ndoc, offset=off)
        size = prefix.with_suffix(".bin").stat().st_size
        self.bin = np.memmap(prefix.with_suffix(".bin"), dtype=self.dtype, mode="r") if size else np.zeros(0, self.dtype)

    def __len__(self) -> int:
        return len(self.sizes)

    def __getitem__(self, i: int) -> np.ndarray:
        start = self.pointers[i] // self.dtype.itemsize
        return np.asarray(self.bin[start:start + self.sizes[i]])

    @property
    def num_tokens(self) -> int:
        return int(self.sizes.sum(dtype=np.int64))

    def tokens(self) -> np.ndarray:
        """All documents back to back (each already ends with the end-of-document token)."""
        return self.bin
