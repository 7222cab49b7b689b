"""Reading a model folder so that a damaged one fails with one clear error, never a wrong model.

transformers is forgiving on purpose: missing weights are initialised at random with a log line,
extra ones are dropped, a broken file surfaces as whatever the parser raised. For a measuring tool
that is the worst outcome (a run of random layers looks like a run), so every read here either
returns what the folder really holds or raises `ModelUnavailableError` naming the file and what is
wrong with it. Also refused up front: a folder that names its own Python code (`auto_map`) unless
the caller trusts it. Sizes are range-checked (`check_sizes`) before anything is built from a
config, by `read_config` and by the memory plan: a config saying 1e9 layers would otherwise have
transformers build them, for ever, while memory grows. Left out: repairing anything, and checksums
(transformers has no manifest).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from workbench.errors import InvalidSettingError, ModelUnavailableError

WORKBENCH_JSON = "workbench.json"
# The largest size any config field may give; each is over 10x the largest published model's (the
# biggest open models have ~160 layers, hidden sizes of 16k-25k and vocabularies of 256k-262k).
SIZE_LIMITS = {
    "num_hidden_layers": 2_000,
    "hidden_size": 1 << 18,
    "intermediate_size": 1 << 20,
    "moe_intermediate_size": 1 << 20,
    "num_attention_heads": 4_096,
    "num_key_value_heads": 4_096,
    "head_dim": 8_192,
    "vocab_size": 1 << 23,
    "max_position_embeddings": 1 << 27,
    "num_experts": 8_192,
    "num_local_experts": 8_192,
    "top_k_experts": 8_192,
    "sliding_window": 1 << 27,
    "canvas_length": 1 << 20,
}


def check_sizes(fields: Any, source: str) -> None:
    """Raise `ModelUnavailableError` unless every size in a config's fields (and its text config) is
    a whole number from 1 to its `SIZE_LIMITS` entry; called before anything is built from them."""
    if not isinstance(fields, dict):
        raise ModelUnavailableError(f"{source}: not a usable model config (not a JSON object)")
    for name, limit in SIZE_LIMITS.items():
        value = fields.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
            raise ModelUnavailableError(
                f"{source}: not a usable model config ({name}={str(value)[:40]} is not a whole number from 1 to {limit:,})"
            )
    nested = fields.get("text_config")
    if nested is not None:
        check_sizes(nested, f"{source} text_config")


def refuse_remote_code(spec: str, folder: str) -> None:
    """Raise if a local folder's config or tokenizer config names Python code to import (`auto_map`)."""
    for name in ("config.json", "tokenizer_config.json"):
        path = Path(folder) / name
        try:
            asks = "auto_map" in json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # absent or unreadable: read_config reports it
        if asks:
            raise InvalidSettingError(
                "trust_remote_code",
                False,
                f"True to run the Python code that {path} names in `auto_map` (it comes with {spec!r}); "
                "workbench never runs a folder's own code unless asked",
            )


def read_config(folder: str, trust_remote_code: bool) -> Any:
    from transformers import AutoConfig

    path = Path(folder) / "config.json"
    try:
        fields = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError):
        fields = None  # absent (a hub id) or unreadable: AutoConfig says which below
    if fields is not None:
        check_sizes(fields, str(path))
    try:
        # An explicit trust_remote_code (never None) keeps transformers from prompting on the terminal.
        return AutoConfig.from_pretrained(folder, trust_remote_code=trust_remote_code)
    except Exception as error:  # malformed JSON, unknown model_type, bad field values
        raise ModelUnavailableError(
            f"{Path(folder) / 'config.json'}: not a usable model config ({_short(error)})"
        ) from None


def read_weights(
    model_class: Any, folder: str, dtype: torch.dtype, trust_remote_code: bool, quantization_config: Any = None
) -> torch.nn.Module:
    """The model with every weight from the folder, or an error: no layer is left at random."""
    quantizing = {} if quantization_config is None else {"quantization_config": quantization_config}
    try:
        model, info = model_class.from_pretrained(
            folder, dtype=dtype, trust_remote_code=trust_remote_code, output_loading_info=True, **quantizing
        )
    except Exception as error:  # truncated or missing safetensors, shapes that do not fit the config
        raise ModelUnavailableError(f"{folder}: the weights cannot be read ({_short(error)})") from None
    problems = {
        "missing from the weights (would be random)": info.get("missing_keys") or [],
        "of the wrong shape for the config": info.get("mismatched_keys") or [],
        "not in the model the config describes": info.get("unexpected_keys") or [],
    }
    for what, keys in problems.items():
        if keys:
            names = sorted(key if isinstance(key, str) else key[0] for key in keys)
            raise ModelUnavailableError(
                f"{folder}: the weights do not match config.json: {len(names)} tensors {what}, e.g. {names[0]}"
            )
    # Quantized weights are tensor subclasses (integer codes + scales) without isfinite: the check
    # covers the plain tensors, and a quantizer fed NaN weights fails on its own while converting.
    plain = (
        (name, tensor)
        for name, tensor in model.state_dict().items()
        if type(tensor) in (torch.Tensor, torch.nn.Parameter)
    )
    broken = next((name for name, tensor in plain if not torch.isfinite(tensor).all()), None)
    if broken is not None:
        raise ModelUnavailableError(f"{folder}: weight {broken} holds NaN or infinite values")
    return model


def read_tokenizer(folder: str, vocab_size: int, trust_remote_code: bool) -> Any:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=trust_remote_code)
    except Exception as error:
        raise ModelUnavailableError(f"{folder}: no usable tokenizer (tokenizer.json) ({_short(error)})") from None
    if len(tokenizer) <= len(set(tokenizer.all_special_tokens)):
        # transformers builds an empty tokenizer of the config's class when the files are gone.
        raise ModelUnavailableError(f"{folder}: no usable tokenizer (tokenizer.json is missing: only special tokens)")
    if len(tokenizer) > vocab_size:
        raise ModelUnavailableError(
            f"{folder}: the tokenizer has {len(tokenizer)} tokens but the model only {vocab_size}: "
            "they belong to different models"
        )
    return tokenizer


def read_workbench_json(folder: str) -> dict[str, Any]:
    """The optional `workbench.json` beside the weights, checked for form; {} when absent."""
    path = Path(folder) / WORKBENCH_JSON
    if not path.exists():
        return {}
    try:
        extra = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ModelUnavailableError(f"{path}: not readable JSON ({_short(error)})") from None
    problem = _workbench_json_problem(extra)
    if problem:
        raise ModelUnavailableError(f"{path}: {problem}")
    return extra


def _workbench_json_problem(extra: Any) -> str:
    if not isinstance(extra, dict):
        return "must be a JSON object"
    if extra.get("kind", "autoregressive") not in ("autoregressive", "diffusion"):
        return f"kind={extra['kind']!r} must be 'autoregressive' or 'diffusion'"
    sizes = extra.get("trained_block_sizes", [])
    if not isinstance(sizes, list) or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sizes):
        return f"trained_block_sizes={sizes!r} must be a list of positive integers"
    if not isinstance(extra.get("default_settings", {}), dict):
        return "default_settings must be an object of generation settings"
    return ""


def _short(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:200] if text else ''}"
