"""The model card: a Hugging Face README (YAML front matter + markdown) built from the manifests of every
upstream artifact, so what it says about data, cleaning, tokenizer, shape and budget is what actually ran."""
from __future__ import annotations

from ..evaluation.published import markdown_table


def _n(x) -> str:
    return f"{x:,}" if isinstance(x, (int, float)) else "?"


def build(model_name: str, manifests: dict, metrics: dict, lineage_map: dict, shape: dict) -> str:
    """manifests: stage -> Manifest for the upstream artifacts that exist (collect ... pretrain)."""
    col = manifests.get("collect")
    cur = manifests.get("curate")
    tokz = manifests.get("train-tokenizer")
    toks = manifests.get("tokenize")
    model = manifests["pretrain"]
    licences = sorted({s.get("license", "unknown") for s in (col.params.get("sources", []) if col else [])})

    sources = ["| source | licence | records collected | characters |", "|---|---|---|---|"]
    for s in col.params.get("sources", []) if col else []:
        st = col.stats.get("sources", {}).get(s["name"], {})
        sources.append(f"| {s['name']} | {s.get('license', 'unknown')} | {_n(st.get('records'))} | "
                       f"{_n(st.get('chars'))} |")
    if cur:
        st = cur.stats
        dropped = ", ".join(f"{k} {v:,}" for k, v in sorted(st.get("dropped", {}).items(), key=lambda kv: -kv[1]))
        pii = ", ".join(f"{k} {v:,}" for k, v in sorted(st.get("pii", {}).items())) or "none found"
        curation = (f"{_n(st.get('records_in'))} records in, {_n(st.get('records_out'))} kept "
                    f"({_n(st.get('chars_out'))} characters). Dropped: {dropped or 'none'}. "
                    f"Quarantined (unreadable input): {sum(st.get('quarantined', {}).values()):,}. "
                    f"PII masked: {pii}. Steps, in order: {', '.join(cur.params.get('steps', []))}.")
    else:
        curation = "Not recorded."
    if tokz:
        q = tokz.stats.get("quality", {})
        tokenizer = (f"Byte-level BPE, {tokz.stats.get('learned_vocab', '?'):,} learned tokens "
                     f"({tokz.params.get('morphemes', 'none')} morpheme boundaries), ids 0-3 `<pad>` `<eos>` "
                     f"`<|endoftext|>` `<|sep|>`, PII tokens `<|acc|>` `<|tel|>` `<|rrn|>`; "
                     f"{tokz.stats.get('vocab_size', 0):,} entries, embedding padded to "
                     f"{tokz.stats.get('padded_vocab', 0):,}. {q.get('tokens_per_char', float('nan')):.3f} tokens per "
                     f"character on held-out documents.")
    else:
        tokenizer = "Not recorded."
    tokens = toks.stats.get("train", {}).get("tokens") if toks else None
    mp, ms = model.params, model.stats
    budget = (f"{_n(ms.get('steps'))} steps x {_n(ms.get('tokens_per_step'))} tokens = {_n(ms.get('tokens_seen'))} "
              f"tokens seen ({_n(tokens)} training tokens available); {ms.get('world_size')} processes "
              f"({mp.get('device')}), DeepSpeed ZeRO-{mp.get('zero_stage')}, {mp.get('precision')}, AdamW lr "
              f"{mp.get('lr')} -> {mp.get('min_lr')} (cosine, {mp.get('warmup_steps')} warmup steps), sequence "
              f"{mp.get('seq_length')}; final training loss {ms.get('final_loss', float('nan')):.4f}"
              + (f"; continued from `{mp['init_from']}`" if mp.get("init_from") else "") + ".")
    tables = []
    for shots, tasks in metrics["kobest"].items():
        tables.append(markdown_table(model_name, {t: r["f1"] for t, r in tasks.items()}, int(shots)))
    scope = f"the first {metrics['limit']} test examples per task" if metrics.get("limit") else "the full test sets"
    ppl = metrics.get("validation_perplexity")
    lineage = "\n".join(f"| {s} | {i['kind']} | `{i['digest'][:16]}` | `{i['run_id']}` | {i['uri']} |"
                        for s, i in sorted(lineage_map.items()))
    # The most restrictive source licence applies to the weights; HF's identifiers where we know one.
    if any("SA" in x for x in licences):
        licence = "cc-by-sa-4.0"
    elif licences and all(x.upper() == "CC0-1.0" for x in licences):
        licence = "cc0-1.0"
    else:
        licence = "other"
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
{shape.get('rotary_pct')}, {_n(ms.get('parameters'))} parameters (preset `{mp.get('preset')}`).

## Training data
{chr(10).join(sources)}

Licences of the sources: {', '.join(licences) or 'unknown'}.

## Cleaning and PII policy
Polyglot-Ko's rules: empty documents dropped, characters repeated more than {cur.params.get('max_repeat', 2) if cur else 2}
times collapsed (digits never), HTML removed, whitespace normalised; phone numbers, resident registration numbers
and bank account numbers replaced by `<|tel|>`, `<|rrn|>`, `<|acc|>` before tokenization (e-mail addresses masked
too); exact and near-duplicate documents removed; Gopher-style quality filters. {curation}

## Tokenizer
{tokenizer}

## Training
{budget}

## Evaluation (KoBEST)
Macro-F1 on {scope}, through lm-evaluation-harness's `kobest` tasks (log-likelihood, few-shot examples from train
with seed {metrics.get('fewshot_seed', 42)}); the published Polyglot-Ko and peer models' rows for comparison.

{chr(10).join(tables)}
{f'Validation perplexity: {ppl:.2f}.' if ppl is not None else ''}

## Lineage
| stage | artifact | digest | MLflow run | location |
|---|---|---|---|---|
{lineage}

## Limitations
The model reproduces the biases, errors and harmful content of its training text; PII masking is rule-based and
will miss some personal data. KoBEST measures narrow skills; scores near chance (about 0.33-0.5 macro-F1) mean
the model has not learned the task. Not instruction-tuned: it continues text and does not follow instructions.
Check the scores above before any use; the demo configuration trains a model only for testing the pipeline.

## Licence
Weights: {licence} (the most restrictive licence among the training sources applies: {', '.join(licences) or 'unknown'}).
KoBEST data: CC-BY-SA-4.0 (Kim et al., 2022).
"""
