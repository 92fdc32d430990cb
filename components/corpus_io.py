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
    """Writes records to `<dir>/<prefix>-NNNN.parquet`, a new file every `per_file` records."""

    def __init__(self, directory: Path, prefix: str, per_file: int, schema: pa.Schema = SCHEMA):
        self.directory, self.prefix, self.per_file, self.schema = directory, prefix, per_file, schema
        self.directory.mkdir(parents=True, exist_ok=True)
        self.buffer: dict[str, list] = {n: [] for n in schema.names}
        self.count = 0
        self.files: list[Path] = []

    def write(self, record: dict) -> None:
        for n in self.schema.names:
            self.buffer[n].append(record[n])
        self.count += 1
        if len(self.buffer[self.schema.names[0]]) >= self.per_file:
            self.flush()

    def flush(self) -> None:
        if not self.buffer[self.schema.names[0]]:
            return
        path = self.directory / f"{self.prefix}-{len(self.files):04d}.parquet"
        pq.write_table(pa.table(self.buffer, schema=self.schema), path, compression="zstd")
        self.files.append(path)
        self.buffer = {n: [] for n in self.schema.names}

    def close(self) -> list[Path]:
        self.flush()
        return self.files


def read_records(paths: Iterable[Path], columns: list[str] | None = None, batch_size: int = 8192) -> Iterator[dict]:
    for path in paths:
        pf = pq.ParquetFile(path)
        for batch in pf.iter_batches(batch_size=batch_size, columns=columns):
            yield from batch.to_pylist()
