"""What a collect source names: a file, a directory (recursively), or a glob, local or under s3://.

Globs (`*` and `?` within one path segment, `**` across any number, `[...]` classes) are matched against one
listing of their literal prefix: `s3://polyglot-ko/raw/web/*.warc.gz` lists `raw/web/` once and keeps the keys
that match. Sizes and ETags come from that listing, so no object is HEADed to learn them; local files are
fingerprinted by their sha256. `assign_by_bytes` hands files to shards so that every shard reads about the same
number of bytes, whatever the mix of file sizes.
"""
from __future__ import annotations

import heapq
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..contract.manifest import sha256_file
from ..contract.storage import ObjectInfo, Storage, is_s3, join

GLOB_CHARS = "*?["


@dataclass(frozen=True)
class SourceFile:
    rel: str            # relative to the source's base: what the content address keeps (not where it lives)
    size: int           # bytes
    fingerprint: str    # "etag:<ETag>" on S3, the sha256 of a local file


def split_glob(uri: str) -> tuple[str, str | None]:
    """(base directory, pattern below it) of a glob; (uri, None) when it has no glob characters."""
    first = min((i for i, c in enumerate(uri) if c in GLOB_CHARS), default=None)
    if first is None:
        return uri, None
    cut = uri.rfind("/", 0, first)
    if cut < 0:                     # a bare pattern ("*.jsonl"): relative to the current directory
        return ".", uri
    return uri[:cut], uri[cut + 1:]


@lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern:
    """A glob as a regular expression over '/'-separated relative names."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 2:]:
            end = pattern.index("]", i + 2)
            body = pattern[i + 1:end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def base_of(uri: str, single: bool) -> str:
    """The directory a source's relative names start from."""
    base, pattern = split_glob(uri)
    if pattern is not None:
        return base
    return uri.rstrip("/").rsplit("/", 1)[0] if single else uri.rstrip("/")


def uri_of(source_uri: str, single: bool, rel: str) -> str:
    return source_uri if single else join(base_of(source_uri, single), rel)


def list_source(uri: str, storage: Storage) -> tuple[bool, list[SourceFile]]:
    """(whether `uri` names one file, its files sorted by name) from one listing; hidden files are skipped."""
    base, pattern = split_glob(uri)
    if pattern is not None:
        rx = glob_regex(pattern)
        # on S3 the listing starts at the pattern's literal stem ("raw/web-2024-*" lists raw/web-2024-...)
        stem = pattern[:min(i for i, c in enumerate(pattern) if c in GLOB_CHARS)] if is_s3(uri) else ""
        found = [type(o)(stem + o.name, o.size, o.etag) for o in storage.objects(f"{base}/{stem}")]
        found = [o for o in found if rx.match(o.name)]
        single = False
    elif is_s3(uri) and uri.endswith("/"):
        found, single = storage.objects(uri), False
    elif is_s3(uri):
        # one listing answers both "is it an object?" and "what is under it?"
        key = uri.rstrip("/")
        entries = storage.objects(key)
        single = not uri.endswith("/") and any(o.name == "" for o in entries)
        found = [o for o in entries if o.name == ""] if single else \
            [type(o)(o.name[1:], o.size, o.etag) for o in entries if o.name.startswith("/")]
    else:
        p = Path(uri)
        single = p.is_file()
        found = [ObjectInfo("", p.stat().st_size, "")] if single else storage.objects(uri.rstrip("/") + "/")
    files = []
    for o in found:
        rel = uri.rstrip("/").rsplit("/", 1)[-1] if single else o.name
        if not rel or rel.endswith("/") or rel.rsplit("/", 1)[-1].startswith("."):
            continue            # "folder" marker objects, hidden files
        where = uri_of(uri, single, rel)
        fingerprint = f"etag:{o.etag}" if is_s3(where) else _local_sha(where, o.size, Path(where).stat().st_mtime_ns)
        files.append(SourceFile(rel, o.size, fingerprint))
    return single, sorted(files, key=lambda f: f.rel)


@lru_cache(maxsize=65536)
def _local_sha(path: str, size: int, mtime_ns: int) -> str:
    # keyed by size and mtime too, so a file changed in between is hashed again
    return sha256_file(Path(path))


def assign_by_bytes(sizes: list[int], world_size: int) -> list[int]:
    """The shard of each item: the largest first, each to the shard with the fewest bytes so far (ties: the
    lower rank); deterministic, and no shard reads more than the smallest one plus one file."""
    ranks = [0] * len(sizes)
    heap = [(0, r) for r in range(world_size)]
    for i in sorted(range(len(sizes)), key=lambda i: (-sizes[i], i)):
        load, rank = heapq.heappop(heap)
        ranks[i] = rank
        heapq.heappush(heap, (load + sizes[i], rank))
    return ranks
