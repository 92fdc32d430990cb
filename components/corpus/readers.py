"""Streaming readers for collect: every format yields (location, record) or (location, Bad) one at a time, so
memory stays flat whatever the file size. Compressed input (.gz, .zst) is decompressed as a stream; a truncated
archive keeps what was readable and quarantines the rest.

Encodings: UTF-8 with or without BOM, and the legacy Korean CP949 / EUC-KR (CP949 is a superset), detected per
file from its first bytes and decoded properly, never as mojibake.
"""
from __future__ import annotations

import gzip
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

from .html_text import declared_charset, extract

SAMPLE = 1 << 16


@dataclass
class Bad:
    reason: str
    raw: bytes = b""


def problem(item, field: str, max_chars: int | None = None) -> tuple[str | None, bytes]:
    """Why a record read from a file cannot be a document, and its raw bytes to quarantine: (None, b"") if it
    can (a mapping whose `field` is a string, within `max_chars`, without NUL characters)."""
    if isinstance(item, Bad):
        return item.reason, item.raw
    if not isinstance(item, dict):
        return "not_an_object", json.dumps(item, ensure_ascii=False).encode()
    text = item.get(field)
    if not isinstance(text, str):
        reason = "missing_text_field" if text is None else "text_not_a_string"
    elif max_chars is not None and len(text) > max_chars:
        reason = "oversized"
    elif "\x00" in text:
        reason = "nul_bytes"
    else:
        return None, b""
    return reason, json.dumps(item, ensure_ascii=False, default=str).encode()


def open_binary(path: Path) -> IO[bytes]:
    name = path.name
    if name.endswith(".gz"):
        return gzip.open(path, "rb")
    if name.endswith(".zst") or name.endswith(".zstd"):
        import zstandard
        return zstandard.ZstdDecompressor().stream_reader(open(path, "rb"), read_across_frames=True)
    return open(path, "rb")


def strip_compression(name: str) -> str:
    for ext in (".gz", ".zst", ".zstd"):
        if name.endswith(ext):
            return name[: -len(ext)]
    return name


def detect_encoding(sample: bytes) -> str:
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    for enc in ("utf-8", "cp949"):
        # the sample may end inside a multi-byte character: ignore at most 3 trailing bytes
        for cut in range(4):
            try:
                (sample[:-cut] if cut else sample).decode(enc)
                return enc
            except UnicodeDecodeError as e:
                if e.start < len(sample) - 4:
                    break
    return "utf-8"   # undecodable either way: records are quarantined one by one as invalid_utf8


def is_binary(sample: bytes) -> bool:
    """NUL bytes, or mostly control bytes: not a text file."""
    if not sample:
        return False
    if b"\x00" in sample[:8192]:
        return True
    ctrl = sum(b < 9 or 13 < b < 32 for b in sample[:8192])
    return ctrl / min(len(sample), 8192) > 0.1


def _decode(raw: bytes, enc: str) -> str | Bad:
    try:
        return raw.decode(enc)
    except UnicodeDecodeError:
        return Bad("invalid_utf8" if enc.startswith("utf-8") else "invalid_encoding", raw)


def _lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes | Bad]]:
    n = 0
    try:
        for n, line in enumerate(io.BufferedReader(stream) if not hasattr(stream, "peek") else stream, 1):
            yield n, line.rstrip(b"\r\n")
    except (EOFError, OSError, ValueError) as e:   # truncated gzip/zstd, corrupt block
        yield n + 1, Bad("truncated_archive", repr(e).encode()[:200])


def read_jsonl(path: Path, loc: str) -> Iterator[tuple[str, dict | Bad]]:
    with open_binary(path) as stream:
        first = True
        enc = "utf-8"
        for n, line in _lines(stream):
            where = f"{loc}:{n}"
            if isinstance(line, Bad):
                yield where, line
                return
            if first:
                enc = detect_encoding(_peek(path)) if not line.startswith(b"\xef\xbb\xbf") else "utf-8-sig"
                first = False
            elif enc == "utf-8-sig":
                enc = "utf-8"
            if not line.strip():
                continue
            if b"\x00" in line:
                yield where, Bad("nul_bytes", line)
                continue
            text = _decode(line, enc)
            if isinstance(text, Bad):
                yield where, text
                continue
            try:
                rec = json.loads(text)
            except json.JSONDecodeError:
                yield where, Bad("invalid_json", line)
                continue
            if isinstance(rec, dict) and enc == "cp949":
                rec.setdefault("_encoding", "cp949")
            yield where, rec


def _peek(path: Path) -> bytes:
    try:
        with open_binary(path) as s:
            return s.read(SAMPLE)
    except (EOFError, OSError, ValueError):
        return b""


def read_whole(path: Path, max_bytes: int) -> bytes | Bad:
    try:
        with open_binary(path) as s:
            data = s.read(max_bytes + 1)
    except (EOFError, OSError, ValueError) as e:
        return Bad("truncated_archive", repr(e).encode()[:200])
    if len(data) > max_bytes:
        return Bad("oversized_file", data[:1024])
    return data


