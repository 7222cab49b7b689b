"""The control panel's setting widgets, with ranges and starting values taken from the loaded models.

`configure(ar, diffusion)` sets every range and value from the models' `limits` and `defaults`, so
a slider never offers what the model cannot do (steps up to `max_steps`; block sizes up to a few
times the trained canvas) and starts where the model's author set it. The widgets only collect
values: checking them is the engine's job (`handle.settings()`), so the panel shows exactly the
engine's message for a bad value. Left out: the autoregressive-only top_k/top_p and the entropy-bound
and threshold knobs (the engine's defaults are used; the Python API takes them all).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ipywidgets as widgets

from workbench.engine.diffusion.samplers import sampler_choices
from workbench.engine.handle import ModelHandle
from workbench.engine.settings import DEFAULTS, SCHEDULE
from workbench.errors import InvalidSettingError

DEFAULT_PROMPT = "Once upon a time"
MAX_NEW_TOKENS_CHOICES = (8, 16, 32, 64, 128, 256, 512)
BLOCK_SIZE_SPAN = 4  # the block-size slider reaches this many times the default canvas (the engine warns off-training)
TEMPERATURE_MAX = 2.0  # above this every sampler produces noise; the Python API still accepts more
_WIDE = {"description_width": "120px"}
CONTROL_NAMES = (  # what `apply` sets; temperature "schedule" = the diffusion model's own, a number = both models
    "prompt", "max_new_tokens", "seed", "temperature", "schedule", "steps", "block_size", "sampler", "early_exit",
)  # fmt: skip


class Controls:
    def __init__(self) -> None:
        self.prompt = widgets.Textarea(
            value=DEFAULT_PROMPT, description="prompt", rows=2, style=_WIDE, layout=widgets.Layout(width="98%")
        )
        self.steps = widgets.IntSlider(description="steps", min=1, max=2, style=_WIDE, continuous_update=False)
        self.block_size = widgets.IntSlider(
            description="block size", min=1, max=2, style=_WIDE, continuous_update=False
        )
        self.temperature = widgets.FloatSlider(
            description="temperature",
            min=0.0,
            max=TEMPERATURE_MAX,
            step=0.05,
            value=0.8,
            style=_WIDE,
            continuous_update=False,
            tooltip="0 = always the most likely token",
        )
        self.schedule = widgets.Checkbox(description="diffusion uses its own temperature schedule", indent=False)
        self.sampler = widgets.Dropdown(description="sampler", options=list(sampler_choices()), style=_WIDE)
        self.early_exit = widgets.Checkbox(description="early exit (stop a canvas once it is stable)", indent=False)
        self.max_new_tokens = widgets.Dropdown(
            description="max new tokens", options=[MAX_NEW_TOKENS_CHOICES[0]], style=_WIDE
        )
        self.seed = widgets.Text(value="0", description="seed", placeholder="empty = random", style=_WIDE)
        self.compile = widgets.Checkbox(
            description="fast path (static cache, compiled forward)",
            indent=False,
            tooltip="compiles once per shape before the run (timed apart from it); falls back to eager with the reason",
        )
        for name in ("steps", "block_size", "temperature", "sampler", "max_new_tokens", "seed"):
            getattr(self, name).add_class(f"wb-{name.replace('_', '-')}")
        self.sampler.observe(self._explain_sampler, names="value")
        self.widget = widgets.VBox([
            self.prompt,
            widgets.HBox([self.steps, self.block_size]),
            widgets.HBox([self.temperature, self.schedule]),
            widgets.HBox([self.sampler, self.early_exit]),
            widgets.HBox([self.max_new_tokens, self.seed, self.compile]),
        ])  # fmt: skip

    def configure(self, ar: ModelHandle, diffusion: ModelHandle) -> None:
        """Ranges and starting values from the two models (safe to call from the worker thread)."""
        limits, defaults = diffusion.limits, diffusion.defaults
        canvas = int(defaults["block_size"])
        trained = limits.trained_block_sizes or (canvas,)
        longest_block = min(limits.max_block_size or limits.context_length, max(BLOCK_SIZE_SPAN * canvas, *trained))
        room = min(ar.limits.context_length, limits.context_length) - 1
        choices = sorted({c for c in MAX_NEW_TOKENS_CHOICES if c <= room} | {int(defaults["max_new_tokens"])})
        t_min, t_max = defaults.get("t_min"), defaults.get("t_max")
        ar_temperature = ar.defaults.get("temperature")
        # Max before value: ipywidgets clamps a value to the current range as it is set.
        with self.steps.hold_sync():
            self.steps.max, self.steps.value = limits.max_steps, int(defaults["steps"])
        with self.block_size.hold_sync():
            self.block_size.max, self.block_size.value = longest_block, canvas
            self.block_size.tooltip = f"{diffusion.name} was trained with canvas lengths {list(trained)}"
        with self.max_new_tokens.hold_sync():
            self.max_new_tokens.options, self.max_new_tokens.value = choices, int(defaults["max_new_tokens"])
        self.temperature.value = ar_temperature if isinstance(ar_temperature, (int, float)) else 0.8
        self.schedule.value = defaults.get("temperature") == SCHEDULE
        if t_min is not None:
            self.schedule.description = f"diffusion uses its own temperature schedule ({t_max:g} \u2192 {t_min:g})"
        self.sampler.value = defaults.get("sampler", DEFAULTS["diffusion"]["sampler"])
        self.early_exit.value = bool(defaults.get("early_exit", True))
        self.compile.value = bool(ar.defaults.get("compile") or defaults.get("compile"))

    def apply(self, settings: Mapping[str, Any]) -> None:
        """Starting values by control name (a notebook's parameters), after `configure`; unknown names are refused."""
        unknown = sorted(set(settings) - set(CONTROL_NAMES))
        if unknown:
            raise InvalidSettingError("settings", unknown, f"control names: {', '.join(CONTROL_NAMES)}")
        for name, value in settings.items():
            widget = getattr(self, name)
            if name == "temperature":  # "schedule": the diffusion model's own (AR keeps its default); a number: both
                self.schedule.value = value == SCHEDULE
                if value != SCHEDULE:
                    self.temperature.value = value
            elif name == "seed":
                widget.value = "" if value is None else str(value)
            else:
                if name == "max_new_tokens" and value not in widget.options:
                    widget.options = sorted({*widget.options, int(value)})
                widget.value = value

    def ar_settings(self) -> dict[str, Any]:
        return {**self._shared(), "temperature": self.temperature.value}

    def diffusion_settings(self) -> dict[str, Any]:
        return {
            **self._shared(),
            "temperature": SCHEDULE if self.schedule.value else self.temperature.value,
            "steps": self.steps.value,
            "block_size": self.block_size.value,
            "sampler": self.sampler.value,
            "early_exit": self.early_exit.value,
        }

    def _shared(self) -> dict[str, Any]:
        return {
            "max_new_tokens": self.max_new_tokens.value,
            "seed": parse_seed(self.seed.value),
            "compile": self.compile.value,
        }

    def _explain_sampler(self, change: dict[str, Any]) -> None:
        self.sampler.tooltip = sampler_choices().get(change["new"], "")


def parse_seed(text: str) -> int | str | None:
    """Empty means a random seed; anything that is not a whole number goes to the engine as typed, to be refused there."""
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        return text
