"""The per-document cleaning chain (Polyglot-Ko's rules, POLYGLOT-KO.md section 1), shared by the curate stage
and `polyglot-ko clean`.

Each step is `fn(text, cfg) -> text | None`: None drops the document with the step's name as the reason; a
changed text counts as an edit. The 2022 regexes were naive (the undashed phone pattern ate dates and prices, the
repeat rule turned 1,000,000 into 1,00,00); these keep the intent with boundaries and validation.
"""
from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Callable

from .config import CurateConfig

TEL, RRN, ACC, EMAIL = "<|tel|>", "<|rrn|>", "<|acc|>", "<|email|>"

_D = r"[-.\s\u2010-\u2015\u2212]"   # separators people type between number groups (incl. Unicode dashes)
_NOT_DIGIT_BEFORE = r"(?<![\d\w.-])"
_NOT_DIGIT_AFTER = r"(?![\d-]|\.\d)"
_PHONE = re.compile(
    _NOT_DIGIT_BEFORE + r"(?:"
    r"(?:\+82[-.\s]?(?:\(0\))?|0)"                      # +82 or a leading 0
    r"(?:1[016789]|2|[3-6][1-5]|70|50[2-8])"            # mobile, Seoul, regional, VoIP, personal 050x
    r"(?:" + _D + r"?\)?" + _D + r"?)\d{3,4}" + _D + r"?\d{4}"
    r"|\(0(?:2|[3-6][1-5]|70)\)\s?\d{3,4}" + _D + r"?\d{4}"       # (02) 123-4567
    r"|1[568]\d\d" + _D + r"\d{4}"                      # representative numbers: 1588-1234
    r")" + _NOT_DIGIT_AFTER)
_RRN = re.compile(r"(?<!\d)(\d{2})(\d{2})(\d{2})\s?[-\u2010-\u2015]?\s?([1-8])\d{6}(?!\d)")
_ACC_CONTEXT = re.compile(r"계좌|예금주|입금|송금|이체|통장|은행|뱅크|농협|신한|국민|우리|하나|기업|씨티|새마을|우체국")
_ACC = re.compile(r"(?<![\d-])\d{2,6}-\d{2,6}-\d{2,7}(?:-\d{1,3})?(?![\d-])|(?<!\d)\d{10,14}(?!\d)")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_TAG = re.compile(r"<(?:script|style)\b.*?</(?:script|style)\s*>|<!--.*?-->|</?[A-Za-z][A-Za-z0-9:-]*(?:\s[^<>]*)?/?>",
                  re.S | re.I)
_SPACES = re.compile(r"[^\S\n]+")
_BLANKS = re.compile(r"\n{3,}")


def _valid_rrn(m: re.Match) -> bool:
    month, day, gender = int(m.group(2)), int(m.group(3)), m.group(4)
    return 1 <= month <= 12 and 1 <= day <= 31 and gender in "12345678"


def mask_pii(text: str) -> tuple[str, dict[str, int]]:
    counts = {"rrn": 0, "tel": 0, "acc": 0, "email": 0}

    def sub_rrn(m):
        if not _valid_rrn(m):
            return m.group(0)
        counts["rrn"] += 1
        return RRN

    def sub_tel(m):
        groups = re.findall(r"\d+", m.group(0))
        # 1500-1999 style representative numbers look like year ranges ("1998-2005"): leave those.
        if len(groups) == 2 and all(len(g) == 4 for g in groups) and int(groups[0]) < int(groups[1]) <= 2100:
            return m.group(0)
        counts["tel"] += 1
        return TEL

    text = _RRN.sub(sub_rrn, text)
    text, counts["email"] = _EMAIL.subn(EMAIL, text)
    if _ACC_CONTEXT.search(text):
        def sub_acc(m):
            window = text[max(0, m.start() - 30):m.end() + 30]
            if _ACC_CONTEXT.search(window) and not _PHONE.fullmatch(m.group(0)):
                counts["acc"] += 1
                return ACC
            return m.group(0)
        text = _ACC.sub(sub_acc, text)
    text = _PHONE.sub(sub_tel, text)
    return text, counts


def collapse_repeats(text: str, keep: int) -> str:
    # Any non-digit, non-space character repeated more than `keep` times (ㅋㅋㅋㅋ -> ㅋㅋ); digits are values.
    return re.sub(r"([^\d\s])\1{%d,}" % keep, lambda m: m.group(1) * keep, text)


def strip_html(text: str) -> str:
    if "<" not in text and "&" not in text:
        return text
    masked = text
    for tok in (TEL, RRN, ACC, EMAIL):   # our own mask tokens look like tags; keep them
        masked = masked.replace(tok, tok.replace("<", "\x00").replace(">", "\x01"))
    out = html.unescape(_TAG.sub(" ", masked))
    return out.replace("\x00", "<").replace("\x01", ">")


def normalize_whitespace(text: str) -> str:
    lines = [_SPACES.sub(" ", ln).strip() for ln in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


@dataclass
class Outcome:
    text: str | None
    drop_reason: str | None = None
    edits: dict[str, int] = field(default_factory=dict)
    pii: dict[str, int] = field(default_factory=dict)


def _step(name: str, cfg: CurateConfig) -> Callable[[str, Outcome], str | None]:
    def pii(t, o):
        t2, counts = mask_pii(t)
        for k, v in counts.items():
            if v:
                o.pii[k] = o.pii.get(k, 0) + v
        return t2

    steps = {
        "empty": lambda t, o: t if t.strip() else None,
        "empty_after_clean": lambda t, o: t if t.strip() else None,
        "nfc": lambda t, o: unicodedata.normalize("NFC", t),
        "html": lambda t, o: strip_html(t),
        "repeated_chars": lambda t, o: collapse_repeats(t, cfg.max_repeat),
        "pii": pii,
        "whitespace": lambda t, o: normalize_whitespace(t),
        "min_chars": lambda t, o: t if len(t) >= cfg.min_chars else None,
    }
    if name not in steps:
        from .errors import UserError
        raise UserError(f"curate.steps: unknown step {name!r} (known: {', '.join(steps)})")
    return steps[name]


class Cleaner:
    """The configured chain, built once and applied to many documents."""

    def __init__(self, cfg: CurateConfig):
        self.steps = [(name, _step(name, cfg)) for name in cfg.steps]

    def __call__(self, text: str) -> Outcome:
        o = Outcome(text)
        for name, fn in self.steps:
            new = fn(o.text, o)
            if new is None:
                o.text, o.drop_reason = None, ("too_short" if name == "min_chars" else "empty")
                return o
            if new != o.text:
                o.edits[name] = o.edits.get(name, 0) + 1
            o.text = new
        return o
