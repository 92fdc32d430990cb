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

import shutil
import struct
from pathlib import Path

import numpy as np

MAGIC = b"MMIDIDX\x00\x00"
DTYPES = {1: np.uint8, 2: np.int8, 3: np.int16, 4: np.int32, 5: np.int64, 6: np.float64, 7: np.float32,
          8: np.uint16}
CODES = {np.dtype(v): k for k, v in DTYPES.items()}


def _mapped(path: Path, dtype: type, offset: int, count: int) -> np.ndarray:
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=(count,)) if count else np.zeros(0, dtype)


SPLITS = ("train", "validation")     # a tokenized dataset's two splits


def dtype_for_vocab(vocab_size: int) -> type:
    return np.uint16 if vocab_size < 65500 else np.int32


class IndexedDatasetWriter:
    """Streams documents to .bin and their lengths to a side file, then writes the .idx from that file in chunks:
    memory stays the same however many documents (nothing per document is held)."""

    CHUNK = 1 << 20          # lengths per chunk when the index is written

    def __init__(self, prefix: Path, dtype: type):
        self.prefix, self.dtype = Path(prefix), np.dtype(dtype)
        self.bin = open(self.prefix.with_suffix(".bin"), "wb")
        self._sizes_path = self.prefix.with_name(self.prefix.name + ".sizes.tmp")
        self._sizes = open(self._sizes_path, "wb")
        self._pending: list[int] = []       # at most CHUNK lengths before they go to the side file
        self.documents = 0
        self.tokens = 0

    def add_document(self, ids) -> None:
        arr = np.asarray(ids, dtype=self.dtype)
        self.bin.write(arr.tobytes(order="C"))
        self._pending.append(len(arr))
        if len(self._pending) >= self.CHUNK:
            self._spill()
        self.documents += 1
        self.tokens += len(arr)

    def _spill(self) -> None:
        self._sizes.write(np.asarray(self._pending, dtype=np.int32).tobytes())
        self._pending = []

    def close(self) -> None:
        self.bin.close()
        self._spill()
        self._sizes.close()
        n = self.documents
        with open(self.prefix.with_suffix(".idx"), "wb") as f, open(self._sizes_path, "rb") as sizes:
            f.write(MAGIC)
            f.write(struct.pack("<Q", 1))
            f.write(struct.pack("<B", CODES[self.dtype]))
            f.write(struct.pack("<Q", n))
            f.write(struct.pack("<Q", n + 1))
            shutil.copyfileobj(sizes, f, 4 * self.CHUNK)               # int32 lengths
            sizes.seek(0)
            offset = 0                                                 # int64 byte offsets, chunk by chunk
            while chunk := sizes.read(4 * self.CHUNK):
                lengths = np.frombuffer(chunk, dtype=np.int32).astype(np.int64) * self.dtype.itemsize
                ends = np.cumsum(lengths) + offset
                f.write((ends - lengths).tobytes())
                offset = int(ends[-1])
            for start in range(0, n + 1, self.CHUNK):                  # int64 document boundaries 0..n
                f.write(np.arange(start, min(n + 1, start + self.CHUNK), dtype=np.int64).tobytes())
        self._sizes_path.unlink()


class IndexedDataset:
    """Read-only, memory-mapped view of a .bin/.idx pair (the index memory-mapped too: a rank reads only the
    pages it touches)."""

    def __init__(self, prefix: Path):
        prefix = Path(prefix)
        idx_path = prefix.with_suffix(".idx")
        with open(idx_path, "rb") as f:
            head = f.read(34)
        if head[:9] != MAGIC:
            raise ValueError(f"{prefix}.idx: not a Megatron mmap index (bad magic)")
        (version,) = struct.unpack("<Q", head[9:17])
        if version != 1:
            raise ValueError(f"{prefix}.idx: unsupported version {version}")
        self.dtype = np.dtype(DTYPES[head[17]])
        n, ndoc = struct.unpack("<QQ", head[18:34])
        off = 34
        self.sizes = _mapped(idx_path, np.int32, off, n)
        off += 4 * n
        self.pointers = _mapped(idx_path, np.int64, off, n)
        off += 8 * n
        self.doc_idx = _mapped(idx_path, np.int64, off, ndoc)
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
