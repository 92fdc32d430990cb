"""Build the labelled language-identification mix (tests/data/langid_mix.jsonl) from real, redistributable text.

    python benchmarks/langid_set.py        # rewrites the file; deterministic (seed 42, sorted inputs)
Each line: {"text", "label", "origin"}; label is one of ko, ja, zh, en, code, ko_en (Korean dense with English
terms). Per class: short (20-100 characters), medium (100-1,000) and long (1,000-5,000) documents; long ones are
consecutive paragraphs (or reviews of one film, or lines of one source file) joined as a page would join them.

Inputs (see tests/data/langid_mix.SOURCE.md for versions and licences):
  data/corpus/ (NSMC, KLUE NER dev, the Korean Python docs)            Korean, technical Korean
  /usr/share/debian-reference/*.{ja,zh-cn,en}.html (Debian packages)   Japanese, Chinese, English; shell listings
  /usr/lib/python3.11/*.py, /usr/include/python3.11/*.h (Debian)        Python and C source
"""
from __future__ import annotations

import gzip
import json
import math
import random
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "tests" / "data" / "langid_mix.jsonl"
CORPUS = ROOT / "data" / "corpus"
DEBREF = Path("/usr/share/debian-reference")
PYLIB = Path("/usr/lib/python3.11")
PYINC = Path("/usr/include/python3.11")

# Per class: how many short / medium / long documents.
COUNTS = {"short": 100, "medium": 110, "long": 90}
SHORT, MEDIUM, LONG = (20, 100), (100, 1000), (1000, 5000)

# Origin prefix -> licence, recorded on every line.
LICENCES = {"nsmc": "CC0-1.0", "klue": "CC-BY-SA-4.0", "python-docs-ko": "PSF-2.0", "debian-reference": "GPL-2+",
            "cpython": "PSF-2.0"}

_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")
_SPACES = re.compile(r"[ \t\r\f\v]+")
_RST = re.compile(r":[a-z:]+:`([^`<]*)(?:<[^>]*>)?`|``([^`]*)``|`([^`<]*?)\s*(?:<[^>]*>)?`_{0,2}")


def count(rx: re.Pattern, s: str) -> int:
    return len(rx.findall(s))


def is_ko(s: str) -> bool:
    h, lat = count(_HANGUL, s), count(_LATIN, s)
    return h >= 5 and lat <= 0.1 * (h + lat) and not count(_KANA, s)


def is_ko_en(s: str) -> bool:
    # "Technical Korean": Hangul carries the sentence, English terms make up a good share of the letters.
    h, lat = count(_HANGUL, s), count(_LATIN, s)
    return h >= 5 and 0.25 <= lat / (h + lat) <= 0.7


def is_ja(s: str) -> bool:
    # Untranslated paragraphs (English left in the Japanese edition) are skipped: their label would be wrong.
    k, han, lat = count(_KANA, s), count(_HAN, s), count(_LATIN, s)
    return k >= 3 and (k + han) >= 0.5 * (k + han + lat)


def is_zh(s: str) -> bool:
    han, lat = count(_HAN, s), count(_LATIN, s)
    return han >= 5 and not count(_KANA, s) and han >= 0.5 * (han + lat)


def is_en(s: str) -> bool:
    return count(_LATIN, s) >= 10 and not (count(_HAN, s) or count(_KANA, s) or count(_HANGUL, s))


def is_code(s: str) -> bool:
    # Keeps out stretches that are only a docstring or comment (English prose, not code).
    return sum(s.count(c) for c in "()[]{}=:;_.,'\"<>$|/-*#") >= 0.06 * len(s)


def origin(src: str) -> str:
    prefix = max((k for k in LICENCES if src.startswith(k)), key=len)
    return f"{src} [{LICENCES[prefix]}]"


def target(rng: random.Random, span: tuple[int, int]) -> int:
    # Log-uniform: web documents are skewed towards the short end of each band.
    return int(math.exp(rng.uniform(math.log(span[0]), math.log(span[1]))))