def read_json(path: Path, loc: str, max_bytes: int) -> Iterator[tuple[str, dict | Bad]]:
    data = read_whole(path, max_bytes)
    if isinstance(data, Bad):
        yield loc, data
        return
    text = _decode(data, detect_encoding(data[:SAMPLE]))
    if isinstance(text, Bad):
        yield loc, text
        return
    try:
        items = json.loads(text)
    except json.JSONDecodeError:
        yield loc, Bad("invalid_json", data[:65536])
        return
    for i, item in enumerate(items if isinstance(items, list) else [items]):
        yield f"{loc}#{i}", item


def read_txt(path: Path, loc: str, max_bytes: int, split: str) -> Iterator[tuple[str, dict | Bad]]:
    sample = _peek(path)
    if is_binary(sample):
        yield loc, Bad("binary_file", sample[:1024])
        return
    enc = detect_encoding(sample)
    if split == "file":
        data = read_whole(path, max_bytes)
        if isinstance(data, Bad):
            yield loc, data
            return
        text = _decode(data, enc)
        yield loc, text if isinstance(text, Bad) else {"text": text, **({"_encoding": enc} if enc == "cp949" else {})}
        return
    # a document per blank-line-separated block, streamed
    block: list[bytes] = []
    start = 1
    with open_binary(path) as stream:
        for n, line in _lines(stream):
            if isinstance(line, Bad):
                if block:
                    yield from _txt_block(block, enc, f"{loc}:{start}")
                yield f"{loc}:{n}", line
                return
            if line.strip():
                if not block:
                    start = n
                block.append(line)
            elif block:
                yield from _txt_block(block, enc, f"{loc}:{start}")
                block = []
    if block:
        yield from _txt_block(block, enc, f"{loc}:{start}")


def _txt_block(lines: list[bytes], enc: str, where: str):
    raw = b"\n".join(lines)
    text = _decode(raw, "utf-8" if enc == "utf-8-sig" else enc)
    yield where, text if isinstance(text, Bad) else {"text": text.lstrip("\ufeff")}


def read_html(path: Path, loc: str, max_bytes: int) -> Iterator[tuple[str, dict | Bad]]:
    data = read_whole(path, max_bytes)
    if isinstance(data, Bad):
        yield loc, data
        return
    if is_binary(data[:8192]):
        yield loc, Bad("binary_file", data[:1024])
        return
    enc = declared_charset(data) or detect_encoding(data[:SAMPLE])
    page = _decode(data, _norm_charset(enc))
    if isinstance(page, Bad):
        yield loc, page
        return
    title, text = extract(page)
    yield loc, {"text": text, "title": title}


def _norm_charset(enc: str) -> str:
    enc = enc.lower()
    return "cp949" if enc in ("euc-kr", "euckr", "ks_c_5601-1987", "cp949", "x-windows-949") else enc


def read_warc(path: Path, loc: str, max_bytes: int) -> Iterator[tuple[str, dict | Bad]]:
    """HTML responses of a WARC file (gzipped or not); other responses are reported as not_html."""
    from warcio.archiveiterator import ArchiveIterator

    with open(path, "rb") as raw:
        it = ArchiveIterator(raw)
        n = 0
        try:
            for record in it:
                if record.rec_type != "response":
                    continue
                n += 1
                url = record.rec_headers.get_header("WARC-Target-URI") or ""
                where = f"{loc}#{n}"
                ctype = (record.http_headers.get_header("Content-Type") if record.http_headers else "") or ""
                body = record.content_stream().read(max_bytes + 1)
                if "html" not in ctype.lower():
                    yield where, Bad("not_html", body[:256])
                    continue
                if len(body) > max_bytes:
                    yield where, Bad("oversized", body[:1024])
                    continue
                enc = _charset_of(ctype) or declared_charset(body) or detect_encoding(body[:SAMPLE])
                page = _decode(body, _norm_charset(enc))
                if isinstance(page, Bad):
                    yield where, page
                    continue
                title, text = extract(page)
                yield where, {"text": text, "title": title, "url": url,
                              "date": record.rec_headers.get_header("WARC-Date") or ""}
        except Exception as e:   # warcio raises its own errors on a cut or corrupt archive
            yield f"{loc}#{n + 1}", Bad("truncated_archive", repr(e).encode()[:200])


def _charset_of(ctype: str) -> str | None:
    for part in ctype.split(";"):
        k, _, v = part.strip().partition("=")
        if k.lower() == "charset" and v:
            return v.strip("\"' ").lower()
    return None


def read_parquet(path: Path, loc: str, text_field: str) -> Iterator[tuple[str, dict | Bad]]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as e:   # not a Parquet file, or a cut one
        yield loc, Bad("invalid_parquet", repr(e).encode()[:200])
        return
    if text_field not in pf.schema_arrow.names:
        yield loc, Bad("wrong_schema", f"no column {text_field!r}; columns: {pf.schema_arrow.names}".encode())
        return
    n = 0
    try:
        for batch in pf.iter_batches(batch_size=4096):
            for row in batch.to_pylist():
                yield f"{loc}#{n}", row
                n += 1
    except Exception as e:
        yield f"{loc}#{n}", Bad("invalid_parquet", repr(e).encode()[:200])
