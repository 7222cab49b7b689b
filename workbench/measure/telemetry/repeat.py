"""Warm-up runs, then repeats, then the median and the spread.

One run is an anecdote: the first call pays for CUDA context creation, kernel compilation and cold
caches, and later calls vary with clocks and temperature. `benchmark(fn)` calls `fn` a few times
unmeasured, then `repeats` times timed with a device-synchronised stopwatch, and summarises every
numeric figure by median, interquartile range, min and max (medians, because one slow outlier must
not move the headline). `fn` returns a `GenerationResult` (all its metrics and numeric telemetry are
summarised), a number (summarised as `value`), or `None` (only wall time).

Left out: statistical tests between two benchmarks, and outlier removal (the spread is shown instead).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

import pandas as pd
import torch
from tqdm.auto import tqdm

from workbench.engine.clock import Stopwatch
from workbench.engine.result import GenerationResult
from workbench.errors import InvalidSettingError


@dataclass
class Benchmark:
    runs: pd.DataFrame  # one row per measured repeat; warm-ups are not recorded
    summary: pd.DataFrame  # one row per figure: n, median, iqr, min, max
    results: list[Any] = field(repr=False)  # what `fn` returned, per repeat

    def median(self, figure: str) -> float:
        return float(self.summary.loc[figure, "median"])

    def _repr_html_(self) -> str:
        return self.summary._repr_html_()


def benchmark(
    fn: Callable[[], Any],
    warmup: int = 1,
    repeats: int = 5,
    *,
    device: torch.device | str | None = None,
    progress: bool = True,
    desc: str = "benchmark",
) -> Benchmark:
    """Call `fn` `warmup` times unmeasured, then `repeats` times measured; summarise every figure."""
    if not isinstance(warmup, int) or isinstance(warmup, bool) or warmup < 0:
        raise InvalidSettingError("warmup", warmup, "a whole number >= 0")
    if not isinstance(repeats, int) or isinstance(repeats, bool) or repeats < 1:
        raise InvalidSettingError("repeats", repeats, "a whole number >= 1")
    rows, results = [], []
    with tqdm(total=warmup + repeats, desc=desc, disable=not progress) as bar:
        for attempt in range(warmup + repeats):
            measured = attempt >= warmup
            bar.set_postfix_str("repeat" if measured else "warm-up")
            with Stopwatch(device) as watch:
                value = fn()
            figures = _figures(value)  # checked on warm-ups too, so a bad `fn` fails before the long part
            if measured:
                rows.append({"repeat": attempt - warmup, "wall_s": watch.elapsed_s, **figures})
                results.append(value)
            bar.update()
    runs = pd.DataFrame(rows)
    return Benchmark(runs=runs, summary=summarise(runs.drop(columns="repeat")), results=results)


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """Median and spread of each numeric column; `n` counts the runs that had the figure."""
    numeric = runs.apply(pd.to_numeric, errors="coerce").astype(float)
    return pd.DataFrame(
        {
            "n": numeric.count(),
            "median": numeric.median(),
            "iqr": numeric.quantile(0.75) - numeric.quantile(0.25),
            "min": numeric.min(),
            "max": numeric.max(),
        }
    )


def _figures(value: Any) -> dict[str, float | None]:
    if value is None:
        return {}
    if isinstance(value, GenerationResult):
        numbers = {**value.metrics(), **{k: v for k, v in value.telemetry.items() if _is_number(v)}}
        return {k: v for k, v in numbers.items() if v is None or _is_number(v)}
    if _is_number(value):
        return {"value": value}
    raise InvalidSettingError("fn", value, "a callable returning a GenerationResult, a number or None")


def _is_number(value: Any) -> bool:
    # bool is an int to Python but not a measurement; NaN/inf are measurements we do not have.
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
