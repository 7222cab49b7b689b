"""The value checks every public surface shares: an integer, a finite number or a choice, in range.

Each raises `InvalidSettingError` naming the parameter, the value and what is allowed, so a bad knob,
a bad cost input and a bad widget value read alike. Left out: checks that span several values (they
belong to the module that owns those values).
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

from workbench.errors import InvalidSettingError


def check_int(name: str, value: Any, low: int, high: int | None) -> int:
    """An integer in [low, high] (high None = unbounded); bools and floats like 2.5 are refused."""
    allowed = f"an integer from {low} to {high}" if high is not None else f"an integer >= {low}"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise InvalidSettingError(name, value, allowed)
    if isinstance(value, float):
        if not value.is_integer():
            raise InvalidSettingError(name, value, allowed)
        value = int(value)
    if value < low or (high is not None and value > high):
        raise InvalidSettingError(name, value, allowed)
    return int(value)


def check_float(name: str, value: Any, low: float, high: float | None, low_inclusive: bool = True) -> float:
    """A finite number in the range; NaN and infinities are always refused."""
    low_text = f">= {low}" if low_inclusive else f"> {low}"
    allowed = f"a finite number {low_text}" + (f" and <= {high}" if high is not None else "")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidSettingError(name, value, allowed)
    if value < low or (not low_inclusive and value == low) or (high is not None and value > high):
        raise InvalidSettingError(name, value, allowed)
    return float(value)


def check_choice(name: str, value: Any, choices: Collection[str]) -> str:
    if not isinstance(value, str) or value not in choices:  # a list or dict is unhashable: refuse, not crash
        raise InvalidSettingError(name, value, "one of " + ", ".join(repr(c) for c in choices))
    return value
