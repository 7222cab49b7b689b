"""Which input matters most: move each one down and up by a fraction and see how far the answer moves.

`sensitivity_table()` recomputes one answer (break-even volume, local cost per million tokens, or payback
months) with each input scaled by (1 - change) and (1 + change) while every other input stays as
it is, and returns a DataFrame ranked by the swing between the two. "Never" answers are infinite,
so an input that can flip the verdict ranks first. A move that would make the inputs impossible
(hours_per_day above 24, an overhead factor below 1) is clipped to the limit; one that breaks a
rule between inputs (idle power above the power while generating) gives NaN. Capacity is not
checked: a break-even volume beyond it still counts as a number here. Left out: moving inputs
together (scenarios) and probability distributions (Monte Carlo); one at a time is what a tornado
chart shows. `readable_sensitivity()` gives the same table with human labels and plain numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pandas as pd

from workbench.checks import check_choice, check_float
from workbench.cost import units
from workbench.cost.breakeven import (
    breakeven_volume,
    local_usd_per_m_tokens,
    payback_months,
)
from workbench.cost.cloud import CloudOffer
from workbench.cost.local import LocalSetup
from workbench.errors import InvalidSettingError

LOCAL_INPUTS = (
    "price_usd",
    "lifetime_years",
    "resale_fraction",
    "hours_per_day",
    "tokens_per_s",
    "joules_per_token",
    "idle_power_w",
    "usd_per_kwh",
    "system_overhead_factor",
)
CLOUD_INPUTS = ("input_usd_per_m", "output_usd_per_m", "input_per_output")
ANSWERS = {
    "breakeven_tokens_per_month": "tokens/month at which local and cloud cost the same (capacity ignored)",
    "local_usd_per_m_tokens": "local all-in USD per million tokens, busy every hour of the daily use",
    "payback_months": "months to save back the purchase price at the monthly volume",
}
# What each input is called where a person reads it (plots, tables, the report), with its unit.
LABELS = {
    "price_usd": "purchase price (USD)",
    "lifetime_years": "lifetime (years)",
    "resale_fraction": "resale value (share of price)",
    "hours_per_day": "hours generating per day",
    "tokens_per_s": "speed (tokens/s)",
    "joules_per_token": "energy per token (J)",
    "idle_power_w": "idle power (W)",
    "usd_per_kwh": "electricity price (USD/kWh)",
    "system_overhead_factor": "rest-of-box power factor",
    "input_usd_per_m": "cloud input price (USD per M tokens)",
    "output_usd_per_m": "cloud output price (USD per M tokens)",
    "input_per_output": "input tokens per output token",
}
ANSWER_UNITS = {
    "breakeven_tokens_per_month": "tokens/month",
    "local_usd_per_m_tokens": "USD",
    "payback_months": "months",
}
# Limits an input cannot pass whatever the percentage says.
_CEILINGS = {"hours_per_day": 24.0, "resale_fraction": 0.99}
_FLOORS = {"system_overhead_factor": 1.0}  # below 1 the box would draw less than its GPU


def sensitivity_table(
    local: LocalSetup,
    cloud: CloudOffer,
    *,
    input_per_output: float = 1.0,
    monthly_tokens: float | None = None,
    change_fraction: float = 0.2,
    answer: str = "breakeven_tokens_per_month",
) -> pd.DataFrame:
    """One row per input: its value at -change/+change, the answer at each, the swing; biggest first."""
    check_choice("answer", answer, ANSWERS)
    check_float("change_fraction", change_fraction, 0.0, 0.95, low_inclusive=False)
    if answer == "payback_months" and monthly_tokens is None:
        raise InvalidSettingError("monthly_tokens", None, "a volume in tokens/month (answer='payback_months')")
    solve = _answer_function(answer, monthly_tokens)
    base_answer = solve(local, cloud, input_per_output)
    rows = []
    for name in LOCAL_INPUTS + CLOUD_INPUTS:
        if local.basis.get(name) == "missing":
            continue  # an unknown input has no value to move
        base = _value(name, local, cloud, input_per_output)
        low = max(base * (1 - change_fraction), _FLOORS.get(name, 0.0))
        high = min(base * (1 + change_fraction), _CEILINGS.get(name, math.inf))
        at_low = _solve_with(solve, name, low, local, cloud, input_per_output)
        at_high = _solve_with(solve, name, high, local, cloud, input_per_output)
        rows.append(
            dict(
                input=name,
                basis=local.basis.get(name, "given"),  # cloud prices and the input ratio are typed or listed
                base_value=base,
                low_value=low,
                high_value=high,
                answer_at_low=at_low,
                answer_at_base=base_answer,
                answer_at_high=at_high,
                # "never" at both ends: the swing is undefined, not zero (NaN sorts last).
                swing=abs(at_high - at_low) if not (math.isinf(at_low) and math.isinf(at_high)) else math.nan,
            )
        )
    table = pd.DataFrame(rows).sort_values("swing", ascending=False, na_position="last", kind="stable")
    table = table.reset_index(drop=True)
    table.attrs.update(answer=answer, change_fraction=change_fraction)  # for plot_tornado's labels
    return table


def _answer_function(answer: str, monthly_tokens: float | None) -> Callable[[LocalSetup, CloudOffer, float], float]:
    if answer == "breakeven_tokens_per_month":
        return breakeven_volume
    if answer == "local_usd_per_m_tokens":
        return lambda local, cloud, ratio: local_usd_per_m_tokens(local)
    assert monthly_tokens is not None, "payback needs a monthly volume (checked by the caller)"
    volume = monthly_tokens
    return lambda local, cloud, ratio: payback_months(local, cloud, volume, ratio)


def _value(name: str, local: LocalSetup, cloud: CloudOffer, input_per_output: float) -> float:
    if name == "usd_per_kwh":
        return local.tariff.mean_usd_per_kwh()  # the tariff as a whole is scaled
    if name == "input_per_output":
        return input_per_output
    return float(getattr(cloud if name in CLOUD_INPUTS else local, name))


def _solve_with(
    solve: Callable[[LocalSetup, CloudOffer, float], float],
    name: str,
    value: float,
    local: LocalSetup,
    cloud: CloudOffer,
    input_per_output: float,
) -> float:
    try:
        if name == "usd_per_kwh":
            local = replace(local, tariff=local.tariff.scaled(value / local.tariff.mean_usd_per_kwh()))
        elif name == "input_per_output":
            input_per_output = value
        elif name in CLOUD_INPUTS:
            changes: dict[str, Any] = {name: value}
            cloud = replace(cloud, **changes)
        else:
            changes = {name: value}
            local = replace(local, **changes)
    except InvalidSettingError:
        return math.nan  # e.g. idle power pushed above the power while generating
    return solve(local, cloud, input_per_output)


def readable_sensitivity(table: pd.DataFrame) -> pd.DataFrame:
    """`sensitivity_table()` as a person reads it: named inputs, plain numbers, "never" for infinity."""
    answer = table.attrs.get("answer", "breakeven_tokens_per_month")
    unit = ANSWER_UNITS.get(answer, "")

    def figure(value: float) -> str:
        if math.isnan(value):
            return "not possible"
        if math.isinf(value):
            return "never"
        return units.usd(value) if unit == "USD" else f"{units.count(value)} {unit}".strip()

    return pd.DataFrame(
        {
            "input": [LABELS.get(name, name) for name in table["input"]],
            "basis": table["basis"],
            "value": [units.plain(value) for value in table["base_value"]],
            "answer, input lower": [figure(value) for value in table["answer_at_low"]],
            "answer, input higher": [figure(value) for value in table["answer_at_high"]],
            "swing": [figure(value) if not math.isnan(value) else "undefined" for value in table["swing"]],
        }
    )
