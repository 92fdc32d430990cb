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
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..errors import StageFailed, UserError

# How long an S3 operation keeps retrying while the endpoint is unreachable or failing (5xx, throttling) before the
# stage fails with a message naming the endpoint. boto3's own retries happen inside each attempt.
RETRY_SECONDS = float(os.environ.get("POLYGLOT_KO_S3_RETRY_S", "180"))


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

    # Few attempts per call: _retrying below carries a call across a longer outage, with a clear deadline.
    cfg = Config(retries={"max_attempts": 3, "mode": "standard"}, s3={"addressing_style": "path"},
                 connect_timeout=5, read_timeout=60)
    return boto3.client("s3", endpoint_url=endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None, config=cfg)


def _arrow_s3(endpoint_url: str | None):
    """pyarrow's S3 filesystem for the endpoint and credentials in effect now (the environment may change)."""
    return _arrow_fs(endpoint_url or os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_ACCESS_KEY_ID"),
                     os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))


@lru_cache(maxsize=8)
def _arrow_fs(endpoint: str | None, access_key: str | None, region: str):
    from pyarrow import fs

    # its own retries carry a read across a short outage (about RETRY_SECONDS with the standard backoff)
    kwargs = {"region": region, "retry_strategy": fs.AwsStandardS3RetryStrategy(max_attempts=20)}
    if endpoint:
        scheme, _, host = endpoint.partition("://")
        kwargs.update(endpoint_override=host, scheme=scheme)
    return fs.S3FileSystem(**kwargs)


def _transient(e: BaseException) -> bool:
    from botocore.exceptions import (ClientError, ConnectionClosedError, ConnectTimeoutError,
                                     EndpointConnectionError, ReadTimeoutError)
    from urllib3.exceptions import ProtocolError

    if isinstance(e, (EndpointConnectionError, ConnectionClosedError, ConnectTimeoutError, ReadTimeoutError,
                      ProtocolError, ConnectionError)):
        return True
    if isinstance(e, OSError) and any(s in str(e) for s in ("NETWORK_CONNECTION", "SlowDown", "ServiceUnavailable")):
        return True       # pyarrow's S3 errors carry the AWS error name in their message
    if isinstance(e, ClientError):
        err = e.response.get("Error", {})
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return status >= 500 or err.get("Code") in ("SlowDown", "RequestTimeout", "InternalError",
                                                      "ServiceUnavailable")
    return False


# Object-storage requests this process made, by operation (head, get, put, list, delete): what a task reports so
# that request counts at scale are measured, not guessed. Retries count once per attempt of the operation.
REQUESTS: Counter = Counter()


@dataclass(frozen=True)
class ObjectInfo:
    name: str        # relative to the listed prefix
    size: int        # bytes
    etag: str        # S3's ETag; empty for local files


