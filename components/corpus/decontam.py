"""Decontamination: a document that contains an evaluation item is dropped (reason `contaminated`).

The evaluation sets the evaluate stage scores (KoBEST's tasks, the test split by default) are indexed as character
n-grams of *normalised* text: NFKC, case-folded, every character that is not a letter or a digit removed. Spacing,
punctuation and line breaks therefore cannot hide an item (Korean spacing varies from writer to writer: "할 수 있다",
"할수있다"), and no word segmentation is needed. Word n-grams split the English way (NeMo-Curator's task
decontamination, datatrove's decontaminator) miss an item whose spacing was changed.

The decision, per item (an item has several fields: BoolQ's passage and question, COPA's premise and alternatives):
- a field is *found* in a document when at least `coverage` of its distinct n-grams occur in it (an edit inside a
  long passage leaves most of its n-grams intact);
- the item is in the document when one of its long fields is found (at least `long_field` normalised characters: a
  BoolQ passage or a HellaSwag context, the text as a Wikipedia page holds it), or when every field of at least
  `gram` characters is found and they add up to at least `min_item` characters (COPA, WiC, SentiNeg: a short
  sentence alone also occurs in clean text, so only the whole item is evidence);
- a field shorter than `gram` is looked for whole (a COPA alternative of five letters), once the rest is found;
- an item shorter than `strong_item` normalised characters in all (most SentiNeg reviews: "판매자가 친절해요") also
  occurs in clean text, alone: such a *weak* item counts only when the document holds at least `weak_items` of its
  task (a page of the test set); an item shorter than `min_item` cannot be told from ordinary text even so: it is
  counted as `unmatchable` per task (the data card shows it), not silently skipped.
An n-gram shared by more than `common` fields is a formula ("습니다", "하였다"), not evidence: it is left out of the
index and of the coverage.

Cost: one set of the document's distinct n-grams (a slice and a hash per character) intersected with the index's
set; the few shared n-grams are resolved to fields with numpy. The index holds ~0.4 M n-grams for KoBEST's test
split (~30 MB per process), built in about a second.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

# The text fields of each task's items, as components/evaluation/kobest.py converts them (labels are not text).
FIELDS = {"boolq": ("paragraph", "question"), "copa": ("premise", "alternative_1", "alternative_2"),
          "hellaswag": ("context", "ending_1", "ending_2", "ending_3", "ending_4"), "sentineg": ("sentence",),
          "wic": ("context_1", "context_2")}
_NOT_ALNUM = re.compile(r"[\W_]+")


def normalise(text: str) -> str:
    return _NOT_ALNUM.sub("", unicodedata.normalize("NFKC", text).casefold())


@dataclass
class Item:
    task: str
    key: str                    # "<split>:<row>" in the task's file
    fields: list[str]           # normalised
    matchable: bool = True      # set by the index: False when too short to tell from ordinary text
    strong: bool = True         # set by the index: False when it counts only beside others of its task


def kobest_items(kobest_dir: str | Path, tasks: list[str], splits: list[str]) -> list[Item]:
    from ..evaluation.kobest_data import load_split
    items = []
    for task in tasks:
        for split in splits:
            for row, r in enumerate(load_split(Path(kobest_dir), task, split)):
                items.append(Item(task, f"{split}:{row}", [normalise(r[f]) for f in FIELDS[task]]))
    return items


def items_digest(items: list[Item]) -> str:
    """What the index is made of: a changed evaluation file changes it (and the curate stage's address)."""
    h = hashlib.sha256()
    for it in items:
        h.update("\x1f".join([it.task, it.key, *it.fields]).encode("utf-8") + b"\x1d")
    return h.hexdigest()[:16]


@dataclass
class Index:
    gram: int               # n-gram length in normalised characters
    coverage: float         # share of a field's n-grams a document must hold for the field to be found
    long_field: int         # a field this long is evidence by itself
    min_item: int           # a shorter item is unmatchable
    strong_item: int        # a shorter item is weak: it counts only beside `weak_items` - 1 others of its task
    weak_items: int
    common: int             # an n-gram in more fields than this is left out
    items: list[Item]

    def __post_init__(self):
        self.unmatchable: dict[str, int] = {}
        self.indexed: dict[str, int] = {}
        field_item, is_long, hashes, owners = [], [], [], []
        self._required: list[int] = []      # per item: indexed fields that must all be found (rule 2)
        self._tiny: list[list[str]] = []    # per item: fields under `gram` characters, looked for whole
        for i, it in enumerate(self.items):
            usable = [f for f in it.fields if len(f) >= self.gram]
            tiny = [f for f in it.fields if 0 < len(f) < self.gram]
            self._required.append(len(usable))
            self._tiny.append(tiny)
            if not usable or sum(map(len, usable + tiny)) < self.min_item:
                self.unmatchable[it.task] = self.unmatchable.get(it.task, 0) + 1
                it.matchable = False
                continue
            self.indexed[it.task] = self.indexed.get(it.task, 0) + 1
            for f in usable:
                fid = len(field_item)
                field_item.append(i)
                is_long.append(len(f) >= self.long_field)
                grams = {hash(f[j:j + self.gram]) for j in range(len(f) - self.gram + 1)}
                hashes += grams
                owners += [fid] * len(grams)
        for it in self.items:
            it.strong = sum(map(len, it.fields)) >= self.strong_item
        self._strong = np.asarray([it.strong for it in self.items], dtype=bool)
        keys, fids = np.asarray(hashes, dtype=np.int64), np.asarray(owners, dtype=np.int64)
        order = np.lexsort((fids, keys))
        keys, fids = keys[order], fids[order]
        uniq, count = np.unique(keys, return_counts=True)
        keep = np.repeat(count <= self.common, count)
        self._keys, self._fids = keys[keep], fids[keep]
        self._set = set(uniq[count <= self.common].tolist())
        self._field_item = np.asarray(field_item, dtype=np.int64)
        self._is_long = np.asarray(is_long, dtype=bool)
        self._field_grams = np.bincount(self._fids, minlength=len(field_item))
        self._needed = np.ceil(self.coverage * self._field_grams - 1e-9)

    def find(self, text: str) -> list[Item]:
        """The items `text` contains that count (usually none): strong ones, and weak ones when at least
        `weak_items` of one task are there (a page of the test set, not a phrase that also occurs in reviews)."""
        s = normalise(text)
        g = self.gram
        if len(s) < g:
            return []
        shared = {hash(s[j:j + g]) for j in range(len(s) - g + 1)} & self._set
        if not shared:
            return []
        h = np.fromiter(shared, dtype=np.int64, count=len(shared))
        lo, hi = np.searchsorted(self._keys, h, "left"), np.searchsorted(self._keys, h, "right")
        n = hi - lo
        rows = np.repeat(lo - np.cumsum(n) + n, n) + np.arange(n.sum())
        fids, hits = np.unique(self._fids[rows], return_counts=True)
        found = fids[(hits >= self._needed[fids]) & (self._field_grams[fids] > 0)]
        if not len(found):
            return []
        items = self._field_item[found]
        whole = set(items[self._is_long[found]].tolist())
        ids, per_item = np.unique(items, return_counts=True)
        whole.update(int(i) for i, c in zip(ids, per_item)
                     if c == self._required[i] and all(f in s for f in self._tiny[i]))
        strong = [i for i in whole if self._strong[i]]
        weak: dict[str, list[int]] = {}
        for i in whole:
            if not self._strong[i]:
                weak.setdefault(self.items[i].task, []).append(i)
        strong += [i for ws in weak.values() if len(ws) >= self.weak_items for i in ws]
        return [self.items[i] for i in sorted(strong)]


def build_index(kobest_dir: str | Path, tasks: list[str], splits: list[str], **settings) -> Index:
    return Index(items=kobest_items(kobest_dir, tasks, splits), **settings)


SETTINGS = ("gram", "coverage", "long_field", "min_item", "strong_item", "weak_items", "common")


def _key(cfg) -> tuple:
    return (str(Path(cfg.kobest_dir).resolve()), tuple(cfg.tasks), tuple(cfg.splits),
            *(getattr(cfg, k) for k in SETTINGS))


@lru_cache(maxsize=4)
def _index(key: tuple) -> Index:
    kobest_dir, tasks, splits, *settings = key
    return build_index(kobest_dir, list(tasks), list(splits), **dict(zip(SETTINGS, settings)))


def index_for(cfg) -> Index:
    """The index a DecontaminateConfig describes: built once per process (the stage's address, the cleaning
    chain and the reduce all ask for it)."""
    return _index(_key(cfg))


def describe(cfg) -> dict:
    """What the curate stage's address and the artifact record of it: the settings and the items' digest (the
    files' path is not part of it: the same items elsewhere are the same decontamination)."""
    index = index_for(cfg)
    return {"tasks": list(cfg.tasks), "splits": list(cfg.splits), **{k: getattr(cfg, k) for k in SETTINGS},
            "items_digest": items_digest(index.items), "items": index.indexed, "unmatchable": index.unmatchable,
            "weak": _weak(index), "files": _files(cfg)}


def _files(cfg) -> dict[str, str]:
    """The TSVs read, with their digests as evaluate records the ones it scores (the gate compares them)."""
    from ..contract.manifest import sha256_file
    from ..evaluation.kobest_data import split_file
    names = [split_file(t, s) for t in cfg.tasks for s in cfg.splits]
    return {n: sha256_file(Path(cfg.kobest_dir) / n)[:16] for n in sorted(names)}


def _weak(index: Index) -> dict[str, int]:
    out: dict[str, int] = {}
    for it in index.items:
        if it.matchable and not it.strong:
            out[it.task] = out.get(it.task, 0) + 1
    return out
