"""What the cloud charges: hosted-API token prices and hourly GPU rental.

A `CloudOffer` prices input and output tokens separately (USD per million) with an optional batch
discount; since local speed is measured in generated tokens, it is priced per million *output*
tokens with `input_per_output` input tokens read for each one. Offers come from
`data/cloud_prices.csv`; rental ranges from `data/gpu_rental.csv`. Left out: prompt-cache discounts,
long-context surcharges, free tiers, rate limits and quality parity between models (a cheaper model
that answers worse is not the same product).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.checks import check_float
from workbench.errors import InvalidSettingError
from workbench.tables import Column, read_table, row_error

_TEXT = (Column("date", "date"), Column("source", "url"), Column("notes", "text", required=False))
PRICE_COLUMNS = (
    Column("name", "slug"),
    Column("provider", "text"),
    Column("description", "text"),
    Column("input_usd_per_m"),
    Column("output_usd_per_m"),
    *_TEXT,
)
RENTAL_COLUMNS = (
    Column("name", "slug"),
    Column("hardware", "slug"),
    Column("low_usd_per_hour"),
    Column("high_usd_per_hour"),
    *_TEXT,
)


@dataclass(frozen=True)
class CloudOffer:
    """A hosted API's token prices."""

    name: str
    input_usd_per_m: float
    output_usd_per_m: float
    batch_discount_fraction: float = 0.0  # e.g. 0.5 for a batch API at half price
    date: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        # $0 input tokens are a real offer (cached or free-tier input); output is what is bought.
        check_float("input_usd_per_m", self.input_usd_per_m, 0.0, None)
        check_float("output_usd_per_m", self.output_usd_per_m, 0.0, None, low_inclusive=False)
        # A 100% discount would make the cloud free and every break-even "never".
        check_float("batch_discount_fraction", self.batch_discount_fraction, 0.0, 0.99)

    def usd_per_m_output_tokens(self, input_per_output: float) -> float:
        """Price of a million generated tokens plus the input tokens read to produce them."""
        check_float("input_per_output", input_per_output, 0.0, None)
        list_price = input_per_output * self.input_usd_per_m + self.output_usd_per_m
        return list_price * (1.0 - self.batch_discount_fraction)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class GpuRental:
    """What renting one GPU costs per hour, as a low-high range."""

    name: str
    hardware: str
    low_usd_per_hour: float
    high_usd_per_hour: float
    date: str = ""
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_cloud_prices(source: str | Path | pd.DataFrame | None = None) -> pd.DataFrame:
    """The hosted-API price table, checked; None loads the bundled `data/cloud_prices.csv`."""
    return read_table(source, "cloud_prices.csv", PRICE_COLUMNS)


def load_gpu_rental(source: str | Path | pd.DataFrame | None = None) -> pd.DataFrame:
    """The GPU rental table, checked; None loads the bundled `data/gpu_rental.csv`."""
    table = read_table(source, "gpu_rental.csv", RENTAL_COLUMNS)
    for i, row in table.iterrows():
        if row["low_usd_per_hour"] > row["high_usd_per_hour"]:
            raise row_error(table, i, "high_usd_per_hour", "a number >= low_usd_per_hour")
    return table


def cloud_offer(
    name: str, table: str | Path | pd.DataFrame | None = None, batch_discount_fraction: float = 0.0
) -> CloudOffer:
    """The named offer (e.g. 'gemma-4-26b-a4b'); unknown names list the known ones."""
    prices = load_cloud_prices(table)
    matches = prices[prices["name"] == name]
    if matches.empty:
        raise InvalidSettingError("cloud", name, "one of " + ", ".join(prices["name"]))
    row = matches.iloc[0]
    prices = float(row["input_usd_per_m"]), float(row["output_usd_per_m"])
    return CloudOffer(name, *prices, batch_discount_fraction, row["date"], row["source"])


def gpu_rental(name: str, table: str | Path | pd.DataFrame | None = None) -> GpuRental:
    """The named rental range (e.g. 'rtx-5090'); unknown names list the known ones."""
    rentals = load_gpu_rental(table)
    matches = rentals[rentals["name"] == name]
    if matches.empty:
        raise InvalidSettingError("rental", name, "one of " + ", ".join(rentals["name"]))
    row = matches.iloc[0]
    low, high = float(row["low_usd_per_hour"]), float(row["high_usd_per_hour"])
    return GpuRental(name, row["hardware"], low, high, row["date"], row["source"])


def rental_usd_per_m_tokens(usd_per_hour: float, tokens_per_s: float) -> float:
    """Cost of a million tokens on a rented GPU that is busy for every hour paid for."""
    check_float("usd_per_hour", usd_per_hour, 0.0, None, low_inclusive=False)
    check_float("tokens_per_s", tokens_per_s, 0.0, None, low_inclusive=False)
    return usd_per_hour / (tokens_per_s * 3600.0) * 1e6
