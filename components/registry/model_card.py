"""The model card: a Hugging Face README (YAML front matter + markdown) built from the typed descriptions of every
upstream artifact, so what it says about data, cleaning, tokenizer, shape and budget is what actually ran, and it
claims no cleaning step that was not configured."""
from __future__ import annotations

from ..contract import kinds
from ..contract.summary import reuse, reuse_lines
from ..evaluation.harness import FEWSHOT_SEED
from ..evaluation.published import markdown_table


def _n(x) -> str:
    return f"{x:,}" if isinstance(x, (int, float)) else "?"


def policy(c: kinds.Cleaning) -> str:
    """What the configured cleaning chain and deduplication did, in words; nothing that did not run."""
    steps = set(c.steps)
    done = []
    if steps & {"empty", "empty_after_clean"}:
        done.append("empty documents dropped")
    if "nfc" in steps:
        done.append("Unicode NFC normalisation")
    if "html" in steps:
        done.append("HTML markup removed")
    if "url" in steps:
        done.append({"remove": "URLs removed", "mask": "URLs replaced by `<|url|>`", "keep": "URLs kept"}[c.url])
    if "repeated_chars" in steps:
        done.append(f"characters repeated more than {c.max_repeat} times collapsed (digits never)")
    if "pii" in steps:
        done.append("phone numbers, resident registration numbers and bank account numbers replaced by `<|tel|>`, "
                    "`<|rrn|>`, `<|acc|>` before tokenization (e-mail addresses masked too)")
    if "whitespace" in steps:
        done.append("whitespace normalised")
    if steps & {"min_chars", "max_chars"}:
        done.append("documents outside the length bounds dropped")
    if "hangul_ratio" in steps:
        done.append("documents with too little Hangul dropped")
    if "language" in steps:
        done.append("documents not identified as Korean dropped (fastText lid.176)")
    if "gopher" in steps:
        done.append("Gopher-style quality filters")
    if "fineweb2" in steps:
        done.append("FineWeb-2's Korean quality filters")
    if "decontaminate" in steps:
        done.append("documents holding a KoBEST evaluation item dropped")
    if c.exact_dedup:
        done.append("exact duplicate documents removed")
    if c.near_dedup:
        done.append(f"near-duplicate documents removed (MinHash, estimated Jaccard above {c.minhash_threshold})")
    text = "; ".join(done) + "." if done else "No cleaning step ran."
    missing = []
    if "pii" not in steps:
        missing.append("PII was not masked (the `pii` step was not configured)")
    if not (c.exact_dedup or c.near_dedup):
        missing.append("documents were not deduplicated")
    if "decontaminate" not in steps:
        missing.append("the corpus was not decontaminated against the evaluation sets")
    return text[0].upper() + text[1:] + (" " + "; ".join(missing) + "." if missing else "")


def _decontamination(d: kinds.Decontamination | None) -> str:
    if d is None:
        return "Decontamination: not recorded (curated before it existed). "
    if not d.tasks:
        return ""
    found = ", ".join(f"{t} {d.items_found.get(t, 0):,} items in {d.documents.get(t, 0):,} documents"
                      for t in d.tasks)
    return f"Decontaminated against KoBEST {', '.join(d.tasks)} ({', '.join(d.splits)}): {found}. "


