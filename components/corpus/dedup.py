"""Deduplication of the whole corpus, in steps that never hold the corpus in one process.

Signatures (per shard, per document): a 128-bit hash of the normalised text (exact duplicates) and MinHash-LSH
band keys (near duplicates): character shingles hashed with numpy, MinHash over them by rensa (Rust), cut into b
bands of r rows chosen for the configured Jaccard threshold, each band hashed with its index to 64 bits.
Documents are numbered in corpus order, node = shard << 32 | row, so the smaller node is the earlier document.

- `exact_pairs` (per hash-range bucket): within each group of equal hashes, (first, copy) for every later copy.
- `band_edges` (per bucket): within each group of equal band keys, (first, other) for every later document.
- `components` (once, over the edges only): the connected components of the near-duplicate graph, each
  document's root being the component's first document. Its memory follows the number of duplicates.
The first occurrence of each document (exact) and of each component (near) is kept: the same kept set as one
global pass over all documents (`first_occurrence`, `near_duplicate_roots`, kept as the reference the tests
compare against).
"""
from __future__ import annotations

import hashlib
import re
import unicodedata

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

_WS = re.compile(r"\s+")
_FNV = np.array([pow(0x100000001B3, j, 2**64) for j in range(64)], dtype=np.uint64)
EXACT = np.dtype([("hi", "<u8"), ("lo", "<u8"), ("row", "<u4")])     # one shard's signature rows
# a band key, its row, and the low word of the row's exact hash (0 when exact dedup is off): an exact copy shares
# every band key with its original, and is left out of the band groups rather than sent on as pairs
BAND = np.dtype([("key", "<u8"), ("row", "<u4"), ("lo", "<u8")])
PAIR = np.dtype([("a", "<u8"), ("b", "<u8")])                       # (first, later) nodes


def normalise(text: str) -> str:
    return _WS.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


