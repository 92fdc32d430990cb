"""Deduplication across the whole corpus, as map and reduce steps.

Map (per shard, per document): a 128-bit hash of the normalised text (exact duplicates) and MinHash-LSH band
hashes (near duplicates): MinHash over character shingles (datasketch), cut into b bands of r rows chosen for the
configured Jaccard threshold, each band hashed to 64 bits.
Reduce (global): documents are numbered in shard order; for exact duplicates the first occurrence is kept; for
near duplicates, documents sharing any band hash are joined (union-find over numpy arrays) and each cluster keeps
its first document. Only hashes are held in memory (16 + 8*b bytes per document), never texts.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata

import numpy as np

_WS = re.compile(r"\s+")
_CHUNK = 2048


def normalise(text: str) -> str:
    return _WS.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


def exact_hash(text: str) -> bytes:
    return hashlib.blake2b(normalise(text).encode("utf-8"), digest_size=16).digest()


class MinHasher:
    def __init__(self, num_perm: int, shingle: int, threshold: float, seed: int = 1):
        from datasketch import MinHash
        from datasketch.lsh import _optimal_param
        import xxhash

        self.bands, self.rows = _optimal_param(threshold, num_perm, 0.5, 0.5)
        self.shingle = shingle
        self._h32 = xxhash.xxh32_intdigest
        self._h64 = xxhash.xxh64_intdigest
        self._template = MinHash(num_perm=num_perm, seed=seed, hashfunc=self._h32)

    def bands_of(self, text: str) -> bytes:
        """b band hashes (uint64, little endian) of one document."""
        t = normalise(text)
        k = self.shingle
        shingles = {t[i:i + k].encode("utf-8") for i in range(max(1, len(t) - k + 1))}
        m = self._template.copy()
        m.clear()
        # datasketch builds (shingles x permutations) uint64 temporaries: feed it in chunks so a 100 KB document
        # costs megabytes, not a gigabyte
        shingles = list(shingles)
        for i in range(0, len(shingles), _CHUNK):
            m.update_batch(shingles[i:i + _CHUNK])
        hv = m.hashvalues
        out = np.empty(self.bands, dtype="<u8")
        for b in range(self.bands):
            out[b] = self._h64(hv[b * self.rows:(b + 1) * self.rows].tobytes())
        return out.tobytes()


def first_occurrence(hashes: np.ndarray) -> np.ndarray:
    """Boolean mask: True where a 16-byte hash appears for the first time (hashes: (n, 2) uint64)."""
    keep = np.zeros(len(hashes), dtype=bool)
    if len(hashes):
        _, first = np.unique(hashes, axis=0, return_index=True)
        keep[first] = True
    return keep


def near_duplicate_roots(bands: np.ndarray) -> np.ndarray:
    """For each document, the smallest index of its near-duplicate cluster (bands: (n, b) uint64)."""
    n = len(bands)
    parent = np.arange(n, dtype=np.int64)

    def find(i: int) -> int:
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:
            parent[i], i = root, parent[i]
        return root

    for b in range(bands.shape[1] if n else 0):
        col = bands[:, b]
        order = np.argsort(col, kind="stable")
        sorted_col = col[order]
        same = np.flatnonzero(sorted_col[1:] == sorted_col[:-1])
        for j in same:              # adjacent equal band hashes: join their clusters, smaller index as root
            a, c = find(int(order[j])), find(int(order[j + 1]))
            if a != c:
                parent[max(a, c)] = min(a, c)
    while True:                     # pointer jumping until every document points at its root
        grand = parent[parent]
        if np.array_equal(grand, parent):
            return parent
        parent = grand
