"""Rebuild the bundled sample corpus from the team's copies of the public sources.

Run once by maintainers (`python data/build/build_sample.py ../shared/data`); its outputs are committed so the
demo and tests never need the originals. Deterministic: same inputs, same bytes (gzip mtime 0, fixed order).
"""
import gzip
import io
import json
import re
import shutil
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

NSMC_REVIEWS = 30_000      # first N reviews in file order: ~2.6 MB of short review text
PYDOCS_DOCS = 160          # first N translated .po documents: long technical prose with reST markup


def gz_write(path: Path, text: str) -> None:
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        gz.write(text.encode("utf-8"))


def main(shared: Path, out: Path) -> None:
    corpus = out / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)

    lines = []
    with gzip.open(shared / "nsmc/raw_reviews_id_mod3.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            lines.append(line)
            if len(lines) == NSMC_REVIEWS:
                break
    gz_write(corpus / "nsmc_reviews.jsonl.gz", "".join(lines))

    docs = []
    with gzip.open(shared / "python-docs-ko/python-docs-ko-3.13.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            docs.append(line)
            if len(docs) == PYDOCS_DOCS:
                break
    gz_write(corpus / "python_docs_ko.jsonl.gz", "".join(docs))

    # Movie synopses as plain-text files, one document per file (exercises the TXT reader).
    syn_dir = corpus / "synopses"
    shutil.rmtree(syn_dir, ignore_errors=True)
    syn_dir.mkdir()
    for i, item in enumerate(json.loads((shared / "nsmc/synopses.json").read_text(encoding="utf-8"))):
        (syn_dir / f"{i:03d}.txt").write_text(item["title_kr"] + "\n\n" + item["synopsis"] + "\n", encoding="utf-8")

    # KLUE NER dev sentences (news and reviews) as Parquet, annotation marks removed.
    guid_re = re.compile(r"^## (klue-ner-\S+)\t(.*)$")
    mark_re = re.compile(r"<([^<>:]+):[A-Z]{2}>")
    ids, texts = [], []
    for line in (shared / "klue/klue-ner-v1.1/klue-ner-v1.1_dev.tsv").read_text(encoding="utf-8").splitlines():
        m = guid_re.match(line)
        if m:
            ids.append(m.group(1))
            texts.append(mark_re.sub(r"\1", m.group(2)))
    pq.write_table(pa.table({"guid": ids, "sentence": texts}), corpus / "klue_ner_dev.parquet", compression="zstd")

    kobest = out / "kobest"
    shutil.rmtree(kobest / "v1.0", ignore_errors=True)
    shutil.copytree(shared / "kobest/v1.0", kobest / "v1.0")
    print(f"wrote {corpus} and {kobest}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(__file__).resolve().parents[1])
