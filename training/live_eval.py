"""Evaluation during training, on the live weights, every `eval_every` steps: validation loss and a KoBEST subset.

- Validation loss: the first `eval_tokens` tokens of the pipeline's own dataset's validation split, in windows of
  seq_length, the windows dealt round-robin over the ranks; one all-reduce sums the loss. Every rank does the same
  number of forward passes, so ZeRO-3's gathers line up.
- KoBEST: the harness's own tasks (components/evaluation/harness.py, the same code as the evaluate stage) on the
  module being trained, wrapped in the harness's HF model class. Under ZeRO-1/2 every rank holds the whole model:
  rank 0 scores and the others wait at a barrier. Under ZeRO-3 the weights are partitioned and a forward pass is a
  collective: every rank runs the same evaluation (same requests, same order), rank 0 reports.
- Random state (torch, CUDA, NumPy, Python) is saved before and restored after: an evaluation changes nothing in
  the training that follows, so a run with evaluation ends with the weights of a run without.
"""
from __future__ import annotations

import contextlib
import random
import tempfile
from pathlib import Path

import numpy as np


class LiveEval:
    def __init__(self, a, engine, rank: int, world: int, cache_dir: Path):
        self.a, self.engine, self.rank, self.world = a, engine, rank, world
        self.every_rank = a.zero_stage == 3          # partitioned weights: evaluation is a collective
        self._tmp = None
        self.validation = self._validation_windows(cache_dir) if a.eval_tokens else None
        self.kobest = None
        if a.kobest_dir and a.eval_tasks and (self.rank == 0 or self.every_rank):
            if Path(a.kobest_dir).is_dir():
                self.kobest = self._kobest_suite()
            elif self.rank == 0:      # the same on every rank: ZeRO-3's ranks stay in step
                print(f"[train] eval: no KoBEST directory {a.kobest_dir} from {Path.cwd()} (evaluate.kobest_dir; the "
                      f"images hold it under /opt/polyglot-ko): validation loss only", flush=True)

    def due(self, step: int) -> bool:
        return bool(self.a.eval_every) and step % self.a.eval_every == 0

    # -- setup -----------------------------------------------------------------------------------------------
    def _validation_windows(self, cache_dir: Path):
        """This rank's windows of the validation split: (first token offsets, tokens), or None if it is empty."""
        from .data import open_split

        a = self.a
        try:
            tokens = open_split(a.datasets[0], cache_dir, "validation", max_tokens=a.eval_tokens + 1)
        except ValueError:       # no validation segment (a corpus too small to hold one back)
            return None
        n = min(a.eval_tokens, len(tokens) - 1) // a.seq_length
        n -= n % self.world                          # the same number of windows on every rank
        if n == 0:
            if self.rank == 0:
                print(f"[train] eval: the validation split holds {len(tokens):,} tokens, fewer than one window of "
                      f"{a.seq_length} per rank: no validation_loss", flush=True)
            return None
        return tokens, list(range(self.rank, n, self.world))

    def _kobest_suite(self):
        from components.evaluation.harness import kobest_suite

        self._tmp = tempfile.TemporaryDirectory(prefix="pk-live-eval-")
        names, manager, _ = kobest_suite("tsv", Path(self.a.kobest_dir), self.a.eval_tasks, Path(self._tmp.name))
        return names, manager, self._harness_model()

    def _harness_model(self):
        from lm_eval.models.huggingface import HFLM
        from transformers import PreTrainedTokenizerFast

        a = self.a
        tok = PreTrainedTokenizerFast.from_pretrained(a.tokenizer_uri)
        eos = tok.convert_ids_to_tokens(a.eos_id)
        for name, value in (("eos_token", eos), ("pad_token", eos), ("bos_token", tok.convert_ids_to_tokens(a.bos_id))):
            if getattr(tok, name) is None:
                setattr(tok, name, value)
        return HFLM(pretrained=self.engine.module, tokenizer=tok, batch_size=a.eval_batch_size,
                    max_length=a.seq_length)

    # -- one evaluation --------------------------------------------------------------------------------------
    def run(self) -> dict:
        """{"validation_loss": float, "kobest": {task: {f1, acc}}} (rank 0; other ranks get {})."""
        import torch

        out: dict = {}
        self.engine.eval()
        with _rng_kept(torch), torch.no_grad():
            if self.validation is not None:
                out["validation_loss"] = self._validation_loss(torch)
            if self.kobest is not None:              # rank 0, or every rank under ZeRO-3
                kobest = self._kobest()
                if self.rank == 0 and kobest is not None:
                    out["kobest"] = kobest
            torch.distributed.barrier()              # ZeRO-1/2: the other ranks wait for rank 0's scoring here
        self.engine.train()
        return out if self.rank == 0 else {}

    def _validation_loss(self, torch) -> float:
        tokens, windows = self.validation
        a, device = self.a, self.engine.device
        total = torch.zeros(2, dtype=torch.float64, device=device)     # (summed loss, tokens)
        for i in range(0, len(windows), a.micro_batch_size):
            batch = np.stack([np.asarray(tokens[w * a.seq_length: w * a.seq_length + a.seq_length + 1],
                                         dtype=np.int64) for w in windows[i:i + a.micro_batch_size]])
            ids = torch.from_numpy(batch).to(device)
            logits = self.engine(input_ids=ids[:, :-1], use_cache=False).logits
            loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.size(-1)),
                                                     ids[:, 1:].reshape(-1), reduction="sum")
            total += torch.stack([loss.double(), torch.tensor(ids[:, 1:].numel(), dtype=torch.float64,
                                                              device=device)])
        torch.distributed.all_reduce(total)
        return float(total[0] / total[1])

    def _kobest(self) -> dict:
        from components.evaluation.harness import score_kobest

        names, manager, lm = self.kobest
        try:
            return score_kobest(lm, names, manager, self.a.eval_shots, self.a.eval_limit, self.a.eval_batch_size,
                                None)
        except Exception as e:     # a scoring failure must not end a training run; the final evaluation remains
            if self.every_rank:    # ZeRO-3: the other ranks are mid-forward in collectives; only a restart helps
                raise
            print(f"[train] eval: KoBEST failed ({type(e).__name__}: {e}); this step has no KoBEST scores",
                  flush=True)
            return None

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()


def metrics(result: dict) -> dict:
    """The MLflow metrics of one evaluation: validation_loss, kobest_<task>_f1 / _acc, kobest_mean_f1."""
    out = {}
    if "validation_loss" in result:
        out["validation_loss"] = result["validation_loss"]
    if result.get("kobest"):
        for task, scores in result["kobest"].items():
            out[f"kobest_{task}_f1"] = scores["f1"]
            out[f"kobest_{task}_acc"] = scores["acc"]
        out["kobest_mean_f1"] = sum(s["f1"] for s in result["kobest"].values()) / len(result["kobest"])
    return out


@contextlib.contextmanager
def _rng_kept(torch):
    states = (torch.get_rng_state(), torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
              np.random.get_state(), random.getstate())
    try:
        yield
    finally:
        torch.set_rng_state(states[0])
        if states[1] is not None:
            torch.cuda.set_rng_state_all(states[1])
        np.random.set_state(states[2])
        random.setstate(states[3])
