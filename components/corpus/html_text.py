"""Main text from an HTML page: block elements become line breaks, script/style/navigation is skipped."""
from __future__ import annotations

import html
import re
from html.parser import HTMLParser

_BLOCK = {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "td", "th", "table",
          "section", "article", "blockquote", "pre", "dd", "dt", "hr", "main", "title"}
_SKIP = {"script", "style", "noscript", "nav", "header", "footer", "aside", "form", "template", "svg", "iframe"}
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_-]+)""", re.I)


class _Extractor(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        if tag in _SKIP:
            self.skip += 1
        elif tag in _BLOCK:
            self.parts.append("\n")
        self._in_title = tag == "title"

    def handle_endtag(self, tag):
        if tag in _SKIP and self.skip:
            self.skip -= 1
        elif tag in _BLOCK:
            self.parts.append("\n")
        if tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data
            return
        if not self.skip:
            self.parts.append(data)


def declared_charset(raw: bytes) -> str | None:
    m = _CHARSET.search(raw[:4096])
    return m.group(1).decode("ascii").lower() if m else None


def extract(page: str) -> tuple[str, str]:
    """(title, text) of an HTML document."""
    p = _Extractor()
    p.feed(page)
    p.close()
    lines = [re.sub(r"[^\S\n]+", " ", ln).strip() for ln in "".join(p.parts).split("\n")]
    text = "\n".join(ln for ln in lines if ln)
    return html.unescape(p.title.strip()), text
