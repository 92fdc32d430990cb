"""Collect's sources: globs over one listing, sizes and ETags from it, files to shards by bytes; and the published
1.3B config collecting and curating exactly the files under its own glob paths in a real S3 server."""
import io
import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from components.contract.storage import Storage
from components.corpus.sources import assign_by_bytes, glob_regex, list_source, split_glob

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("pattern,yes,no", [
    ("*.warc.gz", ["a.warc.gz", "2026-01.warc.gz"], ["sub/a.warc.gz", "a.warc.gz.tmp", "a.warc"]),
    ("**/*.jsonl", ["x.jsonl", "a/b/x.jsonl"], ["x.jsonl.zst", "a/x.json"]),
    ("2026-??/*.parquet", ["2026-01/p.parquet"], ["2026-1/p.parquet", "2026-01/a/p.parquet"]),
    ("part-[0-4].txt", ["part-0.txt", "part-4.txt"], ["part-5.txt", "part-10.txt"]),
    ("part-[!0-4].txt", ["part-5.txt"], ["part-0.txt"]),
    ("a**", ["a", "ab/c"], ["b/a"]),
])
def test_globs_match_within_and_across_path_segments(pattern, yes, no):
    rx = glob_regex(pattern)
    assert [n for n in yes if rx.match(n)] == yes and [n for n in no if rx.match(n)] == []


def test_a_glob_is_listed_from_its_literal_prefix():
    assert split_glob("s3://polyglot-ko/raw/web/*.warc.gz") == ("s3://polyglot-ko/raw/web", "*.warc.gz")
    assert split_glob("s3://b/raw/2026-*/news/**/*.zst") == ("s3://b/raw", "2026-*/news/**/*.zst")
    assert split_glob("s3://b/raw/news/") == ("s3://b/raw/news/", None)
    assert split_glob("*.jsonl") == (".", "*.jsonl")


def test_s3_listings_start_at_the_literal_stem_and_skip_folder_markers(s3):
    from components.contract.storage import REQUESTS

    client = s3.client()
    client.create_bucket(Bucket="stems")
    for key in ("raw/web-2024-01.gz", "raw/web-2024-02.gz", "raw/web-2023-12.gz", "raw/web/inner.gz",
                "raw/dir/", "raw/dir/a.jsonl", "raw/dir/sub/", "raw/dir-old/b.jsonl"):
        client.put_object(Bucket="stems", Key=key, Body=b"" if key.endswith("/") else b"x")
    listed = []

    class Listing(Storage):
        def objects(self, prefix):
            listed.append(prefix)
            return super().objects(prefix)

    single, files = list_source("s3://stems/raw/web-2024-*.gz", Listing())
    assert not single and [f.rel for f in files] == ["web-2024-01.gz", "web-2024-02.gz"]
    assert listed == ["s3://stems/raw/web-2024-"], "not everything under raw/"
    lists = REQUESTS["list"]
    single, files = list_source("s3://stems/raw/dir/", Listing())
    assert [f.rel for f in files] == ["a.jsonl"], "folder markers are not files; dir-old/ is not under dir/"
    assert REQUESTS["list"] - lists == 1 and listed[-1] == "s3://stems/raw/dir/"


def test_local_sources_file_directory_and_glob(tmp_path):
    for name in ("a.jsonl", "b.jsonl", "sub/c.jsonl", "sub/d.txt", ".hidden.jsonl", "e.jsonl.bak"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    storage = Storage()
    single, files = list_source(str(tmp_path / "a.jsonl"), storage)
    assert single and [f.rel for f in files] == ["a.jsonl"] and files[0].size == 7
    assert [f.rel for f in list_source(str(tmp_path / "*.jsonl"), storage)[1]] == ["a.jsonl", "b.jsonl"]
    assert [f.rel for f in list_source(str(tmp_path / "**/*.jsonl"), storage)[1]] == ["a.jsonl", "b.jsonl",
                                                                                       "sub/c.jsonl"]
    single, files = list_source(str(tmp_path), storage)
    assert not single and len(files) == 5, "a directory: everything but hidden files"
    assert files[0].fingerprint == list_source(str(tmp_path / "a.jsonl"), storage)[1][0].fingerprint


def test_files_go_to_shards_by_bytes():
    rng = random.Random(0)
    sizes = [int(rng.lognormvariate(16, 1.5)) for _ in range(5000)]      # web-archive-like: a long tail
    ranks = assign_by_bytes(sizes, 64)
    loads = [sum(s for s, r in zip(sizes, ranks) if r == k) for k in range(64)]
    assert max(loads) - min(loads) <= max(sizes), "no shard is more than one file ahead of another"
    assert ranks == assign_by_bytes(sizes, 64), "deterministic"
    by_count = [sum(s for i, s in enumerate(sizes) if i % 64 == k) for k in range(64)]
    assert max(loads) / (sum(sizes) / 64) < max(by_count) / (sum(sizes) / 64)


def _warc(texts: list[str]) -> bytes:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter
    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=True)
    for i, text in enumerate(texts):
        headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.0")
        body = f"<html><body><p>{text}</p></body></html>".encode()
        w.write_record(w.create_warc_record(f"https://blog.example.kr/{i}", "response", payload=io.BytesIO(body),
                                            http_headers=headers))
    return buf.getvalue()


