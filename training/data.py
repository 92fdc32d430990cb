"""GPT-NeoX-style sample index over indexed datasets: documents back to back, cut into windows of
seq_length + 1 tokens (inputs and shifted labels), visited in a seeded permutation per epoch; several datasets
are blended by weight.

A sample is addressed by its global position, so any step of any rank can be recomputed from (seed, step):
resuming needs no data-loader state, and the samples of a step do not depend on the world size.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from components.tokenizer.indexed_dataset import IndexedDataset

from .args import DatasetRef


class SampleIndex:
    def __init__(self, prefix: Path, seq_length: int, seed: int):
        self.ds = IndexedDataset(prefix)
        self.tokens = self.ds.tokens()
        self.seq_length = seq_length
        self.seed = seed
        self.num_samples = (len(self.tokens) - 1) // seq_length
        if self.num_samples < 1:
            raise ValueError(f"{prefix}: {len(self.tokens)} tokens, fewer than one sample of {seq_length + 1}")
        self._perm_epoch, self._perm = -1, None

    def _permutation(self, epoch: int) -> np.ndarray:
        if epoch != self._perm_epoch:
            self._perm = np.random.RandomState((self.seed + epoch) % 2**32).permutation(self.num_samples)
            self._perm_epoch = epoch
        return self._perm

    def sample(self, global_index: int) -> np.ndarray:
        epoch, pos = divmod(global_index, self.num_samples)
        i = int(self._permutation(epoch)[pos])
        start = i * self.seq_length
        return np.asarray(self.tokens[start:start + self.seq_length + 1], dtype=np.int64)


class BlendedIndex:
    """Samples drawn from several SampleIndexes in fixed proportions.

    Positions are grouped in blocks of `block` samples. Each block holds the same number of samples of each
    dataset (weights rounded by largest remainder), shuffled by a seeded per-block permutation, so any window
    of a few thousand samples follows the weights and sample i is found in O(1) without a prebuilt index.
    """

    def __init__(self, sources: list[SampleIndex], weights: list[float], seed: int, block: int = 4096):
        if len(sources) != len(weights) or not sources:
            raise ValueError("one weight per dataset")
        w = np.asarray(weights, dtype=np.float64) / float(sum(weights))
        raw = w * block
        counts = np.floor(raw).astype(np.int64)
        for i in np.argsort(-(raw - counts), kind="stable")[: block - int(counts.sum())]:
            counts[i] += 1
        self.sources, self.seed, self.block = sources, seed, block
        self.counts = counts
        self.starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self._slot_owner = np.repeat(np.arange(len(sources)), counts)
        self._perm_block, self._perm = -1, None

    def locate(self, global_index: int) -> tuple[int, int]:
        """(dataset, index within that dataset) of blended sample `global_index`."""
        if len(self.sources) == 1:
            return 0, global_index
        b, pos = divmod(global_index, self.block)
        if b != self._perm_block:
            self._perm = np.random.RandomState((self.seed * 7919 + b) % 2**32).permutation(self.block)
            self._perm_block = b
        slot = int(self._perm[pos])
        d = int(self._slot_owner[slot])
        return d, b * int(self.counts[d]) + slot - int(self.starts[d])

    def sample(self, global_index: int) -> np.ndarray:
        d, j = self.locate(global_index)
        return self.sources[d].sample(j)

    def batch(self, step: int, micro: int, rank: int, micro_batch: int, world: int, grad_accum: int) -> np.ndarray:
        """The micro-batch `micro` of optimizer step `step` for `rank`: shape (micro_batch, seq_length + 1)."""
        base = ((step * grad_accum + micro) * world + rank) * micro_batch
        return np.stack([self.sample(base + j) for j in range(micro_batch)])


def local_split(ref: DatasetRef, cache_dir: Path, split: str = "train") -> Path:
    """A local .bin/.idx prefix for a TokenizedDataset artifact; its files are fetched into cache_dir when they
    live in object storage."""
    from components.contract.manifest import require_manifest
    from components.contract.storage import Storage, is_s3

    storage = Storage(ref.endpoint_url)
    manifest = require_manifest(storage, ref.uri)
    if manifest.kind != "TokenizedDataset":
        raise ValueError(f"{ref.uri}: a {manifest.kind}, not a TokenizedDataset")
    if not is_s3(manifest.uri):
        return Path(manifest.file_uri(f"{split}.bin")).with_suffix("")
    local = cache_dir / manifest.digest[:20]
    for ext in (".bin", ".idx"):
        dest = local / f"{split}{ext}"
        if not dest.exists():
            storage.fetch(manifest.file_uri(f"{split}{ext}"), dest)
    return local / split


def open_blend(refs: list[DatasetRef], seq_length: int, seed: int, cache_dir: Path) -> BlendedIndex:
    sources = [SampleIndex(local_split(r, cache_dir), seq_length, seed + 1000 * i) for i, r in enumerate(refs)]
    return BlendedIndex(sources, [r.weight for r in refs], seed)
