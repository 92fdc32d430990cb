"""Evaluation: KoBEST data, the lm-evaluation-harness run, the published scores, the report."""