@pytest.mark.slow
def test_the_published_config_collects_exactly_its_glob_paths_and_curates_them(tmp_path, s3):
    """configs/polyglot-ko-1.3b.yaml itself, with only the shard counts lowered, against an S3 server holding
    files under its glob paths and decoys beside them: collect takes exactly the matching files, with one listing
    per source for the whole run (no object HEADed), and curate accounts for every record."""
    import zstandard

    from components.contract.manifest import read_manifest
    from components.contract.runner import run_pipeline

    reviews = [json.loads(x)["review"] for x in (ROOT / "tests/data/nsmc_small.jsonl").read_text().splitlines()]
    client = s3.client()
    client.create_bucket(Bucket="polyglot-ko")
    put = lambda key, body: client.put_object(Bucket="polyglot-ko", Key=key, Body=body)   # noqa: E731
    expected = {"web": [], "news": [], "wiki": []}
    for i in range(5):
        put(f"raw/web/crawl-{i}.warc.gz", _warc(reviews[i * 40:(i + 1) * 40]))
        expected["web"].append(f"crawl-{i}.warc.gz")
    for i in range(3):
        lines = "".join(json.dumps({"text": r}, ensure_ascii=False) + "\n" for r in reviews[1000 + i * 50:][:50])
        put(f"raw/news/2026-0{i + 1}.jsonl.zst", zstandard.ZstdCompressor().compress(lines.encode()))
        expected["news"].append(f"2026-0{i + 1}.jsonl.zst")
    buf = io.BytesIO()
    pq.write_table(pa.table({"text": reviews[2000:2100]}), buf)
    put("raw/wiki/kowiki.parquet", buf.getvalue())
    expected["wiki"].append("kowiki.parquet")
    # decoys: a deeper level, another extension, a temporary file, a sibling prefix, a hidden file
    for key in ("raw/web/old/crawl-9.warc.gz", "raw/web/notes.txt", "raw/web/crawl-0.warc.gz.tmp",
                "raw/news/2026-01.jsonl", "raw/wiki-dump/kowiki.parquet", "raw/wiki/.kowiki.parquet"):
        put(key, b"decoy, must not be read")

    overrides = ["collect.world_size=4", "curate.world_size=4"]
    summary = run_pipeline("configs/polyglot-ko-1.3b.yaml", tmp_path / "work", overrides, until="curate",
                           log=print)
    storage = Storage()
    raw = read_manifest(storage, summary["stages"]["collect"]["uri"])
    assert raw.uri.startswith("s3://polyglot-ko/artifacts/collect/")
    got = {p["name"]: [f[0] for f in p["files"]] for p in raw.params["sources"]}
    assert got == expected
    s = raw.stats
    assert s["files"] == 9 and s["quarantined"] == {} and s["records_out"] == 5 * 40 + 3 * 50 + 100
    print("collect: shard bytes", s["shard_bytes"], "requests by the shards", s["requests"])
    assert len(s["shard_bytes"]) == 4 and all(b > 0 for b in s["shard_bytes"])
    assert s["requests"].get("head", 0) <= 9 * 2 and "list" not in s["requests"], \
        "shards took the files from the run's one listing (a HEAD per segment manifest is all they ask)"
    cur = read_manifest(storage, summary["stages"]["curate"]["uri"])
    c = cur.stats
    assert c["records_in"] == s["records_out"] == c["records_out"] + sum(c["dropped"].values()) + \
        sum(c["quarantined"].values())
    assert set(c["per_source"]) == {"web", "news", "wiki"} and c["records_out"] > 300
