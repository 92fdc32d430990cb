"""One code path for local directories and s3:// prefixes.

Stages always work on local files (libraries such as pyarrow, tokenizers and torch want paths); this module moves
whole files between a local working directory and an artifact location. Every write is atomic: a local file is
written under a temporary name and renamed, an S3 object appears whole on PUT. Readers therefore never see a torn
file, and the manifest, written last, marks a directory complete.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from functools import lru_cache
from pathlib import Path

from .errors import UserError


def is_s3(uri: str) -> bool:
    return str(uri).startswith("s3://")


def join(uri: str, *parts: str) -> str:
    out = str(uri).rstrip("/")
    for p in parts:
        out += "/" + str(p).strip("/")
    return out


def _split_s3(uri: str) -> tuple[str, str]:
    rest = uri[len("s3://"):]
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise UserError(f"malformed S3 URI (no bucket): {uri}")
    return bucket, key


@lru_cache(maxsize=8)
def _client(endpoint_url: str | None):
    import boto3
    from botocore.config import Config

    # Standard retry mode backs off exponentially on throttling, 5xx and connection errors.
    cfg = Config(retries={"max_attempts": 10, "mode": "standard"}, s3={"addressing_style": "path"},
                 connect_timeout=5, read_timeout=60)
    return boto3.client("s3", endpoint_url=endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None, config=cfg)


class Storage:
    """Files under local paths or S3 URIs. `endpoint_url` overrides AWS_ENDPOINT_URL for s3://."""

    def __init__(self, endpoint_url: str | None = None):
        self.endpoint_url = endpoint_url

    def _s3(self):
        return _client(self.endpoint_url)

    def exists(self, uri: str) -> bool:
        if is_s3(uri):
            from botocore.exceptions import ClientError
            bucket, key = _split_s3(uri)
            try:
                self._s3().head_object(Bucket=bucket, Key=key)
                return True
            except ClientError as e:
                if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                    return False
                raise
        return Path(uri).exists()

    def read_bytes(self, uri: str) -> bytes:
        if is_s3(uri):
            bucket, key = _split_s3(uri)
            return self._s3().get_object(Bucket=bucket, Key=key)["Body"].read()
        return Path(uri).read_bytes()

    def write_bytes(self, uri: str, data: bytes) -> None:
        if is_s3(uri):
            bucket, key = _split_s3(uri)
            self._s3().put_object(Bucket=bucket, Key=key, Body=data)
            return
        path = Path(uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def put_file(self, local: Path, uri: str, move: bool = False) -> None:
        """Copy (or move, when both sides are local) one file into place atomically."""
        if is_s3(uri):
            bucket, key = _split_s3(uri)
            self._s3().upload_file(str(local), bucket, key)
            return
        dest = Path(uri)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.tmp-{uuid.uuid4().hex[:8]}")
        if move:
            try:
                os.replace(local, tmp)
            except OSError:  # another filesystem
                shutil.copyfile(local, tmp)
        else:
            shutil.copyfile(local, tmp)
        os.replace(tmp, dest)

    def list_files(self, uri: str) -> list[str]:
        """Relative names of all files under a directory / prefix, sorted."""
        if is_s3(uri):
            bucket, prefix = _split_s3(join(uri, ""))
            out = []
            for page in self._s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                out += [o["Key"][len(prefix):] for o in page.get("Contents", [])]
            return sorted(out)
        root = Path(uri)
        if not root.is_dir():
            return []
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())

    def fetch(self, uri: str, dest: Path) -> Path:
        """Download one object to `dest` (atomically); local files are returned as they are."""
        if not is_s3(uri):
            return Path(uri)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
        os.close(fd)
        bucket, key = _split_s3(uri)
        self._s3().download_file(bucket, key, tmp)
        os.replace(tmp, dest)
        return dest

    def delete_tree(self, uri: str) -> None:
        if is_s3(uri):
            bucket, prefix = _split_s3(join(uri, ""))
            for name in self.list_files(uri):
                self._s3().delete_object(Bucket=bucket, Key=prefix + name)
            return
        shutil.rmtree(uri, ignore_errors=True)
