"""GPT-NeoX-style sample index over indexed datasets: documents back to back (a dataset's segments in corpus
order, components/tokenizer/segments.py), cut into windows of seq_length + 1 tokens (inputs and shifted labels),
visited in a seeded permutation per epoch; several datasets are blended by weight. `stage` puts datasets from
object storage on the volume the nodes share, once, before the process group starts.

A sample is addressed by its global position, so any step of any rank can be recomputed from (seed, step):
resuming needs no data-loader state, and the samples of a step do not depend on the world size.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from components.tokenizer.segments import TokenStream, read_segments, split_of

from .args import DatasetRef

# How long a process waits for the other nodes to finish staging their share of the data.
STAGE_TIMEOUT_S = 6 * 3600


class SampleIndex:
    def __init__(self, tokens: TokenStream, seq_length: int, seed: int, name: str = "dataset"):
        self.tokens = tokens
        self.seq_length = seq_length
        self.seed = seed
        self.num_samples = (len(self.tokens) - 1) // seq_length
        if self.num_samples < 1:
            raise ValueError(f"{name}: {len(self.tokens)} tokens, fewer than one sample of {seq_length + 1}")
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


def unseen_segments(ref: DatasetRef, split: str = "train"):
    """(storage, manifest, the split's segments less those of ref.exclude): what training on `ref` reads."""
    from components.contract.manifest import require_manifest
    from components.contract.storage import Storage

    storage = Storage(ref.endpoint_url)
    manifest = require_manifest(storage, ref.uri)
    if manifest.kind != "TokenizedDataset":
        raise ValueError(f"{ref.uri}: a {manifest.kind}, not a TokenizedDataset")
    segments = split_of(read_segments(manifest, storage), split)
    if ref.exclude:       # continued pretraining on what is new: the segments the model has not seen
        seen = {s.prefix for s in split_of(read_segments(require_manifest(storage, ref.exclude), storage), split)}
        segments = [s for s in segments if s.prefix not in seen]
    return storage, manifest, segments


def nothing_new(ref: DatasetRef, split: str = "train") -> str:
    return (f"every {split} segment of {ref.uri} is in {ref.exclude}, which the model was trained on: nothing new "
            "to train on (pretrain.train_on: all trains on everything again)")


def _split(ref: DatasetRef, split: str, max_tokens: int | None = None):
    """`max_tokens`: only the leading segments that hold that many tokens (evaluation during training reads the
    first eval_tokens of the validation split, never the whole split: at 1.2 TB it is tens of GB)."""
    storage, manifest, segments = unseen_segments(ref, split)
    if not segments:
        raise ValueError(nothing_new(ref, split))
    if max_tokens is not None:
        need, kept = max_tokens, []
        for s in segments:
            if need <= 0:
                break
            kept.append(s)
            need -= s.tokens
        segments = kept
    return storage, manifest, segments


def _local(manifest, name: str, cache_dir: Path, entries: dict) -> Path:
    """Where a dataset file is read: in place when the artifact is local; else a copy in cache_dir named by the
    checksum of its segment's .bin, so datasets that share a segment (a retraining's) share its copy.
    `entries`: the manifest's files by name."""
    from components.contract.storage import is_s3

    if not is_s3(manifest.uri):
        return Path(manifest.file_uri(name))
    prefix, ext = name.rsplit(".", 1)
    return cache_dir / "segments" / entries[f"{prefix}.bin"].sha256[:32] / f"{Path(prefix).name}.{ext}"


def open_split(ref: DatasetRef, cache_dir: Path, split: str = "train", max_tokens: int | None = None) -> TokenStream:
    """One split of a TokenizedDataset as one token stream, its segments in corpus order (from object storage:
    the copies `stage` put in cache_dir); `max_tokens`: its leading segments only, as `_split` says."""
    _, manifest, segments = _split(ref, split, max_tokens)
    entries = {f.name: f for f in manifest.files}
    prefixes = [_local(manifest, f"{s.prefix}.bin", cache_dir, entries).with_suffix("") for s in segments]
    if missing := [p for p in prefixes if not p.with_suffix(".bin").exists()]:
        raise FileNotFoundError(f"{ref.uri}: {len(missing)} of its {len(prefixes)} {split} segments are not in "
                                f"{cache_dir} (first: {missing[0]}); stage them first (training.data.stage)")
    return TokenStream(prefixes, [s.tokens for s in segments], manifest.stats["dtype"])


def stage(refs: list[DatasetRef], cache_dir: Path, node: int = 0, nodes: int = 1, fetch: bool = True,
          timeout_s: float = STAGE_TIMEOUT_S, poll_s: float = 2.0, split: str = "train",
          max_tokens: int | None = None) -> dict:
    """Put the datasets' files in `cache_dir` (a volume every node mounts) before training starts: each of the
    `nodes` machines fetches its share (balanced by bytes; `fetch` is false for all but one process per node)
    and leaves a marker; every process waits for all the nodes' markers (a stat per node, not per file), then
    checks every file once. A file already there at its size is not fetched again: a restarted job, or a
    retraining whose segments were staged before, fetches only what is new. Artifacts on local disk are read in
    place. Returns what this process fetched."""
    from components.contract.address import stable_hash
    from components.contract.storage import is_s3
    from components.corpus.sources import assign_by_bytes

    files: dict[Path, tuple] = {}     # local path -> (storage, uri, bytes): a segment two datasets share, once
    for ref in refs:
        storage, manifest, segments = _split(ref, split, max_tokens)
        if not is_s3(manifest.uri):
            continue
        entries = {f.name: f for f in manifest.files}
        for s in segments:
            for name in (f"{s.prefix}.bin", f"{s.prefix}.idx"):
                files.setdefault(_local(manifest, name, cache_dir, entries),
                                 (storage, manifest.file_uri(name), entries[name].bytes))
    fetched = {"files": 0, "bytes": 0, "staged": len(files)}
    if not files:
        return fetched
    dests = sorted(files)
    marks = cache_dir / ".staged" / stable_hash([[str(d), files[d][2]] for d in dests])[:20]
    if fetch:
        for dest, owner in zip(dests, assign_by_bytes([files[d][2] for d in dests], nodes)):
            storage, uri, size = files[dest]
            if owner == node and not _present(dest, size):
                storage.fetch(uri, dest)
                fetched["files"] += 1
                fetched["bytes"] += size
        marks.mkdir(parents=True, exist_ok=True)
        (marks / f"node-{node}-of-{nodes}").touch()
    deadline = time.time() + timeout_s
    while waiting := [n for n in range(nodes) if not (marks / f"node-{n}-of-{nodes}").exists()]:
        if time.time() > deadline:
            raise RuntimeError(f"training data: node(s) {waiting[:8]} of {nodes} have not staged their share in "
                               f"{cache_dir} after {timeout_s:.0f}s; is every node's pod running?")
        time.sleep(poll_s)
    if missing := [d for d in dests if not _present(d, files[d][2])]:
        raise RuntimeError(f"training data: every node staged its share, yet {len(missing)} of {len(dests)} files "
                           f"are missing or of another size in {cache_dir} (first: {missing[0]})")
    return fetched


def stage_model(uri: str, endpoint_url: str | None, cache_dir: Path, fetch: bool,
                timeout_s: float = STAGE_TIMEOUT_S, poll_s: float = 2.0) -> Path:
    """An init_from model directory on object storage, copied once to the shared volume (by the one process
    with `fetch`; the others wait for its marker)."""
    from components.contract.address import stable_hash
    from components.contract.storage import Storage, join

    dest = cache_dir / "models" / stable_hash(uri)[:20]
    done = dest / ".staged"
    if fetch and not done.exists():
        storage = Storage(endpoint_url)
        names = storage.list_files(uri)
        if not names:
            raise FileNotFoundError(f"init_from {uri}: no files there")
        for name in names:
            storage.fetch(join(uri, name), dest / name)
        done.touch()
    deadline = time.time() + timeout_s
    while not done.exists():
        if time.time() > deadline:
            raise RuntimeError(f"init_from {uri}: not staged in {dest} after {timeout_s:.0f}s (node 0 fetches it)")
        time.sleep(poll_s)
    return dest


def _present(path: Path, size: int) -> bool:
    try:
        return path.stat().st_size == size
    except FileNotFoundError:
        return False


def open_blend(refs: list[DatasetRef], seq_length: int, seed: int, cache_dir: Path) -> BlendedIndex:
    sources = [SampleIndex(open_split(r, cache_dir), seq_length, seed + 1000 * i, r.uri) for i, r in enumerate(refs)]
    return BlendedIndex(sources, [r.weight for r in refs], seed)
