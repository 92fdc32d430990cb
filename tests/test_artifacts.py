import json
from pathlib import Path

from components.contract.manifest import (MANIFEST, Manifest, content_digest, publish_dir, read_manifest, verify,
                                  write_manifest)
from components.contract.storage import Storage


def _publish(tmp_path: Path, content: bytes = b"hello") -> Manifest:
    src = tmp_path / "staging"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_bytes(content)
    (src / "sub" / "b.bin").write_bytes(b"\x00\x01" * 100)
    uri = str(tmp_path / "art")
    st = Storage()
    files = publish_dir(st, src, uri)
    return write_manifest(st, Manifest(kind="Test", stage="t", key="k", uri=uri, files=files, stats={"n": 1}))


def test_manifest_lists_every_file_with_size_and_checksum(tmp_path):
    m = _publish(tmp_path)
    on_disk = json.loads((tmp_path / "art" / MANIFEST).read_text())
    for field in ("kind", "digest", "inputs", "params", "files", "stats", "code_version", "mlflow_run_id",
                  "created_at"):
        assert field in on_disk
    assert [f["name"] for f in on_disk["files"]] == ["a.txt", "sub/b.bin"]
    assert on_disk["files"][1]["bytes"] == 200
    assert verify(Storage(), m) == []
    assert not list((tmp_path / "art").rglob(".*tmp*")), "temporary files left behind"


def test_verify_catches_a_changed_file(tmp_path):
    m = _publish(tmp_path)
    (tmp_path / "art" / "a.txt").write_bytes(b"HELLO")
    assert verify(Storage(), m) == ["a.txt: checksum differs from the manifest"]
    (tmp_path / "art" / "a.txt").unlink()
    assert verify(Storage(), m) == ["a.txt: missing"]


def test_directory_without_manifest_is_incomplete(tmp_path):
    (tmp_path / "art").mkdir()
    (tmp_path / "art" / "a.txt").write_text("x")
    assert read_manifest(Storage(), str(tmp_path / "art")) is None


def test_digest_depends_on_content_not_location(tmp_path):
    a = _publish(tmp_path / "one")
    b = _publish(tmp_path / "two")
    c = _publish(tmp_path / "three", b"other")
    assert a.digest == b.digest != c.digest
    assert a.digest == content_digest("Test", a.files)
