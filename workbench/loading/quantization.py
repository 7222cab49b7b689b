"""`load(..., quantization=...)`: the weight formats users run, through transformers' own configs.

Each name maps to the library that does the work and the precision the memory plan counts:

- `torchao-int8`: torchao weight-only int8 (`TorchAoConfig(Int8WeightOnlyConfig())`); runs on a CPU.
- `torchao-int4`: torchao weight-only int4, groups of 128; its kernels need a CUDA GPU.
- `bnb-8bit`, `bnb-4bit`: bitsandbytes LLM.int8 and NF4 (`BitsAndBytesConfig`); CUDA only here.
- `compressed-tensors`: a checkpoint quantized ahead of time (FP8, NVFP4, w4a16) whose config.json
  carries its `quantization_config`; transformers reads it, the `compressed-tensors` package and a
  CUDA GPU do the rest.

Where a backend cannot run on the chosen device the error says so before anything loads; nothing
falls back to full precision quietly: after loading, `ensure_quantized` counts the layers really
converted. transformers 5.24's TorchAoConfig path converts Gemma's layers but none of
DiffusionGemma's (its weight conversion never matches the shared encoder/decoder keys, and says
nothing), so for torchao formats every text-layer projection loading left at full precision is converted
with torchao's own `quantize_` afterwards, on the CPU before the model moves to the device. Left out: GGUF (llama.cpp), AWQ/GPTQ packing, quantizing
DiffusionGemma's fused experts (torchao's weight-only configs touch `nn.Linear` layers only).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.util import find_spec
from typing import Any

import torch

from workbench.errors import InvalidSettingError


@dataclass(frozen=True)
class Quantization:
    name: str
    precision: str  # the memory plan's name for the format ("": read from the checkpoint)
    package: str  # the import name it needs
    cpu: bool  # runs on a CPU


QUANTIZATIONS: dict[str, Quantization] = {
    q.name: q
    for q in (
        Quantization("torchao-int8", "int8", "torchao", cpu=True),
        Quantization("torchao-int4", "int4", "torchao", cpu=False),  # torchao 0.18's int4 needs mslk (CUDA)
        Quantization("bnb-8bit", "int8", "bitsandbytes", cpu=False),
        Quantization("bnb-4bit", "nf4", "bitsandbytes", cpu=False),
        Quantization("compressed-tensors", "", "compressed_tensors", cpu=False),
    )
}


def check_quantization(quantization: Any, device: torch.device) -> Quantization | None:
    """The format asked for, if it can run on `device` here; InvalidSettingError saying why not."""
    if quantization is None:
        return None
    if not isinstance(quantization, str) or quantization not in QUANTIZATIONS:  # a list or dict: refuse, not crash
        raise InvalidSettingError("quantization", quantization, "None or one of " + ", ".join(QUANTIZATIONS))
    chosen = QUANTIZATIONS[quantization]
    if device.type != "cuda" and not chosen.cpu:
        runnable = ", ".join(name for name, q in QUANTIZATIONS.items() if q.cpu)
        raise InvalidSettingError(
            "quantization",
            quantization,
            f"{runnable} on {device}: {quantization} needs a CUDA GPU and none is in use here (device={device})",
        )
    if find_spec(chosen.package) is None:
        pip_name = chosen.package.replace("_", "-")
        raise InvalidSettingError(
            "quantization", quantization, f"a format whose library is installed: pip install {pip_name}"
        )
    return chosen


def transformers_config(chosen: Quantization, config: Any, compute_dtype: torch.dtype) -> Any:
    """The `quantization_config` to hand to `from_pretrained` (None: the checkpoint brings its own)."""
    if chosen.name == "compressed-tensors":
        own = getattr(config, "quantization_config", None)
        method = own.get("quant_method") if isinstance(own, dict) else getattr(own, "quant_method", None)
        if str(method) != "compressed-tensors":
            raise InvalidSettingError(
                "quantization",
                chosen.name,
                "a checkpoint quantized in compressed-tensors format "
                f"(its config.json's quantization_config; this one has {method!r})",
            )
        return None
    from transformers import BitsAndBytesConfig, TorchAoConfig

    if chosen.package == "torchao":
        return TorchAoConfig(_torchao_config(chosen))
    if chosen.name == "bnb-8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute_dtype,
    )


def checkpoint_precision(config: Any) -> str:
    """The plan's precision for a pre-quantized compressed-tensors checkpoint: 8-bit weights fp8, else fp4."""
    own = getattr(config, "quantization_config", None)
    own = own if isinstance(own, dict) else getattr(own, "to_dict", dict)()
    bits = [group.get("weights", {}).get("num_bits") for group in own.get("config_groups", {}).values()]
    return "fp8" if bits and all(b == 8 for b in bits) else "fp4"


def _torchao_config(chosen: Quantization) -> Any:
    from torchao.quantization import Int4WeightOnlyConfig, Int8WeightOnlyConfig

    return Int8WeightOnlyConfig() if chosen.name == "torchao-int8" else Int4WeightOnlyConfig(group_size=128)


def ensure_quantized(model: torch.nn.Module, chosen: Quantization, name: str) -> int:
    """How many linear layers hold quantized weights; torchao converts text-layer ones loading left alone."""
    if chosen.package == "torchao":
        from torchao.quantization import quantize_

        quantize_(model, _torchao_config(chosen), filter_fn=_left_in_text_layers)
    converted = sum(not _plain(m) for m in model.modules() if isinstance(m, torch.nn.Linear))
    if converted == 0:
        from workbench.errors import ModelUnavailableError

        raise ModelUnavailableError(
            f"{name!r}: {chosen.name} left every layer at full precision; not loading it as quantized"
        )
    return converted


def _plain(module: torch.nn.Module) -> bool:
    # Quantized weights are tensor subclasses (torchao) or bitsandbytes' own parameter types.
    return type(module.weight) in (torch.Tensor, torch.nn.Parameter)


def _left_in_text_layers(module: torch.nn.Module, name: str) -> bool:
    # The layers the memory plan counts as quantized: the text stack's projections, not the vision tower.
    return isinstance(module, torch.nn.Linear) and _plain(module) and ".layers." in name and "vision" not in name
