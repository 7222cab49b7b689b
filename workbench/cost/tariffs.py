"""Electricity tariffs: a price for each hour of the day, flat or time-of-use.

A `Tariff` is 24 hourly prices in USD per kWh (hour 0 = midnight to 1 am, local time), so flat and
time-of-use tariffs are priced the same way: `mean_usd_per_kwh(start_hour, hours)` averages the
price over a window of the day, hour by hour (fractions of an hour count pro rata).

Tariffs come from `data/tariffs.csv` (flat; priced in USD, or in EUR converted at the rate given at
lookup, else the row's own rate, else the dated default in `data/fx_rates.csv`) and `data/tou_tariffs.csv` (one row per period; a tariff's periods must cover the
24 hours exactly once). Left out: weekday/weekend and seasonal schedules, tiered (volume) pricing,
fixed monthly charges and demand charges; a user with those edits the hourly prices to match.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.checks import check_float
from workbench.errors import InvalidSettingError
from workbench.tables import Column, optional, read_table, row_error

_TEXT = (Column("date", "date"), Column("source", "url"), Column("notes", "text", required=False))
FLAT_COLUMNS = (
    Column("name", "slug"),
    Column("description", "text"),
    Column("usd_per_kwh", required=False),
    Column("eur_per_kwh", required=False),
    Column("usd_per_eur", required=False),
    Column("fx_date", "date", required=False),
    Column("fx_source", "url", required=False),
    *_TEXT,
)
FX_COLUMNS = (Column("name", "slug"), Column("usd_per_eur"), *_TEXT)
TOU_COLUMNS = (
    Column("name", "slug"),
    Column("description", "text"),
    Column("start_hour", minimum=0, inclusive=True, maximum=23),
    Column("end_hour", minimum=1, inclusive=True, maximum=24),
    Column("usd_per_kwh"),
    *_TEXT,
)


@dataclass(frozen=True)
class Tariff:
    """What one kWh costs at each hour of the day, in USD."""

    name: str
    usd_per_kwh_by_hour: tuple[float, ...]
    date: str = ""
    source: str = ""
    notes: str = ""

    def __post_init__(self) -> None:
        if len(self.usd_per_kwh_by_hour) != 24:
            raise InvalidSettingError("usd_per_kwh_by_hour", self.usd_per_kwh_by_hour, "24 hourly prices")
        for price in self.usd_per_kwh_by_hour:
            check_float("usd_per_kwh", price, 0.0, None, low_inclusive=False)

    @property
    def time_of_use(self) -> bool:
        return len(set(self.usd_per_kwh_by_hour)) > 1

    def mean_usd_per_kwh(self, start_hour: float = 0.0, hours: float = 24.0) -> float:
        """Average price over `hours` starting at `start_hour` (wrapping past midnight)."""
        check_float("hours", hours, 0.0, None, low_inclusive=False)
        weights = hour_weights(start_hour, hours)
        return sum(w * p for w, p in zip(weights, self.usd_per_kwh_by_hour)) / hours

    def scaled(self, factor: float) -> Tariff:
        """Every hour's price times `factor` (for sensitivity runs)."""
        return replace(self, usd_per_kwh_by_hour=tuple(p * factor for p in self.usd_per_kwh_by_hour))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "usd_per_kwh_by_hour": list(self.usd_per_kwh_by_hour), "time_of_use": self.time_of_use}


def flat_tariff(usd_per_kwh: float, name: str = "custom") -> Tariff:
    """One price all day, e.g. from `--usd-per-kwh`."""
    price = check_float("usd_per_kwh", usd_per_kwh, 0.0, None, low_inclusive=False)
    return Tariff(name, (price,) * 24, notes="flat price given by the user")


def hour_weights(start_hour: float, hours: float) -> list[float]:
    """How much of each clock hour a window of `hours` from `start_hour` covers (sums to `hours`)."""
    weights = [0.0] * 24
    t, left = start_hour % 24, hours
    while left > 1e-12:
        hour = math.floor(t)
        step = min(hour + 1 - t, left)
        weights[hour % 24] += step
        left -= step
        t = float(hour + 1)  # the next clock hour, exactly: adding step could land a hair short of it
    return weights


def load_fx_rates(source: str | Path | pd.DataFrame | None = None) -> pd.DataFrame:
    """The exchange-rate table, checked; its first row is the default USD-per-EUR rate."""
    table = read_table(source, "fx_rates.csv", FX_COLUMNS)
    if table.empty:
        raise InvalidSettingError(table.attrs["label"], "empty", "at least one dated USD-per-EUR rate")
    return table


