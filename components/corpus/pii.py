"""PII detection and masking for Korean text: phone numbers, resident registration numbers, bank accounts, e-mail.

`find_pii` returns spans on the original text; `mask_pii` replaces them with Polyglot-Ko's tokens. Each detector
is a permissive pattern plus a validator that rejects what only looks alike (dates, prices, year ranges, versions,
order numbers, coordinates). Undashed resident numbers issued since October 2020 have no check digit, so
context decides them. Measured on two labelled sets: benchmarks/pii_report.py.
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
# City names count only as "...은행": alone they are addresses, and an address next to a number means a form.
_BANK = (r"은행|뱅크|농협|신한|국민|우리|하나|기업|씨티|카카오|카뱅|케뱅|토스|새마을|우체국|수협|신협|"
         r"(?:대구|부산|경남|광주|전북|제주)은행|SC제일")
_BANK_BEFORE = re.compile(r"(?:" + _BANK + r")\s?$")
_ACC_WORDS = re.compile(r"계좌|예금주|입금|송금|이체|통장")
_ACC_CONTEXT = re.compile(r"계좌|예금주|입금|송금|이체|통장|" + _BANK + r"|account", re.I)
_EMAIL = re.compile(r"(?<![A-Za-z0-9.+_-])[A-Za-z0-9][\w.+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![A-Za-z0-9-])")
# "icon@2x.png", "bg@dark.svg": asset names, not addresses; no top-level domain is a file extension.
_FILE_EXT = re.compile(r"\.(?:png|jpe?g|gif|svg|webp|bmp|ico|pdf|js|css|json|txt|zip|mp[34])$", re.I)
_DATE = re.compile(r"(19|20)\d\d" + _DASH + r"(0[1-9]|1[0-2])" + _DASH + r"(0[1-9]|[12]\d|3[01])(" + _DASH + r"\d{1,3})?")
_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


# A number right after the label of some other identifier is that identifier, whatever its shape: 주문번호,
# 운송장, 바코드, 법인등록번호 (6-7 digits like a resident number), id=... Only a particle and non-Hangul may sit
# between.
_OTHER_ID = re.compile(r"(?:주문|송장|등기|바코드|ISBN|사업자|법인|접수|예약|회원|시리얼|일련|제조|거래|승인|청구|"
                       r"인보이스|상품|제품|부품|모델|IMEI|학번|수험|사건|쿠폰|티켓|좌석|고유|S/?N|\bid)"
                       r"(?:\s?(?:등록)?번호|\s?코드|\s?넘버)?[은는이가]?[^\d가-힣\n]{0,4}$", re.I)
# What says a number is a resident (or alien) registration number: the words for it (_RRN_WORDS), or a person the
# number belongs to (_PERSON: a party in a judgement or contract, a form's name field; or a name and a record).
_RRN_WORDS = re.compile(r"주민\s?(?:등록)?\s?번호|주민등록|생년월일|신분증|본인\s?확인|외국인\s?등록")
_PERSON = re.compile(r"성\s?명|이름|피고인|피고|원고|피해자|피의자|신청인|채무자|채권자|임차인|임대인|세대주|보호자|환자|"
                     r"지원자|피보험자|계약자")
_SURNAMES = set("김이박최정강조윤장임한오서신권황안송류전홍고문양손배백허유남심노하곽성차주우구민진나지엄채원천방공현함변염여추"
                "도소석선설마길연위표명기반왕금옥육인맹제모탁국어은편용예경봉사부가복태목형피두감음빈동온호범좌팽승간상갈견")
# A name written just before the number: "홍길동 9501011234567", "홍길동(", "홍길동 | ", "홍길동\t".
_NAME_BEFORE = re.compile(r"(?<![가-힣])([가-힣]{2,4})\s?[(|\t,/:]?\s?$")
# ... and what else a record about a person holds right after it: an address, a phone number, or the next cell.
_RECORD_AFTER = re.compile(r"\s?[)|\t,/]?\s?(?:[가-힣]{2,}(?:특별시|광역시|특별자치도|특별자치시|도|시)\s|"
                           r"(?:\+82|0\d{1,2})[-. )]?\d{3,4}|[가-힣]{2}\s?[|\t])")
_SURNAMES2 = ("남궁", "제갈", "선우", "황보", "독고", "사공")
_WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)


def _check_digit_ok(digits: str) -> bool:
    return (11 - sum(int(d) * w for d, w in zip(digits[:12], _WEIGHTS)) % 11) % 10 == int(digits[12])


def _is_name(word: str) -> bool:
    return bool(re.fullmatch(r"[가-힣]{2,4}", word)) and (word[0] in _SURNAMES or word[:2] in _SURNAMES2)


def _named_person_before(before: str) -> bool:
    m = _NAME_BEFORE.search(before)
    if not m:
        return False
    return _is_name(m.group(1))


def _cell(row: str, left: str, right: str) -> tuple[str, int] | None:
    """(delimiter, column) when the number fills a whole | or tab cell of its line."""
    delim = "|" if "|" in row else "\t" if "\t" in row else None
    left, right = left.rstrip(" "), right.lstrip(" ")
    if delim is None or (left and not left.endswith(delim)) or (right and not right.startswith(delim)):
        return None
    return delim, left.count(delim)


def _table_header(text: str, line_start: int, delim: str) -> str | None:
    top = line_start
    for _ in range(50):                     # walk up to the table's first line; a table is rarely longer
        if top == 0:
            break
        prev = text.rfind("\n", 0, top - 1) + 1
        if delim not in text[prev:top - 1]:
            break
        top = prev
    return text[top:line_start - 1] if top < line_start else None


def _table_says(text: str, start: int, end: int) -> bool | None:
    """A number alone in a table cell: its column's header decides; without a header, a name cell in the row."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    row = text[line_start:len(text) if line_end < 0 else line_end]
    cell = _cell(row, row[:start - line_start], row[end - line_start:])
    if cell is None:
        return None
    delim, column = cell
    header = _table_header(text, line_start, delim)
    title = header.split(delim)[column].strip() if header and column < header.count(delim) + 1 else ""
    if title and _RRN_WORDS.search(title):
        return True
    if title and _OTHER_ID.search(title):
        return False
    return any(_is_name(c.strip()) for c in row.split(delim))


