"""Polyglot-Ko's tokenizer layout (POLYGLOT-KO.md section 2), built with HF `tokenizers`.

Special ids 0-3 (<pad>, <eos>, <|endoftext|>, <|sep|>), the learned byte-level BPE, then the three PII tokens.
Pre-tokenizer: Split on U+0CF1 (removed), then ByteLevel without prefix space. Training text has U+0CF1 between
morphemes, so no merge crosses a morpheme boundary; at inference there is no marker (MBBPE).
"""
from __future__ import annotations

import os
from collections import deque
from pathlib import Path
from typing import Iterable, Iterator

MORPHEME_MARK = "\u0cf1"
SPECIAL = ["<pad>", "<eos>", "<|endoftext|>", "<|sep|>"]
PII = ["<|acc|>", "<|tel|>", "<|rrn|>"]
EOD = "<|endoftext|>"


def segment_morphemes(texts: Iterable[str], workers: int = 0) -> Iterator[str]:
    """Insert U+0CF1 between adjacent morphemes (kiwipiepy); whitespace between words is kept as it was.

    kiwi analyses the stream on `workers` threads (0: one per core) and yields results in input order.
    """
    from kiwipiepy import Kiwi

    kiwi = Kiwi(num_workers=workers if workers > 0 else (os.cpu_count() or 1))
    pending: deque[str] = deque()

    def cleaned():
        for text in texts:
            text = text.replace(MORPHEME_MARK, "")
            pending.append(text)
            yield text

    for tokens in kiwi.tokenize(cleaned()):
        text = pending.popleft()
        out, prev_end = [], 0
        for tok in tokens:
            start, end = tok.start, tok.start + tok.len
            if start < prev_end:          # morphemes sharing characters (contractions): one piece
                continue
            if start > prev_end:
                out.append(text[prev_end:start])
            elif out:
                out.append(MORPHEME_MARK)
            out.append(text[start:end])
            prev_end = end
        out.append(text[prev_end:])
        yield "".join(out)


def train_bpe(texts: Iterable[str], vocab_size: int, min_frequency: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(MORPHEME_MARK, behavior="removed"),
        pre_tokenizers.ByteLevel(add_prefix_space=False),
    ])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    learned = tok.get_vocab_size()
    tok.add_special_tokens(PII)
    return tok, learned


def save_hf(tok, out: Path) -> None:
    """tokenizer.json plus the transformers files, with <|endoftext|> as eos and pad (the HF release's choice)."""
    from transformers import PreTrainedTokenizerFast

    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOD, pad_token=EOD, bos_token=EOD,
                                   unk_token=None, additional_special_tokens=["<|sep|>", *PII])
    fast.save_pretrained(str(out))


def padded_vocab(n: int, multiple: int = 128) -> int:
    return ((n + multiple - 1) // multiple) * multiple
