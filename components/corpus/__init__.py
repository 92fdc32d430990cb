"""Corpus reading and cleaning: format readers, HTML text, Parquet record shards, the cleaning chain, PII masking,
quality filters, deduplication, the data card."""
