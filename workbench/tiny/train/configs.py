"""Tiny model configurations and training settings for the two embedded models.

Both models read the same word-level tokenizer and have about the same number of parameters: the
diffusion model follows the DiffusionGemma architecture (shared encoder/decoder, MoE that cannot be
switched off, a vision tower that is always built, so it gets a tiny one); the AR model is a Gemma 3
decoder whose dense MLP is widened until the counts match. Left out: any model bigger than what
trains in under an hour on two CPU cores.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from transformers import (
    DiffusionGemmaConfig,
    DiffusionGemmaForBlockDiffusion,
    DiffusionGemmaTextConfig,
    Gemma3ForCausalLM,
    Gemma3TextConfig,
    Gemma4VisionConfig,
    PreTrainedModel,
    PreTrainedTokenizerFast,
)

from workbench.tiny.stories.grammar import vocabulary
from workbench.tiny.tokenizer import build_word_tokenizer

MODEL_NAMES = ("tiny-diffusion", "tiny-ar")
VOCAB_SIZE = 256  # the grammar's ~230 words plus the 4 specials, rounded up
MAX_POSITIONS = 512


@dataclass(frozen=True)
class TrainSettings:
    """Hyper-parameters of one model's training run (values measured on a 2-core CPU, 2026)."""

    batch_size: int
    lr: float = 1.5e-3
    betas: tuple[float, float] = (0.9, 0.95)
    weight_decay: float = 0.01
    warmup_steps: int = 100
    min_lr_ratio: float = 0.05
    checkpoint_every: int = 100
    corpus_stories: int = 60_000
    canvas_lengths: tuple[int, ...] = ()  # diffusion only: one is drawn per batch
    self_conditioning_rate: float = 0.5  # diffusion only: share of steps that self-condition
    ordered_rate: float = 0.0  # diffusion only: share of examples corrupted after a clean prefix only
    high_noise_rate: float = 0.0  # diffusion only: share of examples with corruption rate in [0.75, 1]
    pure_noise_rate: float = 0.0  # diffusion only: share of examples that are all noise (t = 1)
    default_settings: dict = field(default_factory=dict)  # what the engine should use at inference


SETTINGS: dict[str, TrainSettings] = {
    "tiny-diffusion": TrainSettings(
        batch_size=48,
        lr=1e-3,  # continued from earlier runs' weights (see the model card): a gentler restart
        warmup_steps=50,
        canvas_lengths=(32, 64),
        ordered_rate=0.25,
        default_settings={
            "steps": 32,
            "block_size": 64,
            "temperature": "schedule",
            "t_min": 0.3,
            "t_max": 0.6,
            "sampler": "entropy-bound",
            "entropy_bound": 0.1,
            "max_new_tokens": 160,
        },
    ),
    "tiny-ar": TrainSettings(batch_size=32, default_settings={"temperature": 0.8, "max_new_tokens": 160}),
}


def story_tokenizer() -> PreTrainedTokenizerFast:
    """The shared word tokenizer over the story grammar's vocabulary, capitals kept."""
    return build_word_tokenizer(vocabulary(), VOCAB_SIZE, lowercase=False)


def _special_ids(tokenizer: PreTrainedTokenizerFast) -> dict[str, Any]:
    return {
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "bos_token_id": tokenizer.bos_token_id,
    }


def _layer_types(layers: int) -> list[str]:
    # Windows cover every position anyway; DiffusionGemma insists on a full-attention last layer.
    return ["sliding_attention"] * (layers - 1) + ["full_attention"]


def diffusion_config(
    tokenizer: PreTrainedTokenizerFast, canvas_length: int = 32, **text_overrides
) -> DiffusionGemmaConfig:
    """hidden 256, 4 layers, 4 heads / 2 KV heads of 64, 2 experts top-1, a 1-layer 32-wide vision tower.

    `text_overrides` change text-config fields (tests build smaller models this way).
    """
    fields: dict[str, Any] = {
        "hidden_size": 256,
        "intermediate_size": 512,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 64,
        "global_head_dim": 64,  # the default (512) is sized for the 26B model's full-attention layers
        "num_experts": 2,
        "top_k_experts": 1,
        "moe_intermediate_size": 256,
        **text_overrides,
    }
    text = DiffusionGemmaTextConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=MAX_POSITIONS,
        sliding_window=MAX_POSITIONS,
        layer_types=_layer_types(fields["num_hidden_layers"]),
        **fields,
        **_special_ids(tokenizer),
    )
    vision = Gemma4VisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=16,
        position_embedding_size=64,
    )
    config = DiffusionGemmaConfig(text_config=text, vision_config=vision, canvas_length=canvas_length)
    for key, value in _special_ids(tokenizer).items():
        setattr(config, key, value)
    return config


def ar_config(tokenizer: PreTrainedTokenizerFast, **overrides) -> Gemma3TextConfig:
    """The same attention stack as the diffusion model; the dense MLP absorbs the MoE's share."""
    fields: dict[str, Any] = {
        "hidden_size": 256,
        "intermediate_size": 1152,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 64,
        **overrides,
    }
    return Gemma3TextConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=MAX_POSITIONS,
        sliding_window=MAX_POSITIONS,
        layer_types=_layer_types(fields["num_hidden_layers"]),
        **fields,
        **_special_ids(tokenizer),
    )


def build_model(name: str, tokenizer: PreTrainedTokenizerFast, **overrides) -> PreTrainedModel:
    """A freshly initialised model (weights from the global torch RNG) with generation ids set."""
    model: PreTrainedModel
    if name == "tiny-diffusion":
        model = DiffusionGemmaForBlockDiffusion(diffusion_config(tokenizer, **overrides))
    elif name == "tiny-ar":
        model = Gemma3ForCausalLM(ar_config(tokenizer, **overrides))
    else:
        raise ValueError(f"unknown model {name!r}; expected one of {MODEL_NAMES}")
    for key, value in _special_ids(tokenizer).items():
        setattr(model.generation_config, key, value)
    return model


def parameter_count(model: PreTrainedModel) -> int:
    """Unique parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
