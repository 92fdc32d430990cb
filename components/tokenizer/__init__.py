"""The tokenizer (Polyglot-Ko's morpheme-aware byte-level BPE), its quality report, and the indexed datasets
tokenized text is stored in."""
