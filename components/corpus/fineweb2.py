"""FineWeb-2's three document filters, as its pipeline runs them for Korean (fineweb-2-pipeline.py with
configs/kor_Hang.yml; the filters are datatrove's GopherRepetitionFilter, FineWebQualityFilter and
GopherQualityFilter), for `curate.preset: fineweb2-kor`.

Words are what datatrove's Korean word tokenizer gives: the surface spans of Kiwi's morphemes (so "했다" is the words
"했", "했", "다": two morphemes share the contracted syllable), which is why FineWeb-2's Korean word lengths (1 to 6)
and stop words ("의", "다", "이", ...) are morpheme-sized. Scoring is kept apart from the decision like
components/corpus/quality.py: `reason(text, cfg)` names the first rule a document fails, with datatrove's rule
names prefixed `fineweb2_`. Kiwi costs about 3 s per million characters on one core: this preset is several times
slower than the Polyglot-Ko chain (benchmarks/curation.py measures both).
"""
from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

# Terminal punctuation (the common members of datatrove's TERMINAL_PUNCTUATION set) and the punctuation that makes a
# word a symbol (datatrove's PUNCTUATION string, without its control characters).
TERMINAL = tuple(".!?。！？．｡…‼⁇⁈⁉؟।॥")
PUNCTUATION = set("!/—”:％１〈&(、━\\【#%「」，】；+^]~“《„';’{|∶´[=-`*．（–？！：$～«〉,><》)?）。…@_.\"}►»") | set(TERMINAL)
_BIG_NUMBER = re.compile(r"[0-9,]{20,}")     # datatrove strips these before Kiwi (it stalls on them)
_PARAGRAPHS = re.compile(r"\n{2,}")
_LINES = re.compile(r"\n+")


@lru_cache(maxsize=1)
def _kiwi():
    from kiwipiepy import Kiwi
    return Kiwi()


def words(text: str) -> list[str]:
    text = _BIG_NUMBER.sub("", text)
    return [w for w in (text[t.start:t.start + t.len].strip() for t in _kiwi().tokenize(text)) if w]


def _duplicates(items: list[str]) -> tuple[int, int]:
    seen, elements, chars = set(), 0, 0
    for x in items:
        if x in seen:
            elements, chars = elements + 1, chars + len(x)
        else:
            seen.add(x)
    return elements, chars


def _top_ngram_chars(ws: list[str], n: int) -> int:
    grams = Counter(" ".join(ws[i:i + n]) for i in range(len(ws) - n + 1))
    if not grams:
        return 0
    gram, count = grams.most_common(1)[0]
    return len(gram) * count


def _repeated_ngram_chars(ws: list[str], n: int) -> int:
    # datatrove's find_all_duplicate: after a repeat, skip past it (overlapping repeats count once)
    seen, chars, i = set(), 0, 0
    while i < len(ws) - n + 1:
        gram = "".join(ws[i:i + n])
        if gram in seen:
            chars += len(gram)
            i += n
        else:
            seen.add(gram)
            i += 1
    return chars


def _repetition(text: str, ws: list[str], cfg) -> str | None:
    lines = _LINES.split(text)
    if cfg.dup_line_frac and _duplicates(lines)[0] / len(lines) > cfg.dup_line_frac:
        return "dup_line_frac"
    for n, frac in sorted((int(k), v) for k, v in cfg.top_n_grams.items()):
        if len(ws) >= n and _top_ngram_chars(ws, n) / len(text) > frac:
            return f"top_{n}_gram"
    for n, frac in sorted((int(k), v) for k, v in cfg.dup_n_grams.items()):
        if _repeated_ngram_chars(ws, n) / len(text) > frac:
            return f"duplicated_{n}_n_grams"
    return None


def _fineweb_quality(text: str, ws: list[str], cfg) -> str | None:
    lines = [ln for ln in text.split("\n") if ln.strip()]
    if not lines:
        return "empty"
    if sum(ln.endswith(TERMINAL) for ln in lines) / len(lines) < cfg.line_punct_thr:
        return "line_punct_ratio"
    # (FineWeb-2 turns its short-line rule off for every language)
    if _duplicates(lines)[1] / max(1, len(text.replace("\n", ""))) > cfg.char_duplicates_ratio:
        return "char_dup_ratio"
    if ws and text.count("\n") / len(ws) > cfg.new_line_ratio:
        return "list_ratio"
    return None


def _gopher_quality(text: str, ws: list[str], cfg) -> str | None:
    content = [w for w in ws if any(ch not in PUNCTUATION for ch in w)]
    if len(content) < cfg.min_doc_words:
        return "gopher_short_doc"
    if len(content) > cfg.max_doc_words:
        return "gopher_long_doc"
    mean = sum(map(len, content)) / len(content)
    if mean < cfg.min_avg_word_length:
        return "gopher_below_avg_threshold"
    if mean > cfg.max_avg_word_length:
        return "gopher_above_avg_threshold"
    if text.count("#") / len(ws) > cfg.max_symbol_word_ratio:
        return "gopher_too_many_hashes"
    if (text.count("...") + text.count("…")) / len(ws) > cfg.max_symbol_word_ratio:
        return "gopher_too_many_ellipsis"
    lines = text.splitlines()
    if sum(ln.lstrip().startswith(("•", "-")) for ln in lines) / len(lines) > cfg.max_bullet_lines_ratio:
        return "gopher_too_many_bullets"
    if sum(ln.rstrip().endswith(("...", "…")) for ln in lines) / len(lines) > cfg.max_ellipsis_lines_ratio:
        return "gopher_too_many_end_ellipsis"
    if sum(any(ch.isalpha() for ch in w) for w in ws) / len(ws) < cfg.max_non_alpha_words_ratio:
        return "gopher_below_alpha_threshold"
    if len(set(cfg.stop_words) & set(ws)) < cfg.min_stop_words:
        return "gopher_enough_stop_words"
    return None


def reason(text: str, cfg) -> str | None:
    """The first FineWeb-2 rule `text` fails (`cfg`: a FineWeb2Config), in the pipeline's order, or None."""
    if not text.strip():
        return "fineweb2_empty"
    ws = words(text)
    for rule in (_repetition, _fineweb_quality, _gopher_quality):
        failed = rule(text, ws, cfg)
        if failed:
            return f"fineweb2_{failed}"
    return None
