"""The artifact contract: a directory (local or s3://) whose `manifest.json`, written last, makes it complete.

manifest.json fields: kind, digest, key, stage, uri, inputs, params, files, stats, code_version, mlflow_run_id,
created_at. `key` is the content address (stage, stage code, params, input digests) that names the directory;
`digest` is a checksum of what the directory holds (kind + every file's name and sha256), so two runs that
produce the same bytes have the same digest whatever their keys.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import StageFailed, UserError
from .address import stable_hash
from .storage import Storage, join

MANIFEST = "manifest.json"
STAGE_PREFIX = "@stage/"
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class FileEntry:
    name: str       # path relative to the artifact directory, '/'-separated
    bytes: int
    sha256: str


@dataclass
class InputRef:
    role: str       # the name the consuming stage knows it by (raw, corpus, tokenizer, ...)
    kind: str
    uri: str
    digest: str
    mlflow_run_id: str | None = None


@dataclass
class Manifest:
    kind: str
    stage: str
    key: str
    uri: str
    digest: str = ""
    inputs: list[InputRef] = field(default_factory=list)
    params: dict = field(default_factory=dict)
    files: list[FileEntry] = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    code_version: dict = field(default_factory=dict)
    mlflow_run_id: str | None = None
    created_at: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2, sort_keys=False)

    @classmethod
    def from_json(cls, text: str) -> "Manifest":
        d = json.loads(text)
        d["inputs"] = [InputRef(**i) for i in d.get("inputs", [])]
        d["files"] = [FileEntry(**f) for f in d.get("files", [])]
        return cls(**d)

    def file_uri(self, name: str) -> str:
        # "@stage/..." names live beside the artifact, under its stage's root: immutable, content-addressed
        # pieces shared by several artifacts (collect's per-file segments), so unchanged files are not redone.
        if name.startswith(STAGE_PREFIX):
            return join(self.uri.rstrip("/").rsplit("/", 1)[0], name[len(STAGE_PREFIX):])
        return join(self.uri, name)

    def files_under(self, prefix: str) -> list[FileEntry]:
        return [f for f in self.files if f.name.startswith(prefix)]


def content_digest(kind: str, files: list[FileEntry]) -> str:
    return stable_hash({"kind": kind, "files": sorted((f.name, f.sha256) for f in files)})


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def read_manifest(storage: Storage, uri: str) -> Manifest | None:
    """The manifest of a complete artifact, or None if the directory is absent or incomplete."""
    murl = join(uri, MANIFEST)
    if not storage.exists(murl):
        return None
    return Manifest.from_json(storage.read_bytes(murl).decode("utf-8"))


def require_manifest(storage: Storage, uri: str) -> Manifest:
    m = read_manifest(storage, uri)
    if m is None:
        raise UserError(f"no complete artifact at {uri} (manifest.json missing): run the upstream stage first")
    return m


def publish_dir(storage: Storage, local_dir: Path, uri: str, prefix: str = "") -> list[FileEntry]:
    """Move every file of `local_dir` to `uri/prefix/...` atomically; return their entries (sorted)."""
    entries = []
    for path in sorted(p for p in local_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(local_dir).as_posix()
        name = f"{prefix.strip('/')}/{rel}" if prefix else rel
        entries.append(FileEntry(name=name, bytes=path.stat().st_size, sha256=sha256_file(path)))
        storage.put_file(path, join(uri, name), move=True)
    return entries


def write_manifest(storage: Storage, manifest: Manifest) -> Manifest:
    if not manifest.files:
        raise StageFailed(f"{manifest.stage}: refusing to publish an artifact with no files")
    manifest.files = sorted(manifest.files, key=lambda f: f.name)
    manifest.digest = content_digest(manifest.kind, manifest.files)
    manifest.created_at = manifest.created_at or now_iso()
    storage.write_bytes(join(manifest.uri, MANIFEST), manifest.to_json().encode("utf-8"))
    return manifest


def verify(storage: Storage, manifest: Manifest, workdir: Path | None = None) -> list[str]:
    """Problems found checking every listed file's size and checksum (empty list: all good)."""
    import tempfile

    problems = []
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        for f in manifest.files:
            uri = manifest.file_uri(f.name)
            if not storage.exists(uri):
                problems.append(f"{f.name}: missing")
                continue
            local = storage.fetch(uri, Path(tmp) / "f")
            size = local.stat().st_size
            if size != f.bytes:
                problems.append(f"{f.name}: {size} bytes, manifest says {f.bytes}")
            elif sha256_file(local) != f.sha256:
                problems.append(f"{f.name}: checksum differs from the manifest")
    if content_digest(manifest.kind, manifest.files) != manifest.digest:
        problems.append("digest does not match the listed files")
    return problems


def ancestry(storage: Storage, manifests: list[Manifest]) -> dict[str, Manifest]:
    """The given artifacts and every artifact they descend from, by stage name (each read once). Later stages
    are walked first, and a stage's artifact is the first one reached: a retraining takes its champion's
    tokenizer, whose own ancestry holds an older corpus, yet the corpus is the one its dataset was made from
    (tokenize is walked before train-tokenizer). The given ones win."""
    import heapq

    from .graph import STAGES
    order = {n.name: i for i, n in enumerate(STAGES)}
    out: dict[str, Manifest] = {}
    todo = [(-order.get(m.stage, len(order)), seq, m) for seq, m in enumerate(manifests)]
    heapq.heapify(todo)
    seq = len(todo)
    while todo:
        _, _, m = heapq.heappop(todo)
        if m.stage in out:
            continue
        out[m.stage] = m
        for ref in m.inputs:
            if ref.kind and ref.uri:
                up = require_manifest(storage, ref.uri)
                heapq.heappush(todo, (-order.get(up.stage, len(order)), seq, up))
                seq += 1
    return out