def _rrn_context(text: str, start: int, end: int) -> bool:
    before = text[max(0, start - 40):start]
    table = _table_says(text, start, end)
    if table is not None:
        return table
    if _PERSON.search(before[-24:]):
        return True
    return _named_person_before(before[-12:]) and bool(_RECORD_AFTER.match(text, end, end + 24))


def _rrn_ok(m: re.Match, text: str) -> bool:
    month, day = int(m.group(2)), int(m.group(3))
    if not (1 <= month <= 12 and 1 <= day <= _DAYS[month - 1]):
        return False
    before = text[max(0, m.start() - 24):m.start()]
    if _OTHER_ID.search(before):
        return False
    if m.group(4):            # written with a dash: date and gender digit are enough
        return True
    # Undashed 13-digit runs are often IDs. Numbers issued before Oct 2020 carry a check digit; those issued since
    # carry none (the last six digits are random), so for them only context can tell: the words for the number or
    # a person's record around it. A bank name just before means an account (우리 1002..., 새마을 9002...).
    if _RRN_WORDS.search(text, max(0, m.start() - 40), m.start()) or _RRN_WORDS.search(text, m.end(), m.end() + 12):
        return True
    if _BANK_BEFORE.search(before) or _ACC_WORDS.search(before[-12:]):
        return False
    return _check_digit_ok(m.group(1) + m.group(2) + m.group(3) + m.group(5)) or _rrn_context(text, m.start(), m.end())


_YEARISH = re.compile(r"\s?(년|세기|시즌|학번)")


def _tel_ok(m: re.Match, text: str) -> bool:
    groups = re.findall(r"\d+", m.group(0))
    digits = "".join(groups)
    if m.group(0).lstrip().startswith("+"):
        return 9 <= len(digits) <= 12
    if digits.startswith("050"):           # personal/safe numbers: 0505-123-4567 and 0504-1234-5678
        return 11 <= len(digits) <= 12
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
    if _OTHER_ID.search(text, max(0, m.start() - 24), m.start()):
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
            if not _FILE_EXT.search(m.group(0)):
                add(m.start(), m.end(), "email")
    for m in _RRN.finditer(text):
        if _rrn_ok(m, text):
            add(m.start(), m.end(), "rrn")
    if _ACC_CONTEXT.search(text):
        for m in _ACC.finditer(text):
            tel = _PHONE.fullmatch(m.group(0))
            # an undashed run straight after a bank's name, among account words, is that bank's account even when
            # it has a phone number's shape (농협 05522992649, 예금주 ...)
            banked = m.group(0).isdigit() and _BANK_BEFORE.search(text, max(0, m.start() - 8), m.start()) and \
                _ACC_WORDS.search(text, max(0, m.start() - 40), m.end() + 20)
            if _acc_ok(m, text) and (banked or not (tel and _tel_ok(tel, m.group(0)))):
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
