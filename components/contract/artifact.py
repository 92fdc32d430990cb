"""What a stage function receives and writes: its inputs by role (`Artifact[Kind]`), its shard, its output.

    def run(cfg: TokenizeConfig, *, corpus: Artifact[CuratedCorpus], tokenizer: Artifact[Tokenizer],
            out: Output) -> TokenizedDataset

The keyword names are the roles of the stage graph (contract/graph.py) and the type arguments the kinds it
reads; the runner checks both against the graph before anything runs (contract/execution.py: `bind`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Generic, TypeVar

from . import kinds
from .manifest import FileEntry, Manifest
from .storage import Storage, is_s3, join

K = TypeVar("K", bound=kinds.Description)


class Artifact(Generic[K]):
    """An upstream artifact: what it promises (`info`, typed), its manifest, and local paths to its files."""

    def __init__(self, role: str, manifest: Manifest, storage: Storage, cache_dir: Path):
        self.role, self.manifest, self.storage, self.cache_dir = role, manifest, storage, cache_dir
        self.info: K = kinds.read(manifest)   # type: ignore[assignment]

    @property
    def uri(self) -> str:
        return self.manifest.uri

    @property
    def digest(self) -> str:
        return self.manifest.digest

    def path(self, name: str) -> Path:
        if not is_s3(self.manifest.uri):
            return Path(self.manifest.file_uri(name))
        local = self.cache_dir / self.manifest.digest[:20] / name
        if not local.exists():
            self.storage.fetch(self.manifest.file_uri(name), local)
        return local

    def local_dir(self) -> Path:
        for f in self.manifest.files:
            self.path(f.name)
        return Path(self.manifest.uri) if not is_s3(self.manifest.uri) else self.cache_dir / self.manifest.digest[:20]

    def paths(self, prefix: str, suffix: str = "") -> list[Path]:
        return [self.path(f.name) for f in self.manifest.files_under(prefix) if f.name.endswith(suffix)]

    def parquet(self, name: str):
        """One of its Parquet files, read in place (ranged reads on S3)."""
        return self.storage.open_parquet(self.manifest.file_uri(name))

    def parquet_files(self, prefix: str):
        """Its Parquet files under `prefix`, in name order, each opened only when reached."""
        return (self.parquet(f.name) for f in self.manifest.files_under(prefix) if f.name.endswith(".parquet"))


@dataclass(frozen=True)
class Shard:
    """Which part of a corpus stage's work this call does: task `rank` of `world_size`."""
    rank: int
    world_size: int

    def run_of(self, items: list, sizes: list[int]) -> list:
        """A contiguous run of `items`, balanced by size: item i goes to the shard in whose 1/world_size of the
        total its first byte falls. Shards hold consecutive items, so rank order is item order whatever the
        world size (curate numbers documents by shard and row: that keeps them in corpus order)."""
        total, before, out = max(1, sum(sizes)), 0, []
        for item, size in zip(items, sizes):
            if min(self.world_size - 1, before * self.world_size // total) == self.rank:
                out.append(item)
            before += size
        return out

    @property
    def label(self) -> str:
        return f"{self.rank}/{self.world_size}"


PART_MANIFEST = "part.json"


class Part:
    """A finished task of a corpus stage's step (its files and counts), as later steps and the reduce see it.
    Its part.json is read only when its stats or file list are asked for: a step that only reads named files of
    every earlier part (a dedup bucket reading one signature file per shard) makes one request per file."""

    def __init__(self, rank: int, uri: str, storage: Storage, cache: Path):
        self.rank, self.uri, self._storage, self._cache = rank, uri, storage, cache
        self._doc: dict | None = None

    def _part(self) -> dict:
        if self._doc is None:
            import json
            self._doc = json.loads(self._storage.read_bytes(join(self.uri, PART_MANIFEST)))
        return self._doc

    @property
    def stats(self) -> dict:
        return self._part()["stats"]

    @property
    def files(self) -> list[FileEntry]:
        return [FileEntry(**f) for f in self._part()["files"]]

    @property
    def task(self) -> dict:
        """What the task cost: seconds, peak resident memory, bytes read and written."""
        return self._part().get("task", {})

    @property
    def adopted(self) -> list[FileEntry]:
        """Files published outside the part (collect's "@stage/" segments, curate's data files)."""
        return [FileEntry(**f) for f in self._part().get("adopted", [])]

    def path(self, name: str) -> Path:
        if not is_s3(self.uri):
            return Path(self.uri) / name
        local = self._cache / name
        if not local.exists():
            self._storage.fetch(join(self.uri, name), local)
        return local

    def parquet(self, name: str):
        return self._storage.open_parquet(join(self.uri, name))

    def read_bytes(self, name: str) -> bytes:
        return self._storage.read_bytes(join(self.uri, name))


@dataclass
class Output:
    """Where a stage writes its artifact, and what it may know about where it runs (never what it computes)."""
    dir: Path                                          # write the artifact's files here
    key: str                                           # the artifact's content address
    uri: str                                           # where the artifact is published
    storage: Storage                                   # configured for this run (endpoint included)
    stage_root: str                                    # <artifact_root>/<stage>: home of "@stage/" pieces
    artifact_root: str
    workdir: Path                                      # this machine's scratch: caches, checkpoints, logs
    run_id: str | None = None                          # the stage's MLflow run (step metrics, models)
    tracking_uri: str | None = None                    # MLflow, when lineage is recorded
    log: Callable[[str], None] = print
    adopted: list[FileEntry] = field(default_factory=list)  # already-published files the manifest lists
    reports: list[Path] = field(default_factory=list)  # small files also logged to MLflow

    @property
    def cache_dir(self) -> Path:
        return self.workdir / "cache"
