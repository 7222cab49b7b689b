"""A model's geometry and exact parameter counts, from its configuration alone: no weights, no network.

The configuration comes from the model's folder (embedded models, a converted or cached one, a
local folder) or, for the registered hub models that may never have been downloaded, from the
files in `configs/` written out from their published geometry. The model is built on torch's
`meta` device (shapes without storage), so the counts are what transformers would allocate, not
a formula that could drift from it. Left out: remote code (never run), adapters, audio towers.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import torch

from workbench.errors import InvalidSettingError, ModelUnavailableError
from workbench.loading.model_folder import check_sizes

CONFIGS_DIR = Path(__file__).parent / "configs"


@dataclass(frozen=True)
class AttentionLayer:
    sliding: bool
    kv_heads: int
    head_dim: int


@dataclass(frozen=True)
class Geometry:
    """What a memory plan needs to know about one model."""

    name: str
    kind: str  # "autoregressive" or "diffusion"
    config_source: str  # where the configuration was read
    total_params: int
    matrix_params: int  # >= 2-D weights inside the text layers: what weight-only quantization shrinks
    largest_tensor: int  # elements of the biggest weight (the embedding, usually)
    layers: tuple[AttentionLayer, ...]
    sliding_window: int | None
    hidden_size: int
    attention_heads: int
    intermediate_size: int
    moe_intermediate_size: int  # 0 without experts
    top_k_experts: int  # 0 without experts
    vocab_size: int
    max_positions: int
    canvas_length: int | None  # diffusion only
    logits_bytes: int  # DiffusionGemma returns fp32 logits whatever the weights; Gemma the compute dtype (0 = compute)


def geometry(spec: str) -> Geometry:
    """Geometry of a registered name, a local model folder or a cached hub id (see module docstring)."""
    if not isinstance(spec, str) or not spec.strip():
        raise InvalidSettingError("model", spec, "a registered model name, a local folder, or a hub id")
    return _geometry(*_config_location(spec))


def _config_location(spec: str) -> tuple[str, str]:
    from workbench.loading.registry import REGISTRY

    entry = REGISTRY.get(spec)
    hub_id = entry.location if entry is not None and entry.source == "hub" else spec
    packaged = next((n for n, e in REGISTRY.items() if e.source == "hub" and e.location == hub_id), None)
    if entry is not None and entry.source == "embedded":
        return spec, str(Path(entry.location) / "config.json")
    if entry is not None and entry.source == "pypi-gguf":
        from workbench.loading.gemma_gguf import converted_folder

        path = converted_folder() / "config.json"
        if not path.exists():
            raise ModelUnavailableError(
                f"the configuration of {spec!r} is known once it is converted: run workbench.load({spec!r}) once"
            )
        return spec, str(path)
    if packaged is not None:  # known geometry: a plan before any download
        return packaged, str(CONFIGS_DIR / f"{packaged}.json")
    if Path(spec).expanduser().is_dir():
        path = Path(spec).expanduser() / "config.json"
        if not path.exists():
            raise InvalidSettingError("model", spec, "a folder with a config.json (a transformers model)")
        return spec, str(path)
    if spec.count("/") == 1 and not spec.startswith((".", "/", "~")):
        from workbench.loading.hub import cached_snapshot

        folder = cached_snapshot(spec)
        if folder is None:
            raise ModelUnavailableError(
                f"{spec!r}: its configuration is not in the local Hugging Face cache, so no plan can be made "
                f"before downloading it (`hf download {spec} config.json` fetches just the configuration)"
            )
        return spec, str(folder / "config.json")
    raise InvalidSettingError("model", spec, f"a registered name ({', '.join(REGISTRY)}), a model folder, or a hub id")


@cache
def _geometry(name: str, config_path: str) -> Geometry:
    from transformers import AutoConfig

    try:
        fields = json.loads(Path(config_path).read_text())
        if "auto_map" in fields:
            raise ModelUnavailableError(
                f"{config_path}: the model names its own Python code (auto_map); no plan runs it"
            )
        check_sizes(fields, config_path)  # before a meta model of 1e9 layers is built
        fields = {key: value for key, value in fields.items() if not key.startswith("_")}
        config = AutoConfig.for_model(fields.pop("model_type"), **fields)
        model = _meta_model(config)
    except ModelUnavailableError:
        raise
    except Exception as error:  # unreadable JSON, unknown model type, fields the class rejects
        raise ModelUnavailableError(
            f"{config_path}: no plan from this configuration ({type(error).__name__}: {error})"
        ) from None
    text = config.get_text_config()
    layers = _decoder_layers(model, text.num_hidden_layers)
    is_diffusion = config.model_type == "diffusion_gemma"
    return Geometry(
        name=name,
        kind="diffusion" if is_diffusion else "autoregressive",
        config_source=config_path,
        total_params=sum(p.numel() for p in model.parameters()),
        matrix_params=sum(p.numel() for p in layers.parameters() if p.dim() >= 2),
        largest_tensor=max(p.numel() for p in model.parameters()),
        layers=tuple(_attention(layer, kind) for layer, kind in zip(layers, text.layer_types, strict=True)),
        sliding_window=getattr(text, "sliding_window", None),
        hidden_size=text.hidden_size,
        attention_heads=text.num_attention_heads,
        intermediate_size=text.intermediate_size,
        moe_intermediate_size=getattr(text, "moe_intermediate_size", None) or 0,
        top_k_experts=getattr(text, "top_k_experts", None) or 0,
        vocab_size=text.vocab_size,
        max_positions=text.max_position_embeddings,
        canvas_length=config.canvas_length if is_diffusion else None,
        logits_bytes=4 if is_diffusion else 0,
    )


def _meta_model(config) -> torch.nn.Module:
    from transformers import AutoModelForCausalLM, DiffusionGemmaForBlockDiffusion
    from transformers.utils import logging as transformers_logging

    previous = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity(logging.ERROR)  # config notices are not the plan's business
    try:
        with torch.device("meta"):
            if config.model_type == "diffusion_gemma":
                return DiffusionGemmaForBlockDiffusion(config)
            return AutoModelForCausalLM.from_config(config)
    finally:
        transformers_logging.set_verbosity(previous)


def _decoder_layers(model: torch.nn.Module, count: int) -> torch.nn.ModuleList:
    for name, module in model.named_modules():
        if name.endswith("layers") and isinstance(module, torch.nn.ModuleList) and len(module) == count:
            if "vision" not in name and "audio" not in name:
                return module
    raise ModelUnavailableError(f"{type(model).__name__}: no stack of {count} text layers found to plan for")


def _attention(layer: torch.nn.Module, kind: str) -> AttentionLayer:
    attention: Any = layer.self_attn  # a transformers attention module: head_dim and k_proj are its own
    head_dim = int(attention.head_dim)
    return AttentionLayer(kind == "sliding_attention", attention.k_proj.out_features // head_dim, head_dim)
