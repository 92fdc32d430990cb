"""Tokenizer quality on held-out Korean text: tokens per character and per word (side by side with a reference
tokenizer, normally the published Polyglot-Ko one), the share of byte fallbacks (tokens that are not whole
characters: the price of characters the vocabulary never saw), round-trip exactness, and the merges themselves."""
from __future__ import annotations

import json
from functools import lru_cache


@lru_cache(maxsize=1)
def _byte_decoder() -> dict[str, int]:
    # GPT-2's byte <-> printable-character map, which ByteLevel vocabularies are written in
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def token_bytes(token: str) -> bytes | None:
    dec = _byte_decoder()
    try:
        return bytes(dec[ch] for ch in token)
    except KeyError:          # a special / added token
        return None


def _is_fallback(token: str) -> bool:
    raw = token_bytes(token)
    if raw is None:
        return False
    try:
        raw.decode("utf-8")
        return False
    except UnicodeDecodeError:
        return True


def measure(tok, texts: list[str]) -> dict:
    encs = tok.encode_batch(texts, add_special_tokens=False)
    chars = sum(len(t) for t in texts)
    words = sum(len(t.split()) for t in texts)
    n_tokens = sum(len(e.ids) for e in encs)
    fallback = sum(_is_fallback(tok_) for e in encs for tok_ in e.tokens)
    bad_roundtrip = sum(tok.decode(e.ids, skip_special_tokens=False) != t for e, t in zip(encs, texts))
    return {"documents": len(texts), "tokens": n_tokens, "tokens_per_char": n_tokens / max(chars, 1),
            "tokens_per_word": n_tokens / max(words, 1), "byte_fallback_share": fallback / max(n_tokens, 1),
            "roundtrip_failures": bad_roundtrip}


def merges_summary(tok, top: int = 20) -> dict:
    model = json.loads(tok.to_str())["model"]
    merges = model.get("merges", [])
    pairs = [m.split(" ", 1) if isinstance(m, str) else m for m in merges]

    def show(tokens):
        raw = b"".join(token_bytes(t) or t.encode() for t in tokens)
        return raw.decode("utf-8", errors="backslashreplace")   # partial characters shown as \\xNN bytes

    vocab = model.get("vocab", {})
    longest = sorted(vocab, key=lambda t: (-len(token_bytes(t) or b""), t))[:top]
    return {"merges": len(merges), "first_merges": [show(p) for p in pairs[:top]],
            "longest_tokens": [show([t]) for t in longest]}


def report(tok, reference, texts: list[str]) -> tuple[dict, str]:
    ours = measure(tok, texts)
    result = {"trained": ours, "merges": merges_summary(tok)}
    rows = [("trained", ours)]
    if reference is not None:
        result["reference"] = measure(reference, texts)
        rows.append(("published Polyglot-Ko", result["reference"]))
    md = ["# Tokenizer quality (held-out curated documents)", "",
          "| tokenizer | documents | tokens/char | tokens/word | byte fallbacks | round-trip failures |",
          "|---|---|---|---|---|---|"]
    md += [f"| {name} | {r['documents']:,} | {r['tokens_per_char']:.4f} | {r['tokens_per_word']:.4f} | "
           f"{r['byte_fallback_share']:.4%} | {r['roundtrip_failures']} |" for name, r in rows]
    m = result["merges"]
    md += ["", f"{m['merges']:,} merges. First (most frequent) merges: " + ", ".join(f"`{x}`" for x in m["first_merges"]),
           "", "Longest tokens: " + ", ".join(f"`{x}`" for x in m["longest_tokens"])]
    return result, "\n".join(md) + "\n"
