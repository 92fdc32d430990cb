"""Checkpoints mirrored to object storage, so a job restarted on new nodes (or a new volume) resumes.

Rank 0 uploads each complete checkpoint on a background thread, the COMPLETE marker last, so a reader of the
mirror never takes a half-uploaded checkpoint; training goes on meanwhile, and only waits when the next
checkpoint is due before the previous upload has finished. On start, if the mirror holds a newer complete
checkpoint than the local directory, it is downloaded first. The checkpoint directory must be shared by all nodes
(a ReadWriteMany volume), as DeepSpeed expects when it reloads every rank's optimizer shard.
"""
from __future__ import annotations

import threading
from pathlib import Path

from components.contract.storage import Storage, join

from . import checkpoint as ckpt


def remote_complete_steps(storage: Storage, uri: str) -> list[int]:
    steps = set()
    for name in storage.list_files(uri):
        head, _, rest = name.partition("/")
        m = ckpt._TAG.match(head)
        if m and rest == ckpt.COMPLETE:
            steps.add(int(m.group(1)))
    return sorted(steps)


def download_latest(storage: Storage, uri: str, root: Path) -> int | None:
    """Bring the mirror's newest complete checkpoint into `root` if it is newer than the local one."""
    remote = remote_complete_steps(storage, uri)
    local = ckpt.latest(root)
    if not remote or (local is not None and local >= remote[-1]):
        return local
    step = remote[-1]
    tag_uri = join(uri, ckpt.tag(step))
    for name in storage.list_files(tag_uri):
        if name != ckpt.COMPLETE:
            storage.fetch(join(tag_uri, name), root / ckpt.tag(step) / name)
    # the marker last, as written (it records the world size the checkpoint was saved with)
    storage.fetch(join(tag_uri, ckpt.COMPLETE), root / ckpt.tag(step) / ckpt.COMPLETE)
    return step


class Mirror:
    """Uploads complete checkpoints one at a time in the background."""

    def __init__(self, storage: Storage, uri: str, keep: int):
        self.storage, self.uri, self.keep = storage, uri, keep
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def upload(self, root: Path, step: int) -> None:
        self.wait()
        self._thread = threading.Thread(target=self._upload, args=(root, step), daemon=True)
        self._thread.start()

    def _upload(self, root: Path, step: int) -> None:
        try:
            src = root / ckpt.tag(step)
            dest = join(self.uri, ckpt.tag(step))
            for f in sorted(p for p in src.rglob("*") if p.is_file() and p.name != ckpt.COMPLETE):
                self.storage.put_file(f, join(dest, str(f.relative_to(src))))
            self.storage.write_bytes(join(dest, ckpt.COMPLETE), (src / ckpt.COMPLETE).read_bytes())
            for old in remote_complete_steps(self.storage, self.uri)[:-self.keep]:
                self.storage.delete_tree(join(self.uri, ckpt.tag(old)))
        except BaseException as e:     # reported by wait(); training itself is not interrupted
            self.error = e

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self.error is not None:
            err, self.error = self.error, None
            raise RuntimeError(f"checkpoint upload to {self.uri} failed: {err}") from err
