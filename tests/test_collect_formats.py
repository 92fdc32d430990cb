"""collect reads every supported format and encoding, and quarantines every kind of broken input."""
import gzip
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq

from components.contract.execution import check_accounting

KO = "한국어 문장입니다. 인코딩이 제대로 읽혀야 합니다."


def _collect(stages, sources: list[dict]):
    m, hit = stages.run({"collect": {"world_size": 2, "sources": sources}}, "collect")
    check_accounting("collect", m.stats)
    return m, hit


def _texts(m) -> list[str]:
    return sorted(r["text"] for f in m.files if "/raw-" in f.name for r in pq.read_table(m.file_uri(f.name)).to_pylist())


def _quarantine(m) -> list[dict]:
    return [r for f in m.files if "/quarantine-" in f.name for r in pq.read_table(m.file_uri(f.name)).to_pylist()]


def test_encodings_compression_and_text_layouts(stages, tmp_path):
    import zstandard

    d = tmp_path / "in"
    d.mkdir()
    (d / "cp949.jsonl").write_bytes((json.dumps({"text": KO}, ensure_ascii=False) + "\n").encode("cp949"))
    (d / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + (json.dumps({"text": KO + " BOM"}, ensure_ascii=False) + "\n").encode())
    (d / "euckr.txt").write_bytes((KO + " EUC-KR").encode("euc-kr"))
    (d / "z.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(
        (json.dumps({"text": KO + " zstd"}, ensure_ascii=False) + "\n").encode()))
    para = tmp_path / "para"
    para.mkdir()
    (para / "p.txt.gz").write_bytes(gzip.compress("첫 문단입니다.\n둘째 줄.\n\n\n둘째 문단입니다.\n".encode()))
    m, _ = _collect(stages, [{"name": "mixed", "uri": str(d)},
                               {"name": "para", "uri": str(para), "format": "txt", "txt_split": "paragraph"}])
    texts = _texts(m)
    assert KO in texts and KO + " BOM" in texts and KO + " EUC-KR" in texts and KO + " zstd" in texts
    assert "첫 문단입니다.\n둘째 줄." in texts and "둘째 문단입니다." in texts
    assert m.stats["quarantined"] == {}


def test_html_pages_and_warc_archives_give_their_text(stages, tmp_path):
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    d = tmp_path / "web"
    d.mkdir()
    page = ("<html><head><meta charset='euc-kr'><title>제목</title><script>var x=1;</script></head>"
            "<body><nav>메뉴</nav><p>본문 <b>첫</b> 문단.</p><p>둘째 문단.</p></body></html>")
    (d / "page.html").write_bytes(page.encode("euc-kr"))
    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=True)
    for url, ctype, body in [("https://a.kr/1", "text/html; charset=utf-8", "<p>웹 문서 하나</p>".encode()),
                             ("https://a.kr/logo.png", "image/png", b"\x89PNG...")]:
        headers = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.0")
        w.write_record(w.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=headers))
    (d / "crawl.warc.gz").write_bytes(buf.getvalue())
    m, _ = _collect(stages, [{"name": "web", "uri": str(d)}])
    texts = _texts(m)
    assert "본문 첫 문단.\n둘째 문단." in texts and "웹 문서 하나" in texts
    assert not any("var x" in t or "메뉴" in t for t in texts)
    assert m.stats["quarantined"] == {"not_html": 1}


def test_every_kind_of_broken_input_is_quarantined_with_its_bytes(stages, tmp_path):
    d = tmp_path / "bad"
    d.mkdir()
    good = json.dumps({"text": KO}, ensure_ascii=False).encode()
    (d / "a.jsonl").write_bytes(b"\n".join([
        good, b"{broken", b'{"text": "nul \\u0000 inside"}', b'{"text": "raw nul \x00"}', b'{"other": 1}',
        b'{"text": 5}', b'{"text": "' + "가".encode() * 40 + b'"}', b"[1, 2]", b'{"text": "\xff\xfe"}']) + b"\n")
    full = gzip.compress(b"\n".join([good] * 200) + b"\n")
    (d / "cut.jsonl.gz").write_bytes(full[: len(full) // 2])             # truncated archive
    (d / "binary.txt").write_bytes(bytes(range(256)) * 4)
    pq.write_table(pa.table({"body": ["x"]}), d / "schema.parquet")     # no `text` column
    (d / "notparquet.parquet").write_bytes(b"PAR1 garbage")
    m, _ = _collect(stages, [{"name": "bad", "uri": str(d)}])
    q = m.stats["quarantined"]
    assert q.get("invalid_json") == 1 and q.get("nul_bytes") == 2 and q.get("missing_text_field") == 1
    assert q.get("text_not_a_string") == 1 and q.get("not_an_object") == 1 and q.get("invalid_utf8") == 1
    assert q.get("truncated_archive") == 1 and q.get("binary_file") == 1 and q.get("wrong_schema") == 1
    assert q.get("invalid_parquet") == 1
    assert m.stats["records_out"] >= 2, "good records before the cut and in the good lines are kept"
    rows = _quarantine(m)
    assert len(rows) == sum(q.values())
    assert any(r["raw"] == b"{broken" for r in rows)


def test_oversized_records_are_quarantined_not_truncated(stages, tmp_path):
    src = tmp_path / "big.jsonl"
    src.write_text(json.dumps({"text": "가" * 200}, ensure_ascii=False) + "\n" +
                   json.dumps({"text": "나" * 10}, ensure_ascii=False) + "\n")
    cfg = {"collect": {"world_size": 1, "max_record_chars": 100, "sources": [{"name": "s", "uri": str(src)}]}}
    m, _ = stages.run(cfg, "collect")
    assert m.stats["quarantined"] == {"oversized": 1} and m.stats["records_out"] == 1


def test_incremental_collection_reads_only_new_or_changed_files(stages, tmp_path):
    d = tmp_path / "inc"
    d.mkdir()
    for i in range(3):
        (d / f"{i}.jsonl").write_text(json.dumps({"text": f"{KO} {i}"}, ensure_ascii=False) + "\n")
    src = [{"name": "inc", "uri": str(d)}]
    first, _ = _collect(stages, src)
    segs = tmp_path / "wd" / "artifacts" / "collect" / "segments" / "inc"
    # one segment directory per (file, content): segments/<source>/<file>/<key>/
    before = {str(p.relative_to(segs)): p.stat().st_mtime_ns for p in segs.glob("*/*")}
    (d / "3.jsonl").write_text(json.dumps({"text": f"{KO} new"}, ensure_ascii=False) + "\n")
    (d / "0.jsonl").write_text(json.dumps({"text": f"{KO} changed"}, ensure_ascii=False) + "\n")
    second, hit = _collect(stages, src)
    assert not hit and second.uri != first.uri
    after = {str(p.relative_to(segs)): p.stat().st_mtime_ns for p in segs.glob("*/*")}
    reused = {k for k in before if after.get(k) == before[k]}
    assert len(reused) == 3 and len(after) == 5, "two new segments (new file, changed file), three untouched"
    assert _texts(second) == sorted([f"{KO} changed", f"{KO} 1", f"{KO} 2", f"{KO} new"])
    assert second.stats["records_in"] == 4
