import json

import pytest

from components.corpus.cleaning import Cleaner, collapse_repeats, strip_html
from components.corpus.pii import mask_pii
from components.cli import main
from components.contract.config import CurateConfig


@pytest.mark.parametrize("text", [
    "연락처 010-1234-5678 로 주세요", "전화 02-123-4567", "대표번호 1588-1234", "+82 10 1234 5678 입니다",
    "010.1234.5678", "031–123–4567(대표)", "01012345678",
])
def test_phone_numbers_are_masked(text):
    out, counts = mask_pii(text)
    assert counts["tel"] == 1 and "<|tel|>" in out, out


@pytest.mark.parametrize("text", [
    "2023-10-15에 개봉", "가격은 1,000,000원", "20231015 기준", "버전 3.11.7", "점수 95-87로 승리",
    "1998-2005년", "ISBN 978-89-01-12345-6",
])
def test_lookalikes_are_left_alone(text):
    out, counts = mask_pii(text)
    assert out == text and sum(counts.values()) == 0, (out, counts)


def test_resident_numbers_need_a_valid_date_and_gender_digit():
    assert mask_pii("주민번호 900101-1234567")[0] == "주민번호 <|rrn|>"
    assert mask_pii("주민번호 9001011234568")[0] == "주민번호 <|rrn|>"     # undashed: check digit valid
    assert mask_pii("번호 9001011234567")[1]["rrn"] == 0                   # undashed, wrong check digit
    assert mask_pii("번호 900231-1234567")[1]["rrn"] == 0                  # 31 February
    assert mask_pii("번호 901301-1234567")[1]["rrn"] == 0        # month 13
    assert mask_pii("번호 900101-9234567")[1]["rrn"] == 0        # no such gender digit


def test_bank_accounts_need_context():
    assert "<|acc|>" in mask_pii("국민은행 계좌 123456-78-901234 예금주 홍길동")[0]
    assert "<|acc|>" not in mask_pii("주문번호 123456-78-901234")[0]


def test_repeats_collapse_but_digits_never():
    assert collapse_repeats("ㅋㅋㅋㅋㅋ 좋아요!!!!", 2) == "ㅋㅋ 좋아요!!"
    assert collapse_repeats("1,000,000원 10000", 2) == "1,000,000원 10000"


def test_html_tags_go_but_mask_tokens_stay():
    assert strip_html("<p>안녕 <b>하세요</b></p> <|tel|> &amp;").split() == ["안녕", "하세요", "<|tel|>", "&"]


def test_chain_records_drop_reasons_and_edits():
    clean = Cleaner(CurateConfig(min_chars=5))
    assert clean("   ").drop_reason == "empty"
    assert clean("짧다").drop_reason == "too_short"
    o = clean("<p>재밌어요ㅋㅋㅋㅋ   전화 010-1234-5678</p>")
    assert o.text == "재밌어요ㅋㅋ 전화 <|tel|>"
    assert o.edits.keys() >= {"repeated_chars", "pii", "whitespace", "html"}


def test_clean_command_keeps_fields_and_accounts_for_everything(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    rows = [{"id": "a", "text": "좋은 영화ㅋㅋㅋㅋ 010-1234-5678", "lang": "ko"}, {"id": "b", "text": "  "},
            {"id": "c", "text": "괜찮은 작품이었습니다"}, {"id": "d", "note": "no text"}]
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows) + "{broken\n")
    dst = tmp_path / "out.jsonl"
    assert main(["clean", str(src), str(dst)]) == 0
    stats = json.loads(capsys.readouterr().out)
    kept = [json.loads(line) for line in dst.read_text().splitlines()]
    assert [r["id"] for r in kept] == ["a", "c"]
    assert kept[0] == {"id": "a", "text": "좋은 영화ㅋㅋ <|tel|>", "lang": "ko"}
    assert stats["records_in"] == 5 == stats["records_out"] + sum(stats["dropped"].values()) + sum(
        stats["quarantined"].values())
    assert stats["quarantined"] == {"missing_text_field": 1, "invalid_json": 1}
    assert len((tmp_path / "out.jsonl.quarantine.jsonl").read_text().splitlines()) == 2


def test_clean_command_reads_jsonl_as_collect_does(tmp_path, capsys):
    """Invalid UTF-8 is invalid_utf8 (it used to be reported as invalid_json), a NUL byte is nul_bytes, a
    gzip file is read, and the raw bytes of every quarantined line come back exactly."""
    import base64
    import gzip

    src = tmp_path / "in.jsonl.gz"
    bad_utf8 = b'{"text": "\xff\xfe \xeb\xb9"}'
    with gzip.open(src, "wb") as f:
        f.write(json.dumps({"text": "괜찮은 작품이었습니다"}, ensure_ascii=False).encode() + b"\n")
        f.write(bad_utf8 + b"\n" + b'{"text": "a\x00b"}\n' + b'["not", "an", "object"]\n')
    dst = tmp_path / "out.jsonl"
    assert main(["clean", str(src), str(dst)]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["quarantined"] == {"invalid_utf8": 1, "nul_bytes": 1, "not_an_object": 1}
    assert stats["records_out"] == 1 and stats["records_in"] == 4
    rows = [json.loads(x) for x in (tmp_path / "out.jsonl.quarantine.jsonl").read_text().splitlines()]
    assert base64.b64decode(rows[0]["raw_base64"]) == bad_utf8 and rows[0]["location"] == "in.jsonl.gz:2"
