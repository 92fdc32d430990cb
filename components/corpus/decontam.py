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
- an item shorter than `min_item` normalised characters cannot be told from ordinary text: it is counted as
  `unmatchable` per task (the data card shows it), not silently skipped.
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
from dataclasses import dataclass, field
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


def kobest_items(kobest_dir: str | Path, tasks: list[str], splits: list[str]) -> list[Item]:
    from ..evaluation.kobest import load_split
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
    gram: int = 6               # n-gram length in normalised characters
    coverage: float = 0.8       # share of a field's n-grams a document must hold for the field to be found
    long_field: int = 50        # a field this long is evidence by itself
    min_item: int = 12          # a shorter item is unmatchable
    common: int = 50            # an n-gram in more fields than this is left out
    items: list[Item] = field(default_factory=list)

    def __post_init__(self):
        self.unmatchable: dict[str, int] = {}
        self.indexed: dict[str, int] = {}
        field_item, is_long, hashes, owners = [], [], [], []
        self._required: list[int] = []      # per item: fields that must all be found (rule 2)
        for i, it in enumerate(self.items):
            usable = [f for f in it.fields if len(f) >= self.gram]
            if sum(map(len, usable)) < self.min_item:
                self.unmatchable[it.task] = self.unmatchable.get(it.task, 0) + 1
                it.matchable = False
                self._required.append(-1)
                continue
            self.indexed[it.task] = self.indexed.get(it.task, 0) + 1
            self._required.append(len(usable))
            for f in usable:
                fid = len(field_item)
                field_item.append(i)
                is_long.append(len(f) >= self.long_field)
                grams = {hash(f[j:j + self.gram]) for j in range(len(f) - self.gram + 1)}
                hashes += grams
                owners += [fid] * len(grams)
        keys, fids = np.asarray(hashes, dtype=np.int64), np.asarray(owners, dtype=np.int64)
        order = np.lexsort((fids, keys))
        keys, fids = keys[order], fids[order]
        uniq, start, count = np.unique(keys, return_index=True, return_counts=True)
        keep = np.repeat(count <= self.common, count)
        self._keys, self._fids = keys[keep], fids[keep]
        self._set = set(uniq[count <= self.common].tolist())
        self._field_item = np.asarray(field_item, dtype=np.int64)
        self._is_long = np.asarray(is_long, dtype=bool)
        self._field_grams = np.bincount(self._fids, minlength=len(field_item))
        self._needed = np.ceil(self.coverage * self._field_grams - 1e-9)

    def find(self, text: str) -> list[Item]:
        """The items `text` contains (usually none)."""
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
        whole.update(int(i) for i, c in zip(ids, per_item) if c == self._required[i])
        return [self.items[i] for i in sorted(whole)]


def build_index(kobest_dir: str | Path, tasks: list[str], splits: list[str], **settings) -> Index:
    return Index(items=kobest_items(kobest_dir, tasks, splits), **settings)


def _settings(cfg) -> dict:
    return {k: getattr(cfg, k) for k in ("gram", "coverage", "long_field", "min_item", "common")}


def index_for(cfg) -> Index:
    """The index a DecontaminateConfig describes."""
    return build_index(cfg.kobest_dir, list(cfg.tasks), list(cfg.splits), **_settings(cfg))


def describe(cfg) -> dict:
    """What the curate stage's address and the artifact record of it: the settings and the items' digest (the
    files' path is not part of it: the same items elsewhere are the same decontamination)."""
    index = index_for(cfg)
    return {"tasks": list(cfg.tasks), "splits": list(cfg.splits), **_settings(cfg),
            "items_digest": items_digest(index.items), "items": index.indexed, "unmatchable": index.unmatchable}