def _retrying(what: str, endpoint: str | None, fn):
    """Run one S3 operation, retrying transient failures with exponential backoff until RETRY_SECONDS pass."""
    import time
    deadline, delay = time.monotonic() + RETRY_SECONDS, 0.5
    while True:
        try:
            return fn()
        except Exception as e:
            if not _transient(e):
                raise
            if time.monotonic() + delay > deadline:
                where = endpoint or os.environ.get("AWS_ENDPOINT_URL") or "AWS S3"
                raise StageFailed(f"object storage at {where} unreachable or failing for {RETRY_SECONDS:.0f}s "
                                  f"while {what}: {e}") from None
            time.sleep(delay)
            delay = min(delay * 2, 10.0)


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
                REQUESTS["head"] += 1
                _retrying(f"checking {uri}", self.endpoint_url, lambda: self._s3().head_object(Bucket=bucket, Key=key))
                return True
            except ClientError as e:
                if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                    return False
                raise
        return Path(uri).exists()

    def etag(self, uri: str) -> str:
        """An object's ETag (S3 only): what identifies its content without reading it."""
        bucket, key = _split_s3(uri)
        REQUESTS["head"] += 1
        head = _retrying(f"reading the ETag of {uri}", self.endpoint_url,
                         lambda: self._s3().head_object(Bucket=bucket, Key=key))
        return head["ETag"].strip('"')

    def read_bytes(self, uri: str) -> bytes:
        if is_s3(uri):
            bucket, key = _split_s3(uri)
            REQUESTS["get"] += 1
            return _retrying(f"reading {uri}", self.endpoint_url,
                             lambda: self._s3().get_object(Bucket=bucket, Key=key)["Body"].read())
        return Path(uri).read_bytes()

    def write_bytes(self, uri: str, data: bytes) -> None:
        if is_s3(uri):
            bucket, key = _split_s3(uri)
            REQUESTS["put"] += 1
            _retrying(f"writing {uri}", self.endpoint_url,
                      lambda: self._s3().put_object(Bucket=bucket, Key=key, Body=data))
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
        """Copy (or move: the local file is gone afterwards) one file into place atomically."""
        if is_s3(uri):
            bucket, key = _split_s3(uri)
            # A (multipart) upload becomes visible only when complete: a retried one never leaves a partial object.
            REQUESTS["put"] += 1
            _retrying(f"uploading {local} to {uri}", self.endpoint_url,
                      lambda: self._s3().upload_file(str(local), bucket, key))
            if move:       # as the local move does: what was published leaves the staging directory
                local.unlink()
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
        return [o.name for o in self.objects(join(uri, ""))]

    def objects(self, prefix: str) -> list[ObjectInfo]:
        """Every file whose URI starts with `prefix` (a directory ends it with "/"), with sizes and (S3) ETags,
        from one listing, sorted by name; names are relative to `prefix`."""
        if is_s3(prefix):
            bucket, key = _split_s3(prefix)

            def listing():
                found = []
                for page in self._s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
                    REQUESTS["list"] += 1
                    found += [ObjectInfo(o["Key"][len(key):], int(o["Size"]), o.get("ETag", "").strip('"'))
                              for o in page.get("Contents", [])]
                return found
            return sorted(_retrying(f"listing {prefix}", self.endpoint_url, listing), key=lambda o: o.name)
        head, _, stem = str(prefix).rpartition("/")
        root = Path(head or ".")
        if not root.is_dir():
            return []
        out = []
        for p in root.rglob("*"):
            rel = p.relative_to(root).as_posix()
            if rel.startswith(stem) and p.is_file():
                out.append(ObjectInfo(rel[len(stem):], p.stat().st_size, ""))
        return sorted(out, key=lambda o: o.name)

    def open_parquet(self, uri: str):
        """A Parquet file read in place: local, or on S3 through pyarrow's S3 filesystem with ranged reads (its
        footer, then the row groups and columns asked for), never downloaded whole."""
        import pyarrow.parquet as pq

        if not is_s3(uri):
            return pq.ParquetFile(uri)
        REQUESTS["get"] += 1          # at least one ranged read; pyarrow makes as many as the row groups need
        return _retrying(f"opening {uri}", self.endpoint_url, lambda: pq.ParquetFile(
            _arrow_s3(self.endpoint_url).open_input_file(uri[len("s3://"):])))

    def fetch(self, uri: str, dest: Path, etag: str | None = None) -> Path:
        """Download one object to `dest` (atomically); local files are returned as they are. With `etag`: only
        that version of the object (the one a listing saw), else one clear error."""
        if not is_s3(uri):
            return Path(uri)
        from botocore.exceptions import ClientError

        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
        os.close(fd)
        bucket, key = _split_s3(uri)
        REQUESTS["get"] += 1

        def get_if_match():        # (download_file takes no IfMatch): one streamed GET of that version
            body = self._s3().get_object(Bucket=bucket, Key=key, IfMatch=etag)["Body"]
            with open(tmp, "wb") as f:
                shutil.copyfileobj(body, f, 8 << 20)

        try:
            _retrying(f"downloading {uri}", self.endpoint_url,
                      get_if_match if etag else lambda: self._s3().download_file(bucket, key, tmp))
        except ClientError as e:
            os.unlink(tmp)
            if etag and e.response.get("Error", {}).get("Code") in ("412", "PreconditionFailed"):
                raise StageFailed(f"{uri} changed after this run listed it (ETag {etag} then): run again to "
                                  "collect the new version") from None
            raise
        os.replace(tmp, dest)
        return dest

    def delete_tree(self, uri: str) -> None:
        if is_s3(uri):
            bucket, prefix = _split_s3(join(uri, ""))
            names = self.list_files(uri)
            # DeleteObjects takes 1,000 keys a request: a curate run's step files (~270,000 at 512 shards and
            # 256 buckets) are 270 requests, not 270,000
            for i in range(0, len(names), 1000):
                batch = {"Objects": [{"Key": prefix + n} for n in names[i:i + 1000]], "Quiet": True}
                REQUESTS["delete"] += 1
                result = _retrying(f"deleting under {uri}", self.endpoint_url,
                                   lambda batch=batch: self._s3().delete_objects(Bucket=bucket, Delete=batch))
                if result.get("Errors"):
                    e = result["Errors"][0]
                    raise StageFailed(f"deleting {uri}: {len(result['Errors'])} objects not deleted, e.g. "
                                      f"{e.get('Key')}: {e.get('Code')} {e.get('Message')}")
            return
        shutil.rmtree(uri, ignore_errors=True)
