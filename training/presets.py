"""Model shapes: the four published Polyglot-Ko models (POLYGLOT-KO.md section 3) and tiny CPU ones."""
from __future__ import annotations

from dataclasses import asdict, dataclass

PUBLISHED_VOCAB = 30_080  # 30,003 tokens padded to a multiple of 128


@dataclass(frozen=True)
class Preset:
    layers: int
    hidden: int
    ffn: int
    heads: int
    rotary_pct: float
    max_positions: int = 2048
    card_params: int | None = None   # the model card's figure, where published

    def param_count(self, vocab: int = PUBLISHED_VOCAB) -> int:
        """GPT-NeoX with untied embeddings: L*(12d^2 + 13d) + 2*V*d + 2d (exact when ffn = 4d)."""
        d, L = self.hidden, self.layers
        per_layer = 4 * d * d + 4 * d + 2 * d * self.ffn + self.ffn + d + 4 * d   # attn, mlp, two layer norms
        return L * per_layer + 2 * vocab * d + 2 * d


PRESETS: dict[str, Preset] = {
    "polyglot-ko-1.3b": Preset(24, 2048, 8192, 16, 0.5, card_params=1_331_810_304),
    "polyglot-ko-3.8b": Preset(32, 3072, 12288, 24, 0.5, card_params=3_809_974_272),
    "polyglot-ko-5.8b": Preset(28, 4096, 16384, 16, 0.25, card_params=5_885_059_072),
    "polyglot-ko-12.8b": Preset(40, 5120, 20480, 40, 0.5, card_params=12_898_631_680),
    "tiny": Preset(2, 64, 256, 4, 0.5, max_positions=512),       # the demo: seconds per 100 steps on CPU
    "micro": Preset(1, 32, 128, 2, 0.5, max_positions=256),      # tests
}


def get(name: str) -> Preset:
    if name not in PRESETS:
        from components.errors import UserError
        raise UserError(f"pretrain.preset: unknown preset {name!r} (one of {', '.join(PRESETS)})")
    return PRESETS[name]


def hf_config(preset: Preset, vocab_size: int, bos_id: int = 0, eos_id: int = 2):
    from transformers import GPTNeoXConfig

    return GPTNeoXConfig(
        vocab_size=vocab_size, hidden_size=preset.hidden, num_hidden_layers=preset.layers,
        num_attention_heads=preset.heads, intermediate_size=preset.ffn, rotary_pct=preset.rotary_pct,
        rotary_emb_base=10000, max_position_embeddings=preset.max_positions, hidden_act="gelu",
        layer_norm_eps=1e-5, use_parallel_residual=True, tie_word_embeddings=False,
        bos_token_id=bos_id, eos_token_id=eos_id, attention_dropout=0.0, hidden_dropout=0.0)


def describe() -> str:
    rows = [f"{'preset':<20}{'layers':>7}{'hidden':>8}{'ffn':>7}{'heads':>6}{'rotary':>8}{'parameters':>17}"]
    for name, p in PRESETS.items():
        count = p.param_count()
        note = ""
        if p.card_params and p.card_params != count:
            note = f"  (model card: {p.card_params:,}; the card counts {p.card_params - count:,} more)"
        rows.append(f"{name:<20}{p.layers:>7}{p.hidden:>8}{p.ffn:>7}{p.heads:>6}{p.rotary_pct:>8}{count:>17,}{note}")
    return "\n".join(rows) + f"\n(vocabulary {PUBLISHED_VOCAB:,} rows, untied input/output embeddings)"


def to_dict(p: Preset) -> dict:
    return asdict(p)
