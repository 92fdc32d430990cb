"""Document quality scores (Gopher-style rules adapted to Korean) and the Hangul ratio.

Scoring is kept apart from the decision: `scores(text)` measures, `gopher_reason(scores, cfg)` compares with the
configured thresholds and names the first rule that fails. Korean words (eojeol) carry particles and endings, so
"word length" is counted in characters of whitespace-separated words, with bounds set for Korean (1 to 15 by
default; Gopher's 3 to 10 is for English letters). The rules apply to documents of at least
`gopher_min_words` words: ratios over a one-line review say nothing.
"""
from __future__ import annotations

import re
from collections import Counter

_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_LETTER = re.compile(r"[^\W\d_]")
_SYMBOLS = ("#", "...", "…")
_BULLETS = ("•", "●", "▶", "►", "-", "*", "·", "※", "○", "■", "□", "◆")
_ELLIPSIS = ("...", "…")


def hangul_ratio(text: str) -> float:
    """Hangul among all letters (digits, punctuation and spaces excluded)."""
    letters = len(_LETTER.findall(text))
    return len(_HANGUL.findall(text)) / letters if letters else 0.0


def _dup_ngram_fraction(words: list[str], n: int) -> float:
    """Share of characters in word n-grams that occur more than once (Gopher's duplicate n-gram rule)."""
    if len(words) < n:
        return 0.0
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    counts = Counter(grams)
    dup = [False] * len(words)
    for i, g in enumerate(grams):
        if counts[g] > 1:
            for j in range(i, i + n):
                dup[j] = True
    total = sum(len(w) for w in words)
    return sum(len(w) for w, d in zip(words, dup) if d) / total if total else 0.0


def _top_ngram_fraction(words: list[str], n: int) -> float:
    if len(words) < n:
        return 0.0
    counts = Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))
    gram, c = counts.most_common(1)[0]
    total = sum(len(w) for w in words)
    return c * sum(len(w) for w in gram) / total if total else 0.0


def scores(text: str) -> dict[str, float]:
    words = text.split()
    lines = [ln for ln in text.split("\n") if ln.strip()]
    n_words = len(words)
    s = {"words": n_words, "mean_word_length": sum(map(len, words)) / n_words if n_words else 0.0,
         "symbol_word_ratio": sum(text.count(sym) for sym in _SYMBOLS) / n_words if n_words else 0.0,
         "bullet_lines": sum(ln.lstrip().startswith(_BULLETS) for ln in lines) / len(lines) if lines else 0.0,
         "ellipsis_lines": sum(ln.rstrip().endswith(_ELLIPSIS) for ln in lines) / len(lines) if lines else 0.0,
         "duplicate_lines": 1 - len(set(lines)) / len(lines) if lines else 0.0,
         "top_2gram": _top_ngram_fraction(words, 2), "top_3gram": _top_ngram_fraction(words, 3),
         "dup_5gram": _dup_ngram_fraction(words, 5), "dup_10gram": _dup_ngram_fraction(words, 10)}
    return s


def gopher_reason(s: dict[str, float], cfg) -> str | None:
    """The first Gopher rule a document fails, or None. Thresholds from CurateConfig."""
    if s["words"] < cfg.gopher_min_words:
        return None
    rules = [
        ("gopher_word_length", not (cfg.min_mean_word_length <= s["mean_word_length"] <= cfg.max_mean_word_length)),
        ("gopher_symbols", s["symbol_word_ratio"] > cfg.max_symbol_word_ratio),
        ("gopher_bullets", s["bullet_lines"] > cfg.max_bullet_lines),
        ("gopher_ellipsis", s["ellipsis_lines"] > cfg.max_ellipsis_lines),
        ("gopher_duplicate_lines", s["duplicate_lines"] > cfg.max_duplicate_lines),
        ("gopher_top_ngram", s["top_2gram"] > cfg.max_top_2gram or s["top_3gram"] > cfg.max_top_3gram),
        ("gopher_dup_ngram", s["dup_5gram"] > cfg.max_dup_5gram or s["dup_10gram"] > cfg.max_dup_10gram),
    ]
    return next((name for name, failed in rules if failed), None)