def exact_hash(text: str) -> bytes:
    return hashlib.blake2b(normalise(text).encode("utf-8"), digest_size=16).digest()


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, elementwise on uint64 (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return h ^ (h >> np.uint64(31))


class MinHasher:
    """Band keys for documents, in batches: numpy hashes the character shingles, rensa takes the minima over
    `num_perm` permutations (a fixed seed: the same text has the same keys in every process)."""

    def __init__(self, num_perm: int, shingle: int, threshold: float, seed: int = 1):
        from datasketch.lsh import _optimal_param

        self.bands, self.rows = _optimal_param(threshold, num_perm, 0.5, 0.5)
        self.num_perm, self.shingle, self.seed = num_perm, shingle, seed

    def _shingles(self, text: str) -> np.ndarray:
        cp = np.frombuffer(normalise(text).encode("utf-32-le"), dtype="<u4").astype(np.uint64)
        k = self.shingle
        if len(cp) < k:
            cp = np.pad(cp, (0, k - len(cp)))
        with np.errstate(over="ignore"):
            return np.unique(_mix(sliding_window_view(cp, k) @ _FNV[:k]))

    def signatures(self, texts: list[str]) -> np.ndarray:
        """(len(texts), bands) uint64 band keys; a band's index is part of its key."""
        import rensa

        if not texts:
            return np.zeros((0, self.bands), dtype=np.uint64)
        hashes = [self._shingles(t) for t in texts]
        offsets = np.zeros(len(hashes) + 1, dtype=np.uint64)
        offsets[1:] = np.cumsum([len(h) for h in hashes])
        digest = rensa.RMinHash.digest_matrix_from_flat_token_hashes(np.concatenate(hashes), offsets,
                                                                    self.num_perm, self.seed)
        m = np.asarray(digest.to_rows(), dtype=np.uint64)[:, :self.bands * self.rows]
        keys = np.empty((len(texts), self.bands), dtype=np.uint64)
        for b in range(self.bands):
            h = np.full(len(texts), (b + 1) * 0x9E3779B97F4A7C15 % 2**64, dtype=np.uint64)
            for c in range(b * self.rows, (b + 1) * self.rows):
                h = _mix(h ^ m[:, c])
            keys[:, b] = h
        return keys

    def bands_of(self, text: str) -> bytes:
        """One document's band keys (uint64, little endian)."""
        return self.signatures([text])[0].astype("<u8").tobytes()


# ------------------------------------------------------------------------------- the fan-out steps


def node_ids(shard: int, rows: np.ndarray) -> np.ndarray:
    return (np.uint64(shard) << np.uint64(32)) | rows.astype(np.uint64)


def exact_pairs(hi: np.ndarray, lo: np.ndarray, node: np.ndarray) -> np.ndarray:
    """(first, copy) nodes for every document whose hash an earlier document has."""
    order = np.lexsort((node, lo, hi))
    hi, lo, node = hi[order], lo[order], node[order]
    same = (hi[1:] == hi[:-1]) & (lo[1:] == lo[:-1])
    start = np.flatnonzero(np.concatenate([[True], ~same]))        # first index of each group
    group = np.cumsum(np.concatenate([[True], ~same])) - 1
    out = np.empty(int(same.sum()), dtype=PAIR)
    copies = np.flatnonzero(np.concatenate([[False], same]))
    out["a"], out["b"] = node[start[group[copies]]], node[copies]
    return out


def band_edges(key: np.ndarray, node: np.ndarray, copy_of: np.ndarray | None = None) -> np.ndarray:
    """(first, other) nodes for every document that shares a band key with an earlier one (unique pairs).
    `copy_of`: an exact-hash word per row; of the rows with equal key and word only the first takes part (the
    exact copies, which the exact pass removes: their edges would only be dropped later)."""
    if not len(key):
        return np.zeros(0, dtype=PAIR)
    if copy_of is not None:
        order = np.lexsort((node, copy_of, key))
        key, node, copy_of = key[order], node[order], copy_of[order]
        first = np.concatenate([[True], (key[1:] != key[:-1]) | (copy_of[1:] != copy_of[:-1])])
        key, node = key[first], node[first]
    order = np.lexsort((node, key))
    key, node = key[order], node[order]
    same = key[1:] == key[:-1]
    start = np.flatnonzero(np.concatenate([[True], ~same]))
    group = np.cumsum(np.concatenate([[True], ~same])) - 1
    later = np.flatnonzero(np.concatenate([[False], same]))
    pairs = np.empty(len(later), dtype=PAIR)
    pairs["a"], pairs["b"] = node[start[group[later]]], node[later]
    return np.unique(pairs)


def components(edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(nodes, root of each) over the graph the edges make; a root is its component's smallest node."""
    if not len(edges):
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.uint64)
    nodes, idx = np.unique(np.concatenate([edges["a"], edges["b"]]), return_inverse=True)
    a, b = idx[:len(edges)], idx[len(edges):]
    label = np.arange(len(nodes))
    while True:                       # min-label propagation along the edges, then pointer jumping
        new = label.copy()
        np.minimum.at(new, a, label[b])
        np.minimum.at(new, b, label[a])
        new = new[new]
        if np.array_equal(new, label):
            return nodes, nodes[label]
        label = new


# ------------------------------------------------------------------- the global reference (tests)


def first_occurrence(hashes: np.ndarray) -> np.ndarray:
    """Boolean mask: True where a 16-byte hash appears for the first time (hashes: (n, 2) uint64)."""
    keep = np.zeros(len(hashes), dtype=bool)
    if len(hashes):
        _, first = np.unique(hashes, axis=0, return_index=True)
        keep[first] = True
    return keep


def near_duplicate_roots(bands: np.ndarray) -> np.ndarray:
    """For each document, the smallest index of its near-duplicate cluster (bands: (n, b) uint64), computed over
    all documents at once: what the fan-out steps must agree with."""
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
