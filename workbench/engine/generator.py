"""`Generator`: the one interface every model handle satisfies, in-process or behind a server.

Everything above the engine (compare, sweeps, the race, the meter, the store, the cost model) takes
a `Generator` and asks it, never its class, what it is: `kind` ("autoregressive" or "diffusion"),
`is_served` (its work and energy happen on a server), `device`, `limits`. `start_run` is the setup
every `generate()` shares: check the prompt and the hooks, resolve the settings (or take resolved
ones as they are), show the settings' notes, and fix the seed so any run can be repeated.

Left out: how a handle runs its loop (`handle.ModelHandle`, `served.handle.ServedModel`).
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Protocol, runtime_checkable

import torch

from workbench.engine.result import GenerationResult, StepEvent
from workbench.engine.settings import GenerationSettings, Kind, ModelLimits
from workbench.errors import InvalidSettingError

StepCallback = Callable[[StepEvent], None]


class SettingsNote(UserWarning):
    """Settings that run but deserve a word (e.g. a canvas length the model was not trained with)."""


@runtime_checkable
class Generator(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> Kind: ...
    @property
    def is_served(self) -> bool: ...
    @property
    def device(self) -> torch.device | str: ...  # "served" for a model behind a server
    @property
    def limits(self) -> ModelLimits: ...
    @property
    def load_s(self) -> float: ...

    def settings(self, **knobs: Any) -> GenerationSettings:
        """The settings a run with these keywords would use; raises InvalidSettingError."""
        ...

    def notes(self, settings: GenerationSettings) -> Sequence[SettingsNote]:
        """What is worth telling about these settings but is no error."""
        ...

    def generate(
        self,
        prompt: str,
        *,
        settings: GenerationSettings | None = None,
        callback: StepCallback | None = None,
        stop: threading.Event | None = None,
        **knobs: Any,
    ) -> GenerationResult: ...


def check_prompt(prompt: Any) -> None:
    """Refuse what no model can read: a non-string, blank text, or text that is not valid Unicode."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidSettingError("prompt", prompt, "a non-empty string")
    try:
        prompt.encode("utf-8")
    except UnicodeEncodeError as error:  # e.g. a lone surrogate pasted from a broken source
        raise InvalidSettingError(
            "prompt", prompt, f"valid Unicode text ({error.reason} at position {error.start})"
        ) from None


def start_run(
    handle: Generator,
    prompt: str,
    callback: StepCallback | None,
    stop: threading.Event | None,
    settings: GenerationSettings | None,
    knobs: dict[str, Any],
    settings_type: type[GenerationSettings],
) -> GenerationSettings:
    """Check everything a run needs before any work, and return its settings with a fixed seed.

    `settings_type` is the dataclass this handle's `settings()` returns: settings resolved by a
    handle of another kind are refused, not half-used."""
    check_prompt(prompt)
    if callback is not None and not callable(callback):
        raise InvalidSettingError("callback", callback, "a function taking a StepEvent, or None")
    if stop is not None and not callable(getattr(stop, "is_set", None)):
        raise InvalidSettingError("stop", stop, "a threading.Event (or anything with is_set()), or None")
    if settings is None:
        resolved = handle.settings(**knobs)
        for note in handle.notes(resolved):
            warnings.warn(note, stacklevel=3)  # at the caller of generate()
    elif not isinstance(settings, settings_type) or knobs:
        allowed = f"the result of {handle.name!r}.settings(...), with no other setting keywords beside it"
        raise InvalidSettingError("settings", settings if not knobs else sorted(knobs), allowed)
    else:
        resolved = settings
    if resolved.seed is None:  # record the seed actually used so any run can be repeated
        resolved = replace(resolved, seed=int.from_bytes(os.urandom(4), "little"))
    return resolved
