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
at `load()` by `workbench.loading.versions`. The fast path (`workbench.engine.fast_path`) adds a static
cache and attention masks built before the compiled call (so the compiled graph never sees a Python
length that changes per step); those, too, are built here. Left out: image inputs.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from typing import Any

import torch
from transformers import DynamicCache, StaticCache
from transformers.masking_utils import create_masks_for_generate

# Models are typed Any: a transformers model's attributes (config, encoder, forward's keywords) are
# built at run time, which is exactly what this module exists to contain.
Model = Any


_CACHE_KEYWORDS: dict[Any, str] = {}  # per function: reading a signature each step would be waste
AnyCache = DynamicCache | StaticCache


def _keyword_of(function: Callable[..., Any]) -> str:
    if function not in _CACHE_KEYWORDS:
        parameters = inspect.signature(function).parameters
        _CACHE_KEYWORDS[function] = "cache" if "cache" in parameters else "past_key_values"
    return _CACHE_KEYWORDS[function]


def cache_keyword(model_class: type) -> str:
    """The name this transformers release gives the KV-cache argument of `model_class.forward`."""
    return _keyword_of(model_class.forward)  # type: ignore[attr-defined]


def new_cache(model: Model) -> DynamicCache:
    """An empty dynamic KV cache shaped for `model` (its text/decoder config)."""
    return DynamicCache(config=model.config.get_text_config(decoder=True))


def static_cache(model: Model, max_length: int) -> StaticCache:
    """A pre-allocated KV cache of `max_length` positions (filled lazily on the first write)."""
    return StaticCache(config=model.config.get_text_config(decoder=True), max_cache_len=max_length)


def sliding_window(model: Model) -> int | None:
    """The sliding-attention window of the model's text layers (None: no sliding layers)."""
    return getattr(model.config.get_text_config(decoder=True), "sliding_window", None)


def causal_lm_logits(
    model: Model,
    input_ids: torch.Tensor,
    cache: AnyCache,
    position_ids: torch.Tensor | None = None,
    attention_masks: dict[str, Any] | None = None,
) -> torch.Tensor:
    """Logits of the last position of an autoregressive model; `input_ids` are appended to `cache`.

    With a static cache, pass `position_ids` and the masks from `causal_lm_masks` (transformers
    would otherwise derive both from the cache's fill level, a Python number under compilation)."""
    arguments: dict[str, Any] = {cache_keyword(type(model)): cache}
    if position_ids is not None:
        arguments["position_ids"] = position_ids
    if attention_masks is not None:
        arguments["attention_mask"] = attention_masks
    return model(input_ids=input_ids, use_cache=True, logits_to_keep=1, **arguments).logits


def causal_lm_masks(model: Model, cache: StaticCache, position_ids: torch.Tensor, seen: int) -> dict[str, Any]:
    """The attention masks (one per layer type) for the tokens at `position_ids`, over `cache`.

    `seen` is how many tokens the model will have read once these are in (a Python number, so
    building the masks never waits for the device)."""
    length = position_ids.shape[1]
    return create_masks_for_generate(
        config=model.config,
        inputs_embeds=torch.empty((1, length, 0), dtype=model.dtype, device=position_ids.device),
        attention_mask=torch.ones((1, seen), dtype=torch.bool, device=position_ids.device),
        position_ids=position_ids,
        **{_keyword_of(create_masks_for_generate): cache},
    )


def encode_prefix(
    model: Model,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    cache: AnyCache,
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
    attention_mask: torch.Tensor | dict[str, Any],
    cache: AnyCache,
    position_ids: torch.Tensor,
) -> torch.Tensor:
    """One decoder pass of DiffusionGemma over a canvas: logits for every canvas position.

    `attention_mask` is the 2-D mask over the cached prefix plus the canvas (or, with a static cache,
    the masks from `denoise_masks`); the decoder reads the cache and never writes it. `self_conditioning_logits` are the previous step's (None on step 1).
    """
    arguments = {cache_keyword(type(model)): cache}
    if self_conditioning_logits is not None:
        # transformers' generate() hands them over in the embeddings' dtype: in bf16 a float32 copy
        # would be a different input, and the tokens would part from generate()'s within a few steps.
        self_conditioning_logits = self_conditioning_logits.to(model.get_input_embeddings().weight.dtype)
    return model(
        decoder_input_ids=canvas,
        self_conditioning_logits=self_conditioning_logits,
        decoder_attention_mask=attention_mask,
        decoder_position_ids=position_ids,
        **arguments,
    ).logits


def denoise_masks(model: Model, cache: StaticCache, attention_mask: torch.Tensor, canvas_length: int) -> dict[str, Any]:
    """The decoder's masks over a static cache plus a canvas, built once per canvas.

    transformers sizes these from `config.canvas_length`; a canvas of another length gets a copy of
    the config that says so (the model itself is not touched)."""
    config = model.config
    if config.canvas_length != canvas_length:
        config = copy.copy(config)
        config.canvas_length = canvas_length
    decoder = type(model.get_decoder())
    return decoder.create_diffusion_decoder_attention_mask(
        config=config,
        inputs_embeds=torch.empty((1, canvas_length, 0), dtype=model.dtype, device=attention_mask.device),
        decoder_attention_mask=attention_mask,
        **{_keyword_of(decoder.create_diffusion_decoder_attention_mask): cache},
    )
