"""Generation settings: what each knob means, its default, and the checks on its value.

`GenerationSettings` is the validated, fully resolved set of knobs one run uses. It is built by
`resolve_settings()` from the user's keywords, the model's own defaults and the model's limits, so a
bad value is refused before any tensor is touched (nothing is left half-initialised).

One dataclass per kind over a shared base: `GenerationSettings` (max_new_tokens, temperature, seed,
compile: the fast path of `workbench.engine.fast_path`),
`AutoregressiveSettings` (+ top_k, top_p), `DiffusionSettings` (+ steps, block_size, sampler,
early_exit, entropy_bound, threshold and the model's schedule t_min/t_max, all always present).
The sampler names come from the samplers' registry (`workbench.engine.diffusion.samplers`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from workbench.checks import check_choice, check_float, check_int
from workbench.engine.diffusion.samplers.registry import sampler_choices
from workbench.errors import InvalidSettingError

Kind = Literal["autoregressive", "diffusion"]

SCHEDULE = "schedule"  # temperature value meaning: the model's own t_max -> t_min schedule
MAX_STEPS = 512  # the most denoising steps a canvas may be given

# Every default, one table per kind. A model's own values (its config, its workbench.json) are laid
# over these at load time; what the user passes is laid over those at each run.
DEFAULTS: dict[str, dict[str, Any]] = {
    "autoregressive": {"max_new_tokens": 64, "temperature": 0.8, "seed": None, "compile": False},
    "diffusion": {
        "max_new_tokens": 256,
        "compile": False,
        "temperature": SCHEDULE,
        "seed": None,
        "steps": 48,
        "block_size": 256,
        "sampler": "entropy-bound",
        "early_exit": True,
        "entropy_bound": 0.1,
        "threshold": 0.9,
        "t_min": 0.4,
        "t_max": 0.8,  # DiffusionGemma's generation-config schedule
    },
}


@dataclass(frozen=True)
class GenerationSettings:
    """The knobs every run has; each kind's settings add their own (below)."""

    max_new_tokens: int
    temperature: float | str  # a constant (0 = argmax) or SCHEDULE
    seed: int | None
    # Static KV cache + compiled forward (workbench.engine.fast_path). Keyword-only: each kind's own
    # fields follow the base's, and this is the one base field with a default.
    compile: bool = field(default=False, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}


@dataclass(frozen=True)
class AutoregressiveSettings(GenerationSettings):
    top_k: int | None = None
    top_p: float | None = None


@dataclass(frozen=True)
class DiffusionSettings(GenerationSettings):
    steps: int
    block_size: int
    sampler: str
    entropy_bound: float
    threshold: float
    t_min: float  # the schedule's end and start (from the model, not a knob)
    t_max: float
    early_exit: bool = True

    @property
    def canvases(self) -> int:
        """How many canvases the run denoises (the last one is cut)."""
        return math.ceil(self.max_new_tokens / self.block_size)


SETTINGS_OF: dict[str, type[GenerationSettings]] = {
    "autoregressive": AutoregressiveSettings,
    "diffusion": DiffusionSettings,
}


@dataclass(frozen=True)
class ModelLimits:
    """What a loaded model supports; widgets take their slider ranges from here."""

    context_length: int
    max_steps: int = MAX_STEPS
    max_block_size: int | None = None
    trained_block_sizes: tuple[int, ...] = ()


def knobs(kind: Kind) -> set[str]:
    """The keywords `generate()` takes for a kind (the schedule's ends come from the model)."""
    return set(SETTINGS_OF[kind].__dataclass_fields__) - {"t_min", "t_max"}


def resolve_settings(kind: Kind, defaults: dict[str, Any], limits: ModelLimits, **given: Any) -> GenerationSettings:
    """Merge given keywords over a model's complete defaults (`DEFAULTS[kind]` under the model's own)
    and check every value; raise InvalidSettingError."""
    other: Kind = "diffusion" if kind == "autoregressive" else "autoregressive"
    for name in given:
        if name in knobs(kind):
            continue
        if name in knobs(other) and given[name] is not None:
            raise InvalidSettingError(name, given[name], f"not a setting of {kind} models; leave it unset")
        if name not in knobs(other):
            raise InvalidSettingError(name, given[name], f"one of the settings {sorted(knobs(kind) | knobs(other))}")

    values = {**defaults, **{k: v for k, v in given.items() if v is not None and k in knobs(kind)}}
    values["max_new_tokens"] = check_int("max_new_tokens", values.get("max_new_tokens"), 1, limits.context_length)
    values["temperature"] = _check_temperature(kind, values.get("temperature"))
    if values.get("seed") is not None:
        values["seed"] = check_int("seed", values["seed"], 0, 2**63 - 1)
    if not isinstance(values.get("compile", False), bool):
        raise InvalidSettingError("compile", values["compile"], "True (static cache, compiled forward) or False")
    if kind == "autoregressive":
        if values.get("top_k") is not None:
            values["top_k"] = check_int("top_k", values["top_k"], 1, None)
        if values.get("top_p") is not None:
            values["top_p"] = check_float("top_p", values["top_p"], 0.0, 1.0, low_inclusive=False)
    else:
        values["steps"] = check_int("steps", values.get("steps"), 1, limits.max_steps)
        values["block_size"] = check_int("block_size", values.get("block_size"), 1, limits.max_block_size)
        values["sampler"] = check_choice("sampler", values.get("sampler"), sampler_choices())
        if not isinstance(values.get("early_exit", True), bool):
            raise InvalidSettingError("early_exit", values["early_exit"], "True or False")
        values["entropy_bound"] = check_float(
            "entropy_bound", values.get("entropy_bound"), 0.0, None, low_inclusive=False
        )
        values["threshold"] = check_float("threshold", values.get("threshold"), 0.0, 1.0, low_inclusive=False)
        values["t_min"] = check_float("t_min", values.get("t_min"), 0.0, None, low_inclusive=False)
        values["t_max"] = check_float("t_max", values.get("t_max"), values["t_min"], None)
    fields = SETTINGS_OF[kind].__dataclass_fields__
    return SETTINGS_OF[kind](**{k: v for k, v in values.items() if k in fields})


MIN_TEMPERATURE = 1e-3  # below this, logits / temperature overflows to inf in float32 and sampling breaks


def _check_temperature(kind: Kind, value: Any) -> float | str:
    if kind == "diffusion" and value == SCHEDULE:
        return SCHEDULE
    allowed = f"0 (argmax) or a finite number >= {MIN_TEMPERATURE:g}" + (
        f", or {SCHEDULE!r} for the model's own t_max -> t_min schedule" if kind == "diffusion" else ""
    )
    if isinstance(value, str):
        raise InvalidSettingError("temperature", value, allowed)
    try:
        temperature = check_float("temperature", value, 0.0, None)
    except InvalidSettingError:
        raise InvalidSettingError("temperature", value, allowed) from None
    if 0 < temperature < MIN_TEMPERATURE:
        raise InvalidSettingError("temperature", value, allowed)
    return temperature
