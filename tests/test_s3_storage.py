"""The same stages with artifacts in object storage (a real S3 server on loopback): same digests as on disk."""
from pathlib import Path

import pytest

from components.contract.manifest import verify
from components.contract.storage import Storage

pytestmark = pytest.mark.slow


def _cfg(root: str) -> dict:
    return {"artifact_root": root,
            "collect": {"world_size": 2, "sources": [
                {"name": "nsmc", "uri": "tests/data/nsmc_small.jsonl", "text_field": "review", "id_field": "review_id"},
                {"name": "syn", "uri": "data/corpus/synopses", "format": "txt"}]},
            "curate": {"world_size": 2}}


def _collect_curate(stages, cfg: dict, workdir: Path):
    raw, _ = stages.run(cfg, "collect", workdir=workdir)
    cur, hit = stages.run(cfg, "curate", {"raw": raw.uri}, workdir=workdir)
    return raw, cur, hit


def test_storage_roundtrip_and_listing(s3, tmp_path):
    st = Storage()
    st.write_bytes("s3://artifacts/t/a.txt", b"hello")
    (tmp_path / "b.txt").write_text("b")
    st.put_file(tmp_path / "b.txt", "s3://artifacts/t/sub/b.txt")
    assert (tmp_path / "b.txt").exists(), "a copy leaves the file"
    (tmp_path / "c.txt").write_text("c")
    st.put_file(tmp_path / "c.txt", "s3://artifacts/t/sub/c.txt", move=True)
    assert not (tmp_path / "c.txt").exists(), "a move to object storage takes the file off local disk"
    assert st.exists("s3://artifacts/t/a.txt") and not st.exists("s3://artifacts/t/zzz")
    assert st.list_files("s3://artifacts/t") == ["a.txt", "sub/b.txt", "sub/c.txt"]
    assert st.read_bytes("s3://artifacts/t/sub/b.txt") == b"b"
    from components.contract.storage import REQUESTS
    deletes = REQUESTS["delete"]
    st.delete_tree("s3://artifacts/t")
    assert st.list_files("s3://artifacts/t") == []
    assert REQUESTS["delete"] - deletes == 1, "one DeleteObjects request for up to 1,000 keys"


def test_corpus_stages_on_s3_match_the_local_run(stages, s3, tmp_path):
    raw_l, cur_l, _ = _collect_curate(stages, _cfg(str(tmp_path / "local")), tmp_path / "wl")
    raw_s, cur_s, _ = _collect_curate(stages, _cfg("s3://artifacts/run"), tmp_path / "ws")
    assert cur_s.uri.startswith("s3://artifacts/run/curate/")
    assert (raw_s.digest, cur_s.digest) == (raw_l.digest, cur_l.digest)
    assert verify(Storage(), cur_s) == []
    assert "manifest.json" in Storage().list_files(cur_s.uri)
    # cached in the bucket: a second run reads the manifest there and does nothing
    _, _, hit = _collect_curate(stages, _cfg("s3://artifacts/run"), tmp_path / "ws2")
    assert hit


def test_collect_reads_an_s3_prefix(stages, s3):
    import gzip
    import json
    c = s3.client()
    c.create_bucket(Bucket="raw")
    c.put_object(Bucket="raw", Key="crawl/2026/a.jsonl.gz",
                 Body=gzip.compress("\n".join(json.dumps({"text": f"한국어 문서 {i}번입니다."}, ensure_ascii=False)
                                              for i in range(20)).encode()))
    c.put_object(Bucket="raw", Key="crawl/2026/b.txt", Body="텍스트 파일 하나.".encode())
    cfg = {"collect": {"world_size": 2, "sources": [{"name": "s3src", "uri": "s3://raw/crawl/2026/"}]}}
    m, _ = stages.run(cfg, "collect")
    assert m.stats["records_out"] == 21 and m.stats["files"] == 2
    again, hit = stages.run(cfg, "collect")
    assert hit, "unchanged objects (same ETags): cache hit"


def test_collect_reads_s3_sources_through_the_configs_endpoint(stages, s3, monkeypatch):
    """`s3_endpoint_url` in the config, nothing in the environment: collect lists, fingerprints and reads its
    s3:// sources through the run's storage (it used to build its own client for AWS's default endpoint)."""
    import json

    from components.contract import storage as storage_module

    body = "".join(json.dumps({"text": f"{i}번째 문서입니다"}, ensure_ascii=False) + "\n" for i in range(20))
    s3.client().put_object(Bucket="artifacts", Key="sources/docs.jsonl", Body=body.encode())
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.setattr(storage_module, "RETRY_SECONDS", 5.0)
    storage_module._client.cache_clear()
    cfg = {"s3_endpoint_url": s3.endpoint, "collect": {"world_size": 2, "sources": [
        {"name": "docs", "uri": "s3://artifacts/sources/docs.jsonl"}]}}
    raw, _ = stages.run(cfg, "collect")
    assert raw.stats["records_out"] == 20 and raw.params["sources"][0]["files"][0][1].startswith("etag:")
    storage_module._client.cache_clear()


def test_a_source_changed_after_the_listing_is_refused_not_collected_under_its_old_etag(s3, tmp_path):
    from components.errors import StageFailed

    st = Storage()
    st.write_bytes("s3://artifacts/src/a.jsonl", b'{"text": "first"}\n')
    listed = st.objects("s3://artifacts/src/")[0]
    assert st.fetch("s3://artifacts/src/a.jsonl", tmp_path / "a1", listed.etag).read_bytes().startswith(b'{"text"')
    st.write_bytes("s3://artifacts/src/a.jsonl", b'{"text": "second, longer"}\n')
    with pytest.raises(StageFailed, match="changed after this run listed it"):
        st.fetch("s3://artifacts/src/a.jsonl", tmp_path / "a2", listed.etag)
    assert not (tmp_path / "a2").exists()
