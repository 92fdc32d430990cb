"""Reading and writing corpus shards: Parquet files of {id, text, source, meta} records."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string()), ("source", pa.string()), ("meta", pa.string())])
QUARANTINE_SCHEMA = pa.schema([("source", pa.string()), ("location", pa.string()), ("reason", pa.string()),
                               ("raw", pa.binary())])


class ShardWriter:
    """Writes records to `<dir>/<prefix>-NNNN.parquet`: a new row group every `ROW_GROUP_BYTES` of text (memory
    stays bounded however long the documents), a new file every `per_file` records."""

    ROW_GROUP_BYTES = 16 << 20

    def __init__(self, directory: Path, prefix: str, per_file: int, schema: pa.Schema = SCHEMA):
        self.directory, self.prefix, self.per_file, self.schema = directory, prefix, per_file, schema
        self.directory.mkdir(parents=True, exist_ok=True)
        self.buffer: dict[str, list] = {n: [] for n in schema.names}
        self.count = 0
        self.files: list[Path] = []
        self._writer: pq.ParquetWriter | None = None
        self._in_file = 0
        self._bytes = 0

    def write(self, record: dict) -> None:
        for n in self.schema.names:
            self.buffer[n].append(record[n])
        self.count += 1
        self._bytes += len(record.get("text") or record.get("raw") or b"")
        if self._bytes >= self.ROW_GROUP_BYTES:
            self._write_group()
        if self._in_file + len(self.buffer[self.schema.names[0]]) >= self.per_file:
            self.flush()

    def _write_group(self) -> None:
        if not self.buffer[self.schema.names[0]]:
            return
        if self._writer is None:
            path = self.directory / f"{self.prefix}-{len(self.files):04d}.parquet"
            self._writer = pq.ParquetWriter(path, self.schema, compression="zstd")
            self.files.append(path)
        table = pa.table(self.buffer, schema=self.schema)
        self._writer.write_table(table)
        self._in_file += table.num_rows
        self.buffer = {n: [] for n in self.schema.names}
        self._bytes = 0

    def flush(self) -> None:
        """Finish the current file."""
        self._write_group()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            self._in_file = 0

    def close(self) -> list[Path]:
        self.flush()
        return self.files


def file_order(name: str) -> list:
    """Sort key for the files a ShardWriter names: numbers by value (`-10000` after `-9999`), not as text."""
    import re
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def curated_files(manifest) -> list:
    """A CuratedCorpus's data files in corpus order: generation by generation (`data/gNNNN/`, the earlier ones
    listed from its base as `@stage/<key>/data/...`), each in shard and file order."""
    import re

    def order(f):
        m = re.search(r"(?:^|/)data/g(\d+)/([^/]+)$", f.name)
        return (int(m.group(1)), file_order(m.group(2))) if m else (-1, file_order(f.name))
    return sorted((f for f in manifest.files if f.name.endswith(".parquet") and re.search(r"(?:^|/)data/", f.name)),
                  key=order)


def read_records(files: Iterable, columns: list[str] | None = None, batch_size: int = 8192) -> Iterator[dict]:
    """Records of Parquet files in order; each item a path or an open pq.ParquetFile (read in place)."""
    for f in files:
        pf = f if isinstance(f, pq.ParquetFile) else pq.ParquetFile(f)
        for batch in pf.iter_batches(batch_size=batch_size, columns=columns):
            yield from batch.to_pylist()