def build(model_name: str, manifests: dict, lineage_map: dict, shape: dict, tokenizer_from: str | None = None) -> str:
    """manifests: stage -> Manifest of the upstream artifacts (collect ... evaluate); pretrain and evaluate must
    be among them."""
    info = {stage: kinds.read(m) for stage, m in manifests.items()}
    col: kinds.RawCorpus | None = info.get("collect")
    cur: kinds.CuratedCorpus | None = info.get("curate")
    tokz: kinds.Tokenizer | None = info.get("train-tokenizer")
    toks: kinds.TokenizedDataset | None = info.get("tokenize")
    model: kinds.TrainedModel = info["pretrain"]
    report: kinds.EvalReport = info["evaluate"]
    licences = sorted({s.license for s in col.sources.values()}) if col else []

    sources = ["| source | licence | records collected | characters |", "|---|---|---|---|"]
    for name, s in (col.sources.items() if col else []):
        sources.append(f"| {name} | {s.license} | {_n(s.records)} | {_n(s.chars)} |")
    if cur:
        dropped = ", ".join(f"{k} {v:,}" for k, v in sorted(cur.dropped.items(), key=lambda kv: -kv[1]))
        pii = ", ".join(f"{k} {v:,}" for k, v in sorted(cur.pii.items())) or "none found"
        curation = (f"{policy(cur.cleaning)} {_n(cur.records_in)} records in, {_n(cur.records_out)} kept "
                    f"({_n(cur.chars_out)} characters). Dropped: {dropped or 'none'}. "
                    f"Quarantined (unreadable input): {sum(cur.quarantined.values()):,}. "
                    + (f"PII masked: {pii}. " if "pii" in cur.cleaning.steps else "")
                    + _decontamination(cur.decontamination)
                    + f"Steps, in order: {', '.join(cur.cleaning.steps)}.")
    else:
        curation = "Not recorded."
    if tokz:
        how = "given, not trained here" if tokz.morphemes == "given" else f"{tokz.morphemes} morpheme boundaries"
        tokenizer = (f"Byte-level BPE, {tokz.learned_vocab:,} learned tokens ({how}), ids 0-3 `<pad>` `<eos>` "
                     f"`<|endoftext|>` `<|sep|>`, PII tokens `<|acc|>` `<|tel|>` `<|rrn|>`; "
                     f"{tokz.vocab_size:,} entries, embedding padded to {tokz.padded_vocab:,}. "
                     f"{tokz.quality.tokens_per_char:.3f} tokens per character on held-out documents.")
    else:
        tokenizer = "Not recorded."
    tokens = toks.train.tokens if toks else None
    m = model
    budget = (f"{_n(m.steps)} steps x {_n(m.tokens_per_step)} tokens = {_n(m.tokens_seen)} tokens seen "
              f"({_n(tokens)} training tokens available); {m.world_size} processes ({m.device}), DeepSpeed "
              f"ZeRO-{m.zero_stage}, {m.precision}, AdamW lr {m.lr} -> {m.min_lr} (cosine, {m.warmup_steps} warmup "
              f"steps), sequence {m.seq_length}; final training loss {m.final_loss:.4f}"
              + (f"; continued from `{m.init_from}`" if m.init_from else "") + ".")
    tables = [markdown_table(model_name, {t: r["f1"] for t, r in tasks.items()}, int(shots))
              for shots, tasks in report.kobest.items()]
    scope = f"the first {report.limit} test examples per task" if report.limit else "the full test sets"
    ppl = report.validation_perplexity
    lineage = "\n".join(f"| {s} | {i['kind']} | `{i['digest'][:16]}` | `{i['run_id']}` | {i['uri']} |"
                        for s, i in sorted(lineage_map.items()))
    # The most restrictive source licence applies to the weights; HF's identifiers where we know one.
    if any("SA" in x for x in licences):
        licence = "cc-by-sa-4.0"
    elif licences and all(x.upper() == "CC0-1.0" for x in licences):
        licence = "cc0-1.0"
    else:
        licence = "other"
    masked = cur is not None and "pii" in cur.cleaning.steps
    return f"""---
language: ko
license: {licence}
library_name: transformers
pipeline_tag: text-generation
tags: [gpt-neox, polyglot-ko, korean]
---
# {model_name}

A Korean GPT-NeoX causal language model built by the Polyglot-Ko pipeline: {shape.get('layers')} layers,
hidden size {shape.get('hidden')}, {shape.get('heads')} heads, FFN {shape.get('ffn')}, rotary fraction
{shape.get('rotary_pct')}, {_n(m.parameters)} parameters (preset `{m.preset}`).

## Training data
{chr(10).join(sources)}

Licences of the sources: {', '.join(licences) or 'unknown'}.

## Cleaning and PII policy
{curation}

## Tokenizer
{tokenizer}

## Training
{budget}

## Evaluation (KoBEST)
Macro-F1 on {scope}, through lm-evaluation-harness's `kobest` tasks (log-likelihood, few-shot examples from train
with seed {FEWSHOT_SEED}); the published Polyglot-Ko and peer models' rows for comparison.

{chr(10).join(tables)}
{f'Validation perplexity: {ppl:.2f}.' if ppl is not None else ''}

## Reuse
{chr(10).join("- " + line.removeprefix("reuse: ") for line in reuse_lines(reuse(manifests, tokenizer_from)))}

## Lineage
| stage | artifact | digest | MLflow run | location |
|---|---|---|---|---|
{lineage}

## Limitations
The model reproduces the biases, errors and harmful content of its training text; {
    'PII masking is rule-based and will miss some personal data' if masked else
    'personal data in the training text was not masked'}. KoBEST measures narrow skills; scores near chance (about
0.33-0.5 macro-F1) mean the model has not learned the task. Not instruction-tuned: it continues text and does not
follow instructions. Check the scores above before any use; the demo configuration trains a model only for testing
the pipeline.

## Licence
Weights: {licence} (the most restrictive licence among the training sources applies: {', '.join(licences) or 'unknown'}).
KoBEST data: CC-BY-SA-4.0 (Kim et al., 2022).
"""
