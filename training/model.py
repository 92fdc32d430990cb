"""Building the GPT-NeoX model for training, and exporting it as a Hugging Face directory."""
from __future__ import annotations

from pathlib import Path

TORCH_DTYPES = {"float32": "float32", "bfloat16": "bfloat16", "float16": "float16"}


def build(a, ds_config: dict):
    """A fresh model from the preset, or (continued pretraining) the weights of an HF GPT-NeoX checkpoint.

    Under ZeRO-3 the parameters are created already partitioned (deepspeed.zero.Init), so no process ever holds
    the whole model: the 12.8B shape does not fit in one process's memory in fp32.
    """
    import contextlib

    import deepspeed
    import torch
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    from .presets import PRESETS, hf_config

    zero3 = a.zero_stage == 3
    if a.init_from:
        config = GPTNeoXConfig.from_pretrained(a.init_from)
        _check_continuation(config, a)
        keep_alive = None
        if zero3:   # from_pretrained partitions while loading only while such an object is alive
            from transformers.integrations import HfDeepSpeedConfig
            keep_alive = HfDeepSpeedConfig(ds_config)  # noqa: F841
        model = GPTNeoXForCausalLM.from_pretrained(a.init_from, torch_dtype=torch.float32,
                                                   attn_implementation=a.attention)
        model._keep_ds_config_alive = keep_alive
    else:
        config = hf_config(PRESETS[a.preset], a.vocab_size, a.bos_id, a.eos_id)
        config._attn_implementation = a.attention
        ctx = deepspeed.zero.Init(config_dict_or_path=ds_config) if zero3 else contextlib.nullcontext()
        with ctx:
            model = GPTNeoXForCausalLM(config)
    if a.activation_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model


def _check_continuation(config, a) -> None:
    if config.model_type != "gpt_neox":
        raise ValueError(f"init_from {a.init_from}: a {config.model_type} model, not gpt_neox")
    if config.vocab_size != a.vocab_size:
        raise ValueError(f"init_from {a.init_from}: vocabulary of {config.vocab_size} rows, but the tokenizer "
                         f"pads to {a.vocab_size}; continue with the checkpoint's own tokenizer "
                         "(train_tokenizer.pretrained)")


def parameter_count(engine) -> int:
    # Under ZeRO-3 a parameter's local tensor is a shard; ds_numel is the full size.
    return sum(getattr(p, "ds_numel", p.numel()) for p in engine.module.parameters())


def full_state_dict(engine, zero_stage: int) -> dict | None:
    """The whole model's weights on rank 0 (None elsewhere). Every rank must call it under ZeRO-3."""
    import torch

    if zero_stage == 3:
        state = engine._zero3_consolidated_16bit_state_dict()   # gathers the shards; what save_16bit_model uses
    else:
        state = engine.module.state_dict() if torch.distributed.get_rank() == 0 else None
    return state


def export(state: dict, config, out: Path, dtype: str) -> None:
    """A Hugging Face directory: safetensors weights, GPTNeoXConfig and generation config (the pretrain stage
    adds the tokenizer files)."""
    import torch
    from transformers import GenerationConfig
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    tdtype = getattr(torch, TORCH_DTYPES[dtype])
    tensors = {k: v.detach().to(tdtype).cpu().contiguous() for k, v in state.items()}
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    config.architectures = ["GPTNeoXForCausalLM"]
    config.dtype = tdtype
    config.save_pretrained(str(out))
    GenerationConfig(bos_token_id=config.bos_token_id, eos_token_id=config.eos_token_id,
                     pad_token_id=config.eos_token_id).save_pretrained(str(out))
