"""How a TokenizedDataset holds its tokens: segments, one per curated data file, each a pair of Megatron indexed
datasets `train` and `validation` (.bin/.idx), listed in corpus order by the artifact's `segments.json`.

A segment lives under the tokenize stage's root (`@stage/segments/<key>/`), addressed by what decides its bytes:
the curated file's checksum, the tokenizer, the validation share and the tokenize code. So a dataset made after
new documents were curated reuses every segment whose file did not change, and a retried shard redoes only its
own files. Readers see one split as its segments back to back (`TokenStream`): the sample index, the epoch
permutation and blends are over that one stream, whatever the number of shards that wrote it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .indexed_dataset import SPLITS

SEGMENTS = "segments.json"


@dataclass(frozen=True)
class SegmentSplit:
    """One segment's share of a split: its files' manifest names (prefix + .bin/.idx) and its token count."""
    prefix: str            # "@stage/segments/<key>/train"
    tokens: int
    documents: int


def read_segments(manifest, storage) -> list[dict]:
    """The segments of a TokenizedDataset manifest, in corpus order."""
    if not any(f.name == SEGMENTS for f in manifest.files):
        raise ValueError(f"{manifest.uri}: a TokenizedDataset without {SEGMENTS} (made by an older version: run "
                         "tokenize again)")
    return json.loads(storage.read_bytes(manifest.file_uri(SEGMENTS)))["segments"]


def split_of(segments: list[dict], split: str) -> list[SegmentSplit]:
    """The segments of one split that hold documents, in order."""
    return [SegmentSplit(f"{s['name']}/{split}", s[split]["tokens"], s[split]["documents"])
            for s in segments if s[split]["documents"]]


class TokenStream:
    """Several indexed datasets' tokens back to back, sliced as one array (a slice may span segments).

    Only the `.bin` of each segment is memory-mapped, when first touched, and kept: a split of thousands of
    segments holds one mapping (one descriptor) per segment and their cumulative token counts, nothing else.
    """

    def __init__(self, prefixes: list[Path], tokens: list[int], dtype: str | np.dtype):
        if len(prefixes) != len(tokens):
            raise ValueError("one token count per segment")
        self.prefixes = [Path(p) for p in prefixes]
        self.dtype = np.dtype(dtype)
        self.ends = np.cumsum(np.asarray(tokens, dtype=np.int64))
        self.starts = self.ends - np.asarray(tokens, dtype=np.int64)
        self._open: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return int(self.ends[-1]) if len(self.ends) else 0

    def _tokens(self, i: int) -> np.ndarray:
        arr = self._open.get(i)
        if arr is None:
            path = self.prefixes[i].with_suffix(".bin")
            want = int(self.ends[i] - self.starts[i])
            if path.stat().st_size != want * self.dtype.itemsize:
                raise ValueError(f"{path}: {path.stat().st_size} bytes, its dataset lists {want} "
                                 f"{self.dtype.name} tokens")
            arr = self._open[i] = np.memmap(path, dtype=self.dtype, mode="r")
        return arr

    def __getitem__(self, key: slice) -> np.ndarray:
        start, stop, step = key.indices(len(self))
        if step != 1:
            raise ValueError("TokenStream slices are contiguous")
        if stop <= start:
            return np.zeros(0, dtype=np.int64)
        first = int(np.searchsorted(self.ends, start, side="right"))
        pieces = []
        i = first
        while start < stop:
            a = start - int(self.starts[i])
            b = min(stop, int(self.ends[i])) - int(self.starts[i])
            pieces.append(np.asarray(self._tokens(i)[a:b], dtype=np.int64))
            start += b - a
            i += 1
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)


def artifact_stream(artifact, split: str, max_tokens: int | None = None) -> TokenStream:
    """One split of a TokenizedDataset artifact (contract/artifact.py) as a TokenStream; from object storage, only
    the segments that hold its first `max_tokens` tokens are fetched (evaluation reads a prefix of validation)."""
    segments, total = [], 0
    for s in split_of(read_segments(artifact.manifest, artifact.storage), split):
        if max_tokens is not None and total > max_tokens:
            break
        artifact.path(f"{s.prefix}.idx")
        segments.append((artifact.path(f"{s.prefix}.bin").with_suffix(""), s.tokens))
        total += s.tokens
    return TokenStream([p for p, _ in segments], [n for _, n in segments], artifact.info.dtype)
