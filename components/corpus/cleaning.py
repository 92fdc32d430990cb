"""The per-document cleaning chain (Polyglot-Ko's rules, POLYGLOT-KO.md section 1), shared by the curate stage
and `polyglot-ko clean`.

Each step is `fn(text, outcome) -> text | None`: None drops the document, with the reason the step names; a
changed text counts as an edit. The 2022 regexes were naive (the undashed phone pattern ate dates and prices, the
repeat rule turned 1,000,000 into 1,00,00); these keep the intent with boundaries and validation.
"""
from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Callable

from ..contract.config import CurateConfig
from . import fineweb2 as fw2
from .langid import identify
from .pii import ACC, EMAIL, RRN, TEL, mask_pii
from .quality import gopher_reason, hangul_ratio, scores

# Only real HTML element names: "<stdin>" or "<class 'int'>" in technical text are content, not markup.
_HTML_TAGS = ("a|abbr|area|article|aside|audio|b|base|big|blockquote|body|br|button|caption|center|cite|code|col|"
              "colgroup|dd|del|div|dl|dt|em|embed|figcaption|figure|font|footer|form|h[1-6]|head|header|hr|html|i|"
              "iframe|img|input|ins|label|li|link|main|map|mark|meta|nav|noscript|object|ol|option|p|param|pre|s|"
              "section|select|small|source|span|strike|strong|sub|sup|table|tbody|td|textarea|tfoot|th|thead|title|"
              "tr|tt|u|ul|video|wbr")
_TAG = re.compile(r"<(?:script|style)\b.*?</(?:script|style)\s*>|<!--.*?-->|</?(?:" + _HTML_TAGS +
                  r")(?:\s[^<>]*)?/?>", re.S | re.I)
_SPACES = re.compile(r"[^\S\n]+")
_BLANKS = re.compile(r"\n{3,}")


def collapse_repeats(text: str, keep: int) -> str:
    # Any non-digit, non-space character repeated more than `keep` times (ㅋㅋㅋㅋ -> ㅋㅋ); digits are values.
    return re.sub(r"([^\d\s])\1{%d,}" % keep, lambda m: m.group(1) * keep, text)


def strip_html(text: str) -> str:
    if "<" not in text and "&" not in text:
        return text
    masked = text
    for tok in (TEL, RRN, ACC, EMAIL, "<|url|>"):   # our own mask tokens look like tags; keep them
        masked = masked.replace(tok, tok.replace("<", "\x00").replace(">", "\x01"))
    out = html.unescape(_TAG.sub(" ", masked))
    return out.replace("\x00", "<").replace("\x01", ">")


def normalize_whitespace(text: str) -> str:
    lines = [_SPACES.sub(" ", ln).strip() for ln in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def _drop(o: "Outcome", reason: str) -> None:
    o.reason = reason
    return None


@dataclass
class Outcome:
    text: str | None
    drop_reason: str | None = None
    reason: str | None = None          # set by the filter step that drops the document
    edits: dict[str, int] = field(default_factory=dict)
    pii: dict[str, int] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)          # added to the record's metadata (language and score)
    contaminated: list = field(default_factory=list)  # the evaluation items found (decontam.Item)


_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"'가-힣]+", re.I)


def handle_urls(text: str, mode: str) -> str:
    if mode == "keep":
        return text
    return _URL.sub("" if mode == "remove" else "<|url|>", text)


def steps_for(cfg: CurateConfig) -> dict[str, Callable[[str, Outcome], str | None]]:
    """Every step of the chain (config.CleaningStep names them), parameterised by `cfg`."""
    def pii(t, o):
        t2, counts = mask_pii(t)
        for k, v in counts.items():
            if v:
                o.pii[k] = o.pii.get(k, 0) + v
        return t2

    def gopher(t, o):
        reason = gopher_reason(scores(t), cfg)
        if reason:
            o.reason = reason
            return None
        return t

    def language(t, o):
        lang, score = identify(t, script_share=cfg.language_script_share)
        o.meta.update(lang=lang, lang_score=round(score, 4))
        if lang not in cfg.languages:
            return _drop(o, "other_language")
        return t if score >= cfg.min_language_score else _drop(o, "low_language_score")

    def fineweb2(t, o):
        reason = fw2.reason(t, cfg.fineweb2)
        return _drop(o, reason) if reason else t

    index = None

    def decontaminate(t, o):
        nonlocal index
        if index is None:      # built on first use: one per process, ~1 s
            from .decontam import index_for
            index = index_for(cfg.decontaminate)
        found = index.find(t)
        if found:
            o.contaminated = found
            return _drop(o, "contaminated")
        return t

    return {
        "empty": lambda t, o: t if t.strip() else _drop(o, "empty"),
        "url": lambda t, o: handle_urls(t, cfg.url),
        "max_chars": lambda t, o: t if len(t) <= cfg.max_chars else _drop(o, "too_long"),
        "hangul_ratio": lambda t, o: t if hangul_ratio(t) >= cfg.min_hangul_ratio else _drop(o, "low_hangul"),
        "gopher": gopher,
        "empty_after_clean": lambda t, o: t if t.strip() else _drop(o, "empty"),
        "nfc": lambda t, o: unicodedata.normalize("NFC", t),
        "html": lambda t, o: strip_html(t),
        "repeated_chars": lambda t, o: collapse_repeats(t, cfg.max_repeat),
        "pii": pii,
        "whitespace": lambda t, o: normalize_whitespace(t),
        "min_chars": lambda t, o: t if len(t) >= cfg.min_chars else _drop(o, "too_short"),
        "language": language,
        "fineweb2": fineweb2,
        "decontaminate": decontaminate,
    }


class Cleaner:
    """The configured chain, built once and applied to many documents."""

    def __init__(self, cfg: CurateConfig):
        table = steps_for(cfg)
        self.steps = [(name, table[name]) for name in cfg.steps]

    def __call__(self, text: str) -> Outcome:
        o = Outcome(text)
        for name, fn in self.steps:
            new = fn(o.text, o)
            if new is None:
                o.text = None
                o.drop_reason = o.reason
                return o
            if new != o.text:
                o.edits[name] = o.edits.get(name, 0) + 1
            o.text = new
        return o


def tally(o: Outcome, stats: dict) -> None:
    """Add one document's outcome to running counts: stats["edits"], stats["pii"], and stats["dropped"] by reason."""
    for key, outcome_counts in (("edits", o.edits), ("pii", o.pii)):
        for k, v in outcome_counts.items():
            stats[key][k] = stats[key].get(k, 0) + v
    if o.text is None:
        stats["dropped"][o.drop_reason] = stats["dropped"].get(o.drop_reason, 0) + 1