class _DebRef(HTMLParser):
    """Paragraphs (<p> outside tables) and shell listings (<pre class="screen">) of one Debian Reference page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.paras, self.screens = [], []
        self._buf, self._in, self._table = [], None, 0

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._table += 1
        elif tag == "p" and not self._table and self._in is None:
            self._in, self._buf = "p", []
        elif tag == "pre" and ("class", "screen") in attrs and self._in is None:
            self._in, self._buf = "pre", []

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = max(0, self._table - 1)
        elif tag == self._in:
            text = "".join(self._buf)
            if self._in == "p":
                self.paras.append(re.sub(r"\s+", " ", text).strip())
            else:
                self.screens.append(text.strip("\n"))
            self._in = None

    def handle_data(self, data):
        if self._in:
            self._buf.append(data)


def debref(lang: str) -> list[tuple[str, list[str], list[str]]]:
    pages = []
    for path in sorted(DEBREF.glob(f"*.{lang}.html")):
        p = _DebRef()
        p.feed(path.read_text(encoding="utf-8"))
        pages.append((path.name, p.paras, p.screens))
    return pages


def runs(units: list[str], ok) -> list[list[str]]:
    """Maximal runs of consecutive units that pass `ok` (a page is built from one run, never across a gap)."""
    out, cur = [], []
    for u in units:
        if ok(u):
            cur.append(u)
        elif cur:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def pages_from(rng, groups: list[tuple[str, list[str]]], span, n: int, sep: str, used: set) -> list[tuple[str, str]]:
    """n documents of a length drawn in span, each made of consecutive units from one group."""
    out, tries = [], 0
    while len(out) < n and tries < 200 * n:
        tries += 1
        where, units = rng.choice(groups)
        want = target(rng, span)
        i = rng.randrange(len(units))
        if not units[i].strip():
            continue
        doc, j = units[i], i + 1
        while len(doc) < want and j < len(units):
            doc, j = doc + sep + units[j], j + 1
        if len(doc) >= span[1]:
            cut = doc[:span[1] - 1]
            doc = cut.rsplit(sep, 1)[0] if sep in cut else cut
        if span[0] <= len(doc) < span[1] and doc not in used:
            used.add(doc)
            out.append((doc, f"{where}#{i}"))
    if len(out) < n:
        raise SystemExit(f"only {len(out)} of {n} documents in {span}")
    return out


def single(rng, items: list[tuple[str, str]], span, n: int, used: set) -> list[tuple[str, str]]:
    pool = [(t, w) for t, w in items if span[0] <= len(t) < span[1] and t not in used]
    picked = rng.sample(pool, n)
    used.update(t for t, _ in picked)
    return picked


def nsmc() -> list[dict]:
    with gzip.open(CORPUS / "nsmc_reviews.jsonl.gz", "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def korean(rng) -> list[dict]:
    import pyarrow.parquet as pq

    reviews = nsmc()
    klue = pq.read_table(CORPUS / "klue_ner_dev.parquet").to_pylist()
    synopses = [(p.read_text(encoding="utf-8").strip(), p.name) for p in sorted((CORPUS / "synopses").glob("*.txt"))]
    by_movie: dict[str, list[str]] = {}
    for r in reviews:
        if is_ko(r["review"]):
            by_movie.setdefault(str(r["movie_id"]), []).append(r["review"].strip())
    singles = ([(r["review"].strip(), f"nsmc:{r['review_id']}") for r in reviews if is_ko(r["review"])]
               + [(k["sentence"], f"klue:{k['guid']}") for k in klue if is_ko(k["sentence"])])
    used: set = set()
    short = single(rng, singles, SHORT, COUNTS["short"], used)
    # Medium: synopses, the longer single reviews and news sentences, and the rest pages of reviews of one film.
    syn = [(t, f"nsmc-synopsis:{w}") for t, w in synopses if is_ko(t)]
    medium = [x for x in syn if MEDIUM[0] <= len(x[0]) < MEDIUM[1]][:40]
    used.update(t for t, _ in medium)
    medium += single(rng, singles, MEDIUM, 20, used)
    movies = [(f"nsmc-movie:{m}", v) for m, v in sorted(by_movie.items()) if len(v) >= 3]
    medium += pages_from(rng, movies, MEDIUM, COUNTS["medium"] - len(medium), "\n", used)
    long = [x for x in syn if LONG[0] <= len(x[0]) < LONG[1]]
    long += pages_from(rng, [m for m in movies if len(m[1]) >= 20], LONG, COUNTS["long"] - len(long), "\n", used)
    out = short + medium + long
    return [{"text": t, "label": "ko", "origin": origin(w)} for t, w in out]


def _plain_rst(s: str) -> str:
    # The .po text is reStructuredText: keep the words a reader sees, drop the role markup.
    s = _RST.sub(lambda m: next(g for g in m.groups() if g is not None), s)
    s = re.sub(r"\\ ?", "", s)  # reST escapes: "NULL\입니다" is "NULL입니다" to a reader
    return _SPACES.sub(" ", s).strip()


def korean_technical(rng) -> list[dict]:
    with gzip.open(CORPUS / "python_docs_ko.jsonl.gz", "rt", encoding="utf-8") as f:
        docs = [json.loads(line) for line in f]
    groups, items = [], []
    for d in docs:
        paras = [_plain_rst(p) for p in d["text"].split("\n\n")]
        for run in runs(paras, is_ko_en):
            groups.append((f"python-docs-ko:{d['id']}", run))
        items += [(p, f"python-docs-ko:{d['id']}") for p in paras if is_ko_en(p)]
    used: set = set()
    out = single(rng, items, SHORT, COUNTS["short"], used)
    out += pages_from(rng, groups, MEDIUM, COUNTS["medium"], "\n\n", used)
    out += pages_from(rng, [g for g in groups if sum(map(len, g[1])) >= LONG[0]], LONG, COUNTS["long"], "\n\n", used)
    return [{"text": t, "label": "ko_en", "origin": origin(w)} for t, w in out]


def debian_reference(rng, lang: str, label: str, ok) -> list[dict]:
    groups, items = [], []
    for name, paras, _ in debref(lang):
        for run in runs(paras, ok):
            groups.append((f"debian-reference:{name}", run))
        items += [(p, f"debian-reference:{name}") for p in paras if ok(p)]
    used: set = set()
    out = single(rng, items, SHORT, COUNTS["short"], used)
    out += pages_from(rng, groups, MEDIUM, COUNTS["medium"], "\n\n", used)
    out += pages_from(rng, [g for g in groups if sum(map(len, g[1])) >= LONG[0]], LONG, COUNTS["long"], "\n\n", used)
    return [{"text": t, "label": label, "origin": origin(w)} for t, w in out]


def code(rng) -> list[dict]:
    groups = []
    for path in sorted(PYLIB.glob("*.py")):
        lines = [ln.rstrip() for ln in path.read_text(encoding="utf-8", errors="replace").splitlines()]
        groups.append((f"cpython:Lib/{path.name}", lines))
    for path in sorted(PYINC.glob("*.h")):
        lines = [ln.rstrip() for ln in path.read_text(encoding="utf-8", errors="replace").splitlines()]
        groups.append((f"cpython:Include/{path.name}", lines))
    groups = [g for g in groups if any(ln.strip() for ln in g[1])]
    shell = []
    for name, _, screens in debref("en"):
        shell += [(s, f"debian-reference:{name} (shell listing)") for s in screens]
    used: set = set()
    out = []
    # A fifth of the short and medium items are shell sessions; the rest, and all long ones, Python or C source.
    out += single(rng, [x for x in shell if is_code(x[0])], SHORT, COUNTS["short"] // 5, used)
    out += single(rng, [x for x in shell if is_code(x[0])], MEDIUM, COUNTS["medium"] // 5, used)
    for span, n in ((SHORT, COUNTS["short"] - COUNTS["short"] // 5), (MEDIUM, COUNTS["medium"] - COUNTS["medium"] // 5),
                    (LONG, COUNTS["long"])):
        got = 0
        while got < n:
            (doc, where), = pages_from(rng, groups, span, 1, "\n", used)
            if is_code(doc):
                out.append((doc, where))
                got += 1
            else:
                used.discard(doc)
    return [{"text": t, "label": "code", "origin": origin(w)} for t, w in out]


def build() -> list[dict]:
    rows = []
    rows += korean(random.Random(42))
    rows += korean_technical(random.Random(43))
    rows += debian_reference(random.Random(44), "ja", "ja", is_ja)
    rows += debian_reference(random.Random(45), "zh-cn", "zh", is_zh)
    rows += debian_reference(random.Random(46), "en", "en", is_en)
    rows += code(random.Random(47))
    return rows


def main() -> None:
    rows = build()
    OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    by = {}
    for r in rows:
        band = "short" if len(r["text"]) < SHORT[1] else "medium" if len(r["text"]) < MEDIUM[1] else "long"
        by.setdefault(r["label"], {}).setdefault(band, 0)
        by[r["label"]][band] += 1
    print(f"{OUT.relative_to(ROOT)}: {len(rows)} documents, {OUT.stat().st_size / 1e6:.2f} MB", by)


if __name__ == "__main__":
    main()
