"""GPT-NeoX-style sample index over an indexed dataset: documents back to back, cut into windows of
seq_length + 1 tokens (inputs and shifted labels), visited in a seeded permutation per epoch.

A sample is addressed by its global position, so any step of any rank can be recomputed from (seed, step):
resuming needs no data-loader state.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from components.indexed_dataset import IndexedDataset


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

    def batch(self, step: int, micro: int, rank: int, micro_batch: int, world: int, grad_accum: int) -> np.ndarray:
        """The micro-batch `micro` of optimizer step `step` for `rank`: shape (micro_batch, seq_length + 1)."""
        base = ((step * grad_accum + micro) * world + rank) * micro_batch
        return np.stack([self.sample(base + j) for j in range(micro_batch)])
