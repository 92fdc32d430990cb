"""PII detection and masking for Korean text: phone numbers, resident registration numbers, bank accounts, e-mail.

`find_pii` returns spans on the original text; `mask_pii` replaces them with Polyglot-Ko's tokens. Each detector
is a permissive pattern plus a validator that rejects what only looks alike (dates, prices, year ranges, versions,
order numbers, coordinates). Measured on a labelled set: benchmarks/pii_eval.py.
"""
from __future__ import annotations

import re

TEL, RRN, ACC, EMAIL = "<|tel|>", "<|rrn|>", "<|acc|>", "<|email|>"
TOKENS = {"tel": TEL, "rrn": RRN, "acc": ACC, "email": EMAIL}

# What people type between digit groups: a dash (Unicode ones too) or dot, maybe spaced, or a space.
_SEP = r"(?:\s?[-.\u2010-\u2015\u2212\uff0d]\s?|\s)"
_DASH = r"[-\u2010-\u2015\u2212\uff0d]"
_B = r"(?<!\d)(?<!\d[-.,])"                         # not glued to a longer number on the left
_E = r"(?!\d)(?![-.,]\d)"                           # ... nor on the right

_PHONE = re.compile(_B + r"(?:"
    r"(?:\+\s?82" + _SEP + r"?(?:\(0\)\s?)?|0)"    # +82 (the leading 0 dropped) or a leading 0
    r"(?:1[016789]|2|[3-6][1-5]|70|50[2-8]|60)"     # mobile, Seoul, regional, VoIP, personal 050x
    r"(?:" + _SEP + r"|\)\s?)?\d{3,4}" + _SEP + r"?\d{4}"
    r"|\(0(?:2|[3-6][1-5]|70)\)\s?\d{3,4}" + _SEP + r"?\d{4}"       # (02) 123-4567
    r"|1[568]\d\d" + _SEP + r"\d{4}"                 # representative numbers: 1588-1234, 1644-0000
    r")" + _E)
_RRN = re.compile(_B + r"(\d{2})(\d{2})(\d{2})\s?(" + _DASH + r")?\s?([1-8]\d{6})" + _E)
_ACC = re.compile(_B + r"\d{2,6}(?:" + _DASH + r"\d{2,7}){1,2}(?:" + _DASH + r"\d{1,3})?" + _E
                  + r"|" + _B + r"\d{10,14}" + _E)
_ACC_CONTEXT = re.compile(r"계좌|예금주|입금|송금|이체|통장|무통장|은행|뱅크|농협|신한|국민|우리|하나|기업|씨티|카카오|"
                          r"케이뱅크|새마을|우체국|수협|대구|부산|경남|광주|전북|제주|SC제일|account", re.I)
_EMAIL = re.compile(r"(?<![A-Za-z0-9.+_-])[A-Za-z0-9][\w.+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![A-Za-z0-9-])")
_DATE = re.compile(r"(19|20)\d\d" + _DASH + r"(0[1-9]|1[0-2])" + _DASH + r"(0[1-9]|[12]\d|3[01])(" + _DASH + r"\d{1,3})?")
_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _rrn_ok(m: re.Match) -> bool:
    month, day = int(m.group(2)), int(m.group(3))
    if not (1 <= month <= 12 and 1 <= day <= _DAYS[month - 1]):
        return False
    if m.group(4):            # written with a dash: date and gender digit are enough
        return True
    # Undashed 13-digit runs are often IDs: also require the check digit (numbers issued before Oct 2020).
    digits = m.group(1) + m.group(2) + m.group(3) + m.group(5)
    total = sum(int(d) * w for d, w in zip(digits[:12], (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)))
    return (11 - total % 11) % 10 == int(digits[12])


_YEARISH = re.compile(r"\s?(년|세기|시즌|학번)")


def _tel_ok(m: re.Match, text: str) -> bool:
    groups = re.findall(r"\d+", m.group(0))
    digits = "".join(groups)
    if m.group(0).lstrip().startswith("+"):
        return 9 <= len(digits) <= 12
    if len(groups) == 2 and all(len(g) == 4 for g in groups):    # 1588-1234 style
        a, b = int(groups[0]), int(groups[1])
        # "1600-1700년대" is a year range, not a representative number: told apart by what follows
        return not (a < b <= 2100 and _YEARISH.match(text, m.end()))
    return 9 <= len(digits) <= 11


def _acc_ok(m: re.Match, text: str) -> bool:
    s = m.group(0)
    digits = re.sub(r"\D", "", s)
    if not 10 <= len(digits) <= 14:
        return False
    if _DATE.fullmatch(s):   # a date with a sequence number: 2023-10-15-01
        return False
    window = text[max(0, m.start() - 40):m.end() + 20]
    return bool(_ACC_CONTEXT.search(window))


def find_pii(text: str) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, type) spans; on overlap the earlier detector in this order wins:
    e-mail, resident number, bank account, phone."""
    if not any(ch.isdigit() for ch in text) and "@" not in text:
        return []
    spans: list[tuple[int, int, str]] = []

    def add(start: int, end: int, kind: str) -> None:
        if all(end <= s or start >= e for s, e, _ in spans):
            spans.append((start, end, kind))

    if "@" in text:
        for m in _EMAIL.finditer(text):
            add(m.start(), m.end(), "email")
    for m in _RRN.finditer(text):
        if _rrn_ok(m):
            add(m.start(), m.end(), "rrn")
    if _ACC_CONTEXT.search(text):
        for m in _ACC.finditer(text):
            tel = _PHONE.fullmatch(m.group(0))
            if _acc_ok(m, text) and not (tel and _tel_ok(tel, m.group(0))):
                add(m.start(), m.end(), "acc")
    for m in _PHONE.finditer(text):
        if _tel_ok(m, text):
            s, e = m.start(), m.end()
            while e > s and text[e - 1].isspace():
                e -= 1
            add(s, e, "tel")
    return sorted(spans)


def mask_pii(text: str) -> tuple[str, dict[str, int]]:
    counts = {"rrn": 0, "tel": 0, "acc": 0, "email": 0}
    spans = find_pii(text)
    if not spans:
        return text, counts
    out, pos = [], 0
    for s, e, kind in spans:
        out += [text[pos:s], TOKENS[kind]]
        counts[kind] += 1
        pos = e
    out.append(text[pos:])
    return "".join(out), counts
