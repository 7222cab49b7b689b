"""Sweep a model's knobs over a grid and plot the speed-quality frontier.

    df = sweep(handle, "Once upon a time", steps=[8, 16, 32], block_size=[32], quality=grammatical_share)
    plot_frontier(df)                                   # tokens/s against quality, frontier marked

`sweep` runs every combination of the listed values (knobs not listed keep the model's defaults, or
the value given in `**fixed`), under an energy meter, with a tqdm progress bar, and returns one row
per combination: the swept settings, every metric, power, whether the machine was busy, and the
score `quality(result)` gives. Every combination is checked before the first run, so a bad value
fails at once, not an hour in. `plot_frontier` draws the rows and the Pareto frontier (rows no other
row beats on both axes).

Timing method: each settings shape (the settings without the seed) is run once untimed per model
handle before its first timed run (a cold first run is load-time work, not speed; the handle
remembers what it has warmed, so a sweep per seed does not warm again). Then `repeats` rounds go
through the grid point by point, so drift of the machine hits every point alike; with `repeats > 1`
the timing columns are medians, and with 6 or more (`workbench.measure.verdict.samples_needed()`)
tokens/s and first token get a 95% order-statistics interval (`*_low`, `*_high`). The default of one
timed run keeps notebook sweeps over many seeds short: there the seeds are the repeats.
Left out: parallel runs (they would measure contention, not the model). No widgets: this runs in
scripts too.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from workbench.engine.generator import Generator
from workbench.engine.result import GenerationResult
from workbench.errors import InvalidSettingError
from workbench.measure.measurement import Measurement
from workbench.measure.store import ResultsStore
from workbench.measure.telemetry.energy import measured_generate
from workbench.measure.verdict import median_interval

Quality = Callable[[GenerationResult], float]
SWEPT = ("steps", "block_size", "temperature")
TIMED = ("tokens_per_second", "time_to_first_token_s", "total_s", "mean_step_s")
# The settings shapes each live handle has run once already (weak: a dropped model is forgotten).
_warmed: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
AXIS_LABELS = {
    "tokens_per_second": "speed (tokens per second)",
    "total_s": "total time (s)",
    "time_to_first_token_s": "time to first token (s)",
    "tokens_per_forward": "tokens per forward pass",
    "avg_power_w": "average GPU power (W)",
    "joules_per_token": "GPU energy per token (J/token)",
}


def sweep(
    handle: Generator,
    prompt: str,
    *,
    steps: Sequence[int] | None = None,
    block_size: Sequence[int] | None = None,
    temperature: Sequence[float | str] | None = None,
    quality: Quality | None = None,
    store: ResultsStore | None = None,
    progress: bool = True,
    repeats: int = 1,
    **fixed: Any,
) -> pd.DataFrame:
    """One row per combination of `steps` x `block_size` x `temperature` (None = not swept).

    `fixed` settings (seed, max_new_tokens, sampler, ...) apply to every run; pass `seed=` to make
    the grid repeatable. `quality(result) -> float` (higher is better) fills the "quality" column
    (scored on the median run). `repeats` timed runs per combination, after one untimed warm-up per
    settings shape; every timed run goes to `store`.
    """
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise InvalidSettingError("repeats", repeats, "a whole number >= 1 (6 or more give an interval)")
    grid = _grid(steps=steps, block_size=block_size, temperature=temperature)
    for point in grid:  # every combination must be valid before anything runs
        handle.settings(**fixed, **point)
    runs: list[list[GenerationResult]] = [[] for _ in grid]
    with tqdm(total=len(grid) * repeats, desc=f"sweep {handle.name}", disable=not progress) as bar:
        for point in grid:
            _warm_up(handle, prompt, {**fixed, **point})
        for _ in range(repeats):
            for index, point in enumerate(grid):
                result = measured_generate(handle, prompt, **fixed, **point)
                if store is not None:
                    store.add(result, tags={"source": "sweep"})
                runs[index].append(result)
                bar.update()
    frame = pd.DataFrame([_row(results, point, quality) for results, point in zip(runs, grid, strict=True)])
    frame.attrs["quality"] = getattr(quality, "__name__", "quality") if quality is not None else None
    return frame


def _warm_up(handle: Generator, prompt: str, settings: dict[str, Any]) -> None:
    """One untimed run of a settings shape this handle has not run yet (a served model is warm on its server)."""
    if handle.is_served:
        return
    shape = repr(sorted((name, value) for name, value in settings.items() if name != "seed"))
    try:
        done = _warmed.setdefault(handle, set())
    except TypeError:  # a handle that cannot be weakly referenced is simply warmed every time
        done = set()
    if shape not in done:
        handle.generate(prompt, **settings)
        done.add(shape)


def pareto_front(df: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """Rows no other row beats on both x and y (higher is better on both), sorted by x."""
    points = df.dropna(subset=[x, y]).sort_values([x, y], ascending=False)
    best_y = float("-inf")
    keep = []
    for index, value in points[y].items():  # walking from the fastest down, keep each new best quality
        if value > best_y:
            keep.append(index)
            best_y = value
    return points.loc[keep].sort_values(x)


def plot_frontier(df: pd.DataFrame, x: str = "tokens_per_second", y: str = "quality", ax: Axes | None = None) -> Axes:
    """Scatter every run of a sweep, label it with its settings, and draw the frontier through the best."""
    for column in (x, y):
        if column not in df.columns or df[column].isna().all():
            raise InvalidSettingError(
                "x" if column == x else "y",
                column,
                "a column of the sweep with values: " + ", ".join(map(str, df.columns)),
            )
    if ax is None:  # a bare Figure, like workbench.cost.plots: no pyplot state; a notebook shows ax.figure
        ax = Figure(figsize=(7, 4.5)).add_subplot()
    ax.scatter(df[x], df[y], color="#2563eb", alpha=0.7, label="runs")
    for _, row in df.iterrows():
        ax.annotate(_point_label(row), (row[x], row[y]), textcoords="offset points", xytext=(4, 4), fontsize=8)
    front = pareto_front(df, x, y)
    ax.plot(front[x], front[y], color="#f59e0b", drawstyle="steps-post", label="frontier (nothing beats these on both)")
    model = df["model"].iloc[0] if "model" in df.columns and len(df) else "model"
    ax.set_title(f"Speed vs {_label(df, y)}: {model}")
    ax.set_xlabel(_label(df, x))
    ax.set_ylabel(_label(df, y))
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return ax


def _grid(**lists: Sequence[Any] | None) -> list[dict[str, Any]]:
    for name, values in lists.items():
        if values is not None and (isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values):
            raise InvalidSettingError(name, values, "a non-empty list of values to sweep (e.g. [8, 16, 32]), or None")
    swept = {name: list(values) for name, values in lists.items() if values is not None}
    return [dict(zip(swept, combination)) for combination in itertools.product(*swept.values())]


def _row(results: list[GenerationResult], point: dict[str, Any], quality: Quality | None) -> dict[str, Any]:
    usable = [r for r in results if r.tokens_per_second is not None] or results
    result = sorted(usable, key=lambda r: r.tokens_per_second or 0.0)[(len(usable) - 1) // 2]  # the median run
    measured = [Measurement.from_result(r) for r in results]
    metrics = result.metrics()
    for figure in TIMED:
        values = [float(v) for v in (r.metrics()[figure] for r in results) if v is not None]
        metrics[figure] = float(np.median(values)) if values else None
    intervals: dict[str, float | None] = {}
    for figure in ("tokens_per_second", "time_to_first_token_s"):
        interval = median_interval([float(v) for v in (getattr(r, figure) for r in results) if v is not None])
        intervals[f"{figure}_low"], intervals[f"{figure}_high"] = (
            (interval[0], interval[1]) if interval else (None, None)
        )
    power = [m.avg_power_w for m in measured if m.avg_power_w is not None]
    energy = [m.joules_per_token for m in measured if m.joules_per_token is not None]
    return {
        "model": result.model,
        "kind": result.kind,
        **{name: result.settings.get(name) for name in SWEPT if name in point},
        "seed": result.settings.get("seed"),
        **metrics,
        **intervals,
        "repeats": len(results),
        "busy": any(bool(m.busy) for m in measured),
        "avg_power_w": float(np.median(power)) if power else None,
        "joules_per_token": float(np.median(energy)) if energy else None,
        "finish_reason": result.finish_reason,
        "quality": quality(result) if quality is not None else None,
        "text": result.text,
    }


def _label(df: pd.DataFrame, column: str) -> str:
    if column == "quality":
        return f"quality ({df.attrs.get('quality') or 'score'}; higher is better)"
    return AXIS_LABELS.get(column, column)


def _point_label(row: pd.Series) -> str:
    return " ".join(f"{short}={row[name]}" for name, short in (("steps", "s"), ("block_size", "b"), ("temperature", "T"))
                    if name in row and pd.notna(row[name]))  # fmt: skip
