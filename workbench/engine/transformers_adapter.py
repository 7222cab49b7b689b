"""Every call workbench makes into transformers' model internals, in one place.

The engine runs its own generation loops, so it calls DiffusionGemma's encoder and decoder and
Gemma's forward directly instead of `generate()`. Those calls are the part of transformers most
likely to change between releases (5.24 renamed `past_key_values` to `cache` throughout), so they
live here and nowhere else: the next rename is a change to this file.

Only public, documented entry points are used: the models' `forward` methods, which accept a plain
2-D attention mask and build the 4-D masks themselves (transformers keeps deprecation shims on
those, not on its static mask helpers). The cache keyword is read from the installed forward's
signature, not guessed from a version number.

Which transformers releases these calls are tested with is declared in pyproject.toml and checked
at `load()` by `workbench.loading.versions`. Left out: static-cache compilation and image inputs, which the loops do not use.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from transformers import DynamicCache

# Models are typed Any: a transformers model's attributes (config, encoder, forward's keywords) are
# built at run time, which is exactly what this module exists to contain.
Model = Any


_CACHE_KEYWORDS: dict[type, str] = {}  # per model class: reading a signature each step would be waste


def cache_keyword(model_class: type) -> str:
    """The name this transformers release gives the KV-cache argument of `model_class.forward`."""
    if model_class not in _CACHE_KEYWORDS:
        parameters = inspect.signature(model_class.forward).parameters  # type: ignore[attr-defined]
        _CACHE_KEYWORDS[model_class] = "cache" if "cache" in parameters else "past_key_values"
    return _CACHE_KEYWORDS[model_class]


def new_cache(model: Model) -> DynamicCache:
    """An empty dynamic KV cache shaped for `model` (its text/decoder config)."""
    return DynamicCache(config=model.config.get_text_config(decoder=True))


def causal_lm_logits(model: Model, input_ids: torch.Tensor, cache: DynamicCache) -> torch.Tensor:
    """Logits of the last position of an autoregressive model; `input_ids` are appended to `cache`."""
    arguments = {cache_keyword(type(model)): cache}
    return model(input_ids=input_ids, use_cache=True, logits_to_keep=1, **arguments).logits


def encode_prefix(
    model: Model,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    cache: DynamicCache,
    position_ids: torch.Tensor,
) -> None:
    """Run DiffusionGemma's causal encoder over tokens it has not seen, writing them into `cache`.

    `attention_mask` is the 2-D mask over everything cached so far plus `input_ids`.
    """
    encoder = model.get_encoder()
    arguments = {cache_keyword(type(encoder)): cache}
    encoder(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, **arguments)


def denoise_logits(
    model: Model,
    canvas: torch.Tensor,
    self_conditioning_logits: torch.Tensor | None,
    attention_mask: torch.Tensor,
    cache: DynamicCache,
    position_ids: torch.Tensor,
) -> torch.Tensor:
    """One decoder pass of DiffusionGemma over a canvas: logits for every canvas position.

    `attention_mask` is the 2-D mask over the cached prefix plus the canvas; the decoder reads the
    cache and never writes it. `self_conditioning_logits` are the previous step's (None on step 1).
    """
    arguments = {cache_keyword(type(model)): cache}
    return model(
        decoder_input_ids=canvas,
        self_conditioning_logits=self_conditioning_logits,
        decoder_attention_mask=attention_mask,
        decoder_position_ids=position_ids,
        **arguments,
    ).logits