def load_tariffs(source: str | Path | pd.DataFrame | None = None) -> pd.DataFrame:
    """The flat tariffs table, checked (see module docstring for the rules)."""
    table = read_table(source, "tariffs.csv", FLAT_COLUMNS)
    for i, row in table.iterrows():
        usd, eur = optional(row["usd_per_kwh"]), optional(row["eur_per_kwh"])
        if (usd is None) == (eur is None):
            raise row_error(table, i, "usd_per_kwh", "exactly one of usd_per_kwh and eur_per_kwh")
        if optional(row["usd_per_eur"]) is not None and not (row["fx_date"] and row["fx_source"]):
            raise row_error(table, i, "fx_source", "a date and source URL for the usd_per_eur rate")
    return table


def load_tou_tariffs(source: str | Path | pd.DataFrame | None = None) -> pd.DataFrame:
    """The time-of-use table, checked: each name's periods cover hours 0-24 once, in whole hours."""
    table = read_table(source, "tou_tariffs.csv", TOU_COLUMNS, unique_names=False)
    for name in table["name"].unique():
        covered = [0] * 24
        for i in table.index[table["name"] == name]:
            start, end = table.at[i, "start_hour"], table.at[i, "end_hour"]
            if not (start.is_integer() and end.is_integer() and start < end):
                allowed = "whole hours with start_hour < end_hour (split a period that crosses midnight)"
                raise row_error(table, i, "end_hour", allowed)
            for hour in range(int(start), int(end)):
                covered[hour] += 1
        if covered != [1] * 24:
            first = int(table.index[table["name"] == name][0])
            gaps = [h for h, n in enumerate(covered) if n != 1]
            allowed = f"periods of {name} covering each hour 0-23 exactly once (hours {gaps} are not)"
            raise row_error(table, first, "start_hour", allowed)
    return table


def tariff(
    name: str,
    *,
    flat: str | Path | pd.DataFrame | None = None,
    tou: str | Path | pd.DataFrame | None = None,
    usd_per_eur: float | None = None,
    fx: str | Path | pd.DataFrame | None = None,
) -> Tariff:
    """The named tariff from either table; EUR prices are converted (`usd_per_eur`, the row's rate or `fx`'s)."""
    flat_table, tou_table = load_tariffs(flat), load_tou_tariffs(tou)
    in_usd = name in set(tou_table["name"]) or (
        name in set(flat_table["name"]) and optional(flat_table.set_index("name").loc[name, "usd_per_kwh"]) is not None
    )
    if usd_per_eur is not None and in_usd:
        raise InvalidSettingError(
            "usd_per_eur", usd_per_eur, f"only with a tariff priced in EUR; {name} is priced in USD"
        )
    if name in set(tou_table["name"]):
        rows = tou_table[tou_table["name"] == name]
        hourly = [0.0] * 24
        for _, row in rows.iterrows():
            for hour in range(int(row["start_hour"]), int(row["end_hour"])):
                hourly[hour] = float(row["usd_per_kwh"])
        first = rows.iloc[0]
        return Tariff(name, tuple(hourly), first["date"], first["source"], first["notes"])
    matches = flat_table[flat_table["name"] == name]
    if matches.empty:
        known = sorted(set(flat_table["name"]) | set(tou_table["name"]))
        raise InvalidSettingError("tariff", name, "one of " + ", ".join(known))
    row = matches.iloc[0]
    price, notes = optional(row["usd_per_kwh"]), row["notes"]
    if price is None:
        if usd_per_eur is not None:
            rate, fx = usd_per_eur, "given by the user"
        elif optional(row["usd_per_eur"]) is not None:
            rate, fx = float(row["usd_per_eur"]), f"from {row['fx_source']} ({row['fx_date']})"
        else:
            default = load_fx_rates(fx).iloc[0]
            rate = float(default["usd_per_eur"])
            fx = f"the default {default['name']} rate of {default['date']} ({default['source']}; override with usd_per_eur)"
        rate = check_float("usd_per_eur", rate, 0.0, None, low_inclusive=False)
        price = float(row["eur_per_kwh"]) * rate
        notes = f"Converted from EUR {row['eur_per_kwh']:g}/kWh at {rate:g} USD/EUR, {fx}. {notes}".strip()
    return Tariff(name, (price,) * 24, row["date"], row["source"], notes)
