"""Samplers by name: each sampler's file registers itself, and everything that offers a choice of
sampler (the settings' check, `make_sampler`, the CLI's help, the panel's dropdown) reads this registry.

    @register_sampler("quota", parameters=("threshold",), help="commit a growing quota ...")
    class QuotaSampler(LockingSampler): ...

A sampler is built from the settings' values of the parameters it names (`threshold`,
`entropy_bound`: the knobs `DiffusionSettings` carries). Every module in this folder is imported on
the first look-up, so a new sampler is one new file here and nothing else. Left out: samplers with
parameters the settings do not carry yet (add the knob to `DiffusionSettings` first).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.errors import InvalidSettingError

if TYPE_CHECKING:
    from workbench.engine.diffusion.samplers.base import Sampler
    from workbench.engine.settings import DiffusionSettings


@dataclass(frozen=True)
class SamplerEntry:
    name: str
    help: str
    parameters: tuple[str, ...]  # the DiffusionSettings fields its constructor takes, by the same names
    build: Callable[..., Sampler]
    rank: int  # where lists show it: lower first, then by name


_REGISTRY: dict[str, SamplerEntry] = {}
_discovered = False


def register_sampler(name: str, *, parameters: tuple[str, ...], help: str, rank: int = 100) -> Callable[[type], type]:
    """Class decorator: make the sampler available as `sampler=name` everywhere."""

    def register(cls: type) -> type:
        known = _REGISTRY.get(name)
        if known is not None and known.build is not cls:
            raise ValueError(f"sampler name {name!r} is taken by {known.build.__qualname__}")
        _REGISTRY[name] = SamplerEntry(name, help, parameters, cls, rank)
        return cls

    return register


def _discover() -> None:
    """Import every module beside this one once, so each registers its sampler."""
    global _discovered
    if _discovered:
        return
    package = __name__.rpartition(".")[0]
    for module in pkgutil.iter_modules(importlib.import_module(package).__path__):
        importlib.import_module(f"{package}.{module.name}")
    _discovered = True


def samplers() -> dict[str, SamplerEntry]:
    """Every registered sampler, in the order lists show them."""
    _discover()
    return {entry.name: entry for entry in sorted(_REGISTRY.values(), key=lambda entry: (entry.rank, entry.name))}


def sampler_choices() -> dict[str, str]:
    """Name -> help of every registered sampler (what `check_choice` and the help texts show)."""
    return {name: entry.help for name, entry in samplers().items()}


def make_sampler(settings: DiffusionSettings) -> Sampler:
    """The sampler `settings.sampler` names, built from the settings' values of its parameters."""
    entry = samplers().get(settings.sampler)
    if entry is None:
        raise InvalidSettingError("sampler", settings.sampler, f"one of {sorted(samplers())}")
    values: dict[str, Any] = {parameter: getattr(settings, parameter) for parameter in entry.parameters}
    return entry.build(**values)
