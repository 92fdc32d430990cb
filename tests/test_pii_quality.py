"""PII masking measured on two labelled sets: the patterns' set (synthetic formats + real NSMC reviews + real KLUE
news sentences) and a held-out set written from the published formats and other writing styles (forms, chat, legal
text, e-mails, ads, notices) with at least as many look-alike lines as positive ones (benchmarks/pii_set_heldout.py)."""
import json
from pathlib import Path

import pytest

from components.corpus.pii import find_pii, mask_pii
from components.corpus.pii_eval import TYPES, evaluate

SET = Path("tests/data/pii_labelled.jsonl")
HELDOUT = Path("tests/data/pii_heldout.jsonl")
# Measured on the held-out set: recall 1.0 for every type, precision 1.0 except rrn 0.9989 (one time stamp whose
# 13 digits happen to form a date, a gender digit and a valid check digit). The set's author also wrote the rules,
# so these figures are optimistic for unseen text: the goal keeps a margin below them instead of pinning 1.0.
HELDOUT_RECALL, HELDOUT_PRECISION = 0.98, 0.97


def _failures(errors, kind):
    return [e for e in errors if any(s[2] == kind for s in e["missed"] + e["false"])][:10]


def test_labelled_set_covers_every_type_and_real_text():
    text = SET.read_text(encoding="utf-8")
    assert text.count('"origin": "klue"') == 5000 and text.count('"origin": "nsmc"') >= 20
    report, _ = evaluate(SET)
    assert all(report[t]["gold"] >= 400 for t in TYPES)


@pytest.mark.parametrize("kind", TYPES)
def test_recall_and_precision_meet_the_goal(kind):
    report, errors = evaluate(SET)
    r = report[kind]
    assert r["recall"] >= 0.99 and r["precision"] >= 0.98, (r, _failures(errors, kind))


def test_heldout_set_covers_every_type_and_as_many_look_alikes():
    rows = [json.loads(line) for line in HELDOUT.read_text(encoding="utf-8").splitlines()]
    report, _ = evaluate(HELDOUT)
    assert all(report[t]["gold"] >= 300 for t in TYPES)
    assert sum(r["origin"] == "lookalike" for r in rows) >= sum(bool(r["spans"]) for r in rows)
    undashed = [r["text"][s:e] for r in rows for s, e, k in r["spans"] if k == "rrn" and r["text"][s:e].isdigit()]
    assert len(undashed) >= 200


@pytest.mark.parametrize("kind", TYPES)
def test_heldout_recall_and_precision_meet_the_goal(kind):
    report, errors = evaluate(HELDOUT)
    r = report[kind]
    assert r["recall"] >= HELDOUT_RECALL and r["precision"] >= HELDOUT_PRECISION, (r, _failures(errors, kind))


def test_heldout_look_alikes_stay():
    rows = [json.loads(line) for line in HELDOUT.read_text(encoding="utf-8").splitlines()]
    false = [(r["text"], find_pii(r["text"])) for r in rows if r["origin"] == "lookalike" and find_pii(r["text"])]
    assert len(false) <= 5, false[:10]


# Numbers issued since October 2020 carry no check digit: every number here fails the old check digit, so only
# the context decides.
RRN_CONTEXT = [
    "주민번호 2110153123456 확인",
    "성명: 김민준 / 주민등록번호: 2203044123457",
    "피고인 박서준(2203044123457, 주거 서울특별시 마포구)",
    "이름: 최지우\n생년월일: 2201013456780",
    "본인확인을 위해 2201013456780 입력",
    "외국인등록번호 2104057123451",
    "성명 | 주민번호 | 연락처\n이민호 | 2302154987654 | 010-1234-5678",
    "정하늘 2012253876543 서울특별시 마포구 월드컵북로 1",
]
LOOK_ALIKES = [
    "번호 9001011234567",
    "주문번호 2110153123456 결제완료",
    "택배 송장 2110153123456 로젠택배",
    "김민준님 송장번호는 2110153123456 입니다",
    "상품 바코드 8801043012346",
    "회원번호: 2110153123456",
    "법인등록번호 110111-1234567",
    "id=2110153123456 status=ok",
    "1234567890123 2110153123456 9876543210987",
]


@pytest.mark.parametrize("text", RRN_CONTEXT)
def test_undashed_rrn_without_check_digit_masked_in_context(text):
    digits = next(w for w in text.replace("(", " ").replace(",", " ").split() if len(w) == 13 and w.isdigit())
    total = sum(int(d) * w for d, w in zip(digits[:12], (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)))
    assert (11 - total % 11) % 10 != int(digits[12])          # the example really has no valid check digit
    assert mask_pii(text)[1]["rrn"] == 1 and digits not in mask_pii(text)[0]


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_rrn_look_alikes_left_alone(text):
    assert mask_pii(text)[1]["rrn"] == 0


BLIND = Path("tests/data/pii_blind.jsonl")
# Measured on the blind set (written without the detector in view, never tuned on): tel 0.989 / 1.000,
# rrn 0.871 / 0.974 (undashed post-2020 numbers in JSON, HR lists and rulings are missed), acc 0.971 / 0.993,
# email 1.000 / 1.000. The floors sit just under, so a regression shows; they are not goals.
BLIND_FLOOR = {"tel": (0.98, 0.99), "rrn": (0.86, 0.96), "acc": (0.96, 0.98), "email": (0.99, 0.99)}


@pytest.mark.parametrize("kind", TYPES)
def test_blind_set_recall_and_precision_do_not_regress(kind):
    report, errors = evaluate(BLIND)
    r, (recall, precision) = report[kind], BLIND_FLOOR[kind]
    assert r["gold"] >= 200
    assert r["recall"] >= recall and r["precision"] >= precision, (r, _failures(errors, kind))
