"""Matplotlib figures for the cost model: cumulative cost, cost vs utilisation, tornado, roofline.

Each function returns a `matplotlib.figure.Figure` built without pyplot, so nothing is left in
pyplot's global state and a notebook shows the figure once (as the cell's value). Titles and axes
carry units. Costs come from the model modules; the plots only add them up over time and draw them.
Left out: interactivity (widgets can redraw these), styling themes, and saving to files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from workbench.cost import units
from workbench.cost.breakeven import (
    compare_costs,
    idle_energy_usd_per_month,
    local_usd_per_m_tokens,
    marginal_usd_per_token,
)
from workbench.cost.cloud import CloudOffer
from workbench.cost.local import LocalSetup
from workbench.cost.roofline import Roofline, RooflinePoint
from workbench.cost.sensitivity import ANSWERS, LABELS

ANSWER_TITLES = {
    "breakeven_tokens_per_month": "break-even volume",
    "local_usd_per_m_tokens": "local cost per million tokens",
    "payback_months": "payback time",
}


def plot_cumulative_cost(
    local: LocalSetup,
    clouds: Sequence[CloudOffer],
    monthly_tokens: float,
    *,
    input_per_output: float = 1.0,
    months: int | None = None,
) -> Figure:
    """Money spent so far, month by month: the box (price up front, then electricity) vs each API."""
    months = months or max(1, round(local.lifetime_years * 12))
    x = np.arange(0, months + 1)
    energy = idle_energy_usd_per_month(local) + marginal_usd_per_token(local) * monthly_tokens
    fig = Figure(figsize=(8, 4.5))
    ax = fig.add_subplot()
    ax.plot(x, local.price_usd + energy * x, lw=2.5, color="black", label=f"local {local.hardware}")
    for i, cloud in enumerate(clouds):
        # compare_costs() also refuses a volume beyond what the box can make.
        result = compare_costs(local, cloud, input_per_output=input_per_output, monthly_tokens=monthly_tokens)
        bill, month = result.cloud_usd_per_month, result.payback_months
        assert bill is not None  # set whenever monthly_tokens is given
        (line,) = ax.plot(x, bill * x, label=f"cloud {cloud.name}")
        if month is not None and month <= months:
            ax.plot([month], [bill * month], "o", color=line.get_color())
            # Stagger the labels: break-even points of similar offers sit close together.
            ax.annotate(
                f"break-even {month:.1f} mo",
                (month, bill * month),
                textcoords="offset points",
                xytext=(8, -14 - 12 * i),
                color=line.get_color(),
                fontsize="small",
            )
    ax.set_title(f"Cumulative cost at {units.tokens(monthly_tokens, 'month')} generated (resale not shown)")
    ax.set_xlabel("months of ownership")
    ax.set_ylabel("cumulative cost (USD)")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return fig


def plot_cost_vs_utilisation(
    local: LocalSetup, clouds: Sequence[CloudOffer], *, input_per_output: float = 1.0
) -> Figure:
    """Local all-in cost per million tokens as the box is busy more of the day, against API prices."""
    hours = np.linspace(0.24, 24.0, 100)
    cost = [local_usd_per_m_tokens(replace(local, hours_per_day=float(h))) for h in hours]
    fig = Figure(figsize=(8, 4.5))
    ax = fig.add_subplot()
    label = f"local {local.hardware} at {local.tokens_per_s:g} tok/s"
    ax.plot(hours / 24 * 100, cost, lw=2.5, color="black", label=label)
    ax.axvline(local.hours_per_day / 24 * 100, ls=":", color="grey", label=f"{local.hours_per_day:g} h/day")
    for i, cloud in enumerate(clouds):
        price = cloud.usd_per_m_output_tokens(input_per_output)
        ax.axhline(price, ls="--", color=f"C{i % 10}", label=f"cloud {cloud.name}")
    ax.set_yscale("log")
    ax.set_title(f"Cost per million generated tokens vs utilisation (input:output = {input_per_output:g})")
    ax.set_xlabel("utilisation (% of the day spent generating)")
    ax.set_ylabel("USD per million generated tokens")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3, which="both")
    return fig


def plot_tornado(table: pd.DataFrame, top: int | None = None) -> Figure:
    """Bars from the answer at -change to the answer at +change for each input, biggest swing on top.

    `table` is what `sensitivity_table()` returns; "never" (infinite) answers run to the right edge.
    """
    rows = table.dropna(subset=["swing"])
    rows = (rows.head(top) if top else rows).iloc[::-1]  # barh draws bottom-up
    answers = pd.concat([rows["answer_at_low"], rows["answer_at_high"], table["answer_at_base"]])
    finite = answers[np.isfinite(answers)]
    edge = finite.max() * 1.15 if not finite.empty and finite.max() > 0 else 1.0

    def at(value: float) -> float:
        return edge if math.isinf(value) else value

    base = at(float(table["answer_at_base"].iloc[0]))
    fig = Figure(figsize=(8, 0.45 * len(rows) + 1.5))
    ax = fig.add_subplot()
    for y, (_, row) in enumerate(rows.iterrows()):
        for value, colour in ((row["answer_at_low"], "tab:blue"), (row["answer_at_high"], "tab:orange")):
            if math.isnan(value):
                continue
            ax.barh(y, at(value) - base, left=base, color=colour, alpha=0.8)
            if math.isinf(value):
                ax.annotate("never", (edge, y), va="center", ha="right", fontsize="small")
    labels = [
        f"{LABELS.get(r['input'], r['input'])}{' (measured)' if r['basis'] == 'measured' else ''}"
        for _, r in rows.iterrows()
    ]
    ax.set_yticks(range(len(rows)), labels)
    ax.axvline(base, color="black", lw=1)
    answer = table.attrs.get("answer", "answer")
    change = table.attrs.get("change_fraction")
    moved = f"moved {change:.0%} down (blue) and up (orange)" if change else "moved down (blue) and up (orange)"
    ax.set_title(f"What moves the {ANSWER_TITLES.get(answer, answer)}: each input {moved}")
    ax.set_xlabel(ANSWERS.get(answer, answer))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: units.count(value)))  # 300 M, not 3e8
    return fig


def plot_roofline(rooflines: Sequence[Roofline], points: Sequence[RooflinePoint] = ()) -> Figure:
    """Log-log roofline in token units: positions computed per second vs positions per forward pass."""
    n = np.logspace(0, 12, 400, base=2)  # 1 to 4096 positions per forward
    fig = Figure(figsize=(8, 5))
    ax = fig.add_subplot()
    for roof in rooflines:
        ceiling = [roof.tokens_per_s(float(k), float(k)) for k in n]
        (line,) = ax.plot(n, ceiling, lw=2, label=f"{roof.hardware} {roof.precision}")
        crossover = roof.crossover_positions_per_forward
        if crossover is not None and 1 <= crossover <= n[-1]:
            ax.plot([crossover], [roof.tokens_per_s(crossover, crossover)], "^", color=line.get_color())
    for point in points:
        # Claims are hollow red, measurements solid black: a reader must tell them apart at a glance.
        style: dict[str, Any] = dict(facecolors="none", edgecolors="tab:red") if point.claim else dict(color="black")
        where = (point.positions_per_forward, point.positions_per_s)
        ax.scatter([where[0]], [where[1]], marker="o", zorder=3, **style)
        label = point.label + (" (claim)" if point.claim else "")
        ax.annotate(label, where, textcoords="offset points", xytext=(5, 4), fontsize="small")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_title("Roofline: memory roof (slope) meets compute roof (flat) at the triangle")
    ax.set_xlabel("token positions computed per forward pass (1 = batch-1 AR; canvas length for diffusion)")
    ax.set_ylabel("token positions per second\n(= generated tok/s x positions per finished token)")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3, which="both")
    return fig
