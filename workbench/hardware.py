"""Hardware profiles: price, memory, bandwidth, tensor throughput and power of one device.

Profiles come from `data/hardware.csv` (vendor figures, each row dated and sourced); a notebook can
pass its own path or an edited DataFrame. Empty cells mean "not published" and stay None here: no
figure is filled in from a guess. Left out: multi-GPU boxes, clocks and memory-capacity checks
(whether a model fits is not this module's question).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.errors import InvalidSettingError
from workbench.tables import Column, optional, read_table

COLUMNS = (
    Column("name", "slug"),
    Column("device", "text"),
    Column("price_usd", required=False),
    Column("memory_gb"),
    Column("bandwidth_gb_s"),
    Column("bf16_tflops", required=False),
    Column("fp8_tflops", required=False),
    Column("fp4_tflops", required=False),
    Column("board_power_w", required=False),
    Column("idle_power_w", required=False),
    Column("date", "date"),
    Column("source", "url"),
    Column("notes", "text", required=False),
)


@dataclass(frozen=True)
class HardwareProfile:
    """One device's published figures; None where the vendor publishes none."""

    name: str
    device: str
    price_usd: float | None
    memory_gb: float
    bandwidth_gb_s: float
    bf16_tflops: float | None
    fp8_tflops: float | None
    fp4_tflops: float | None
    board_power_w: float | None
    idle_power_w: float | None
    date: str
    source: str
    notes: str = ""

    def tflops(self, precision: str) -> float | None:
        """Dense tensor TFLOPS at a compute precision: 'bf16', 'fp8' or 'fp4'."""
        return {"bf16": self.bf16_tflops, "fp8": self.fp8_tflops, "fp4": self.fp4_tflops}[precision]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_hardware(source: str | Path | pd.DataFrame | None = None) -> pd.DataFrame:
    """The hardware table, checked; None loads the bundled `data/hardware.csv`."""
    return read_table(source, "hardware.csv", COLUMNS)


def hardware_profile(name: str, table: str | Path | pd.DataFrame | None = None) -> HardwareProfile:
    """The profile called `name` (e.g. 'rtx-5090'); unknown names list the known ones."""
    hardware = load_hardware(table)
    matches = hardware[hardware["name"] == name]
    if matches.empty:
        raise InvalidSettingError("hardware", name, "one of " + ", ".join(hardware["name"]))
    row = matches.iloc[0]
    numbers: dict[str, Any] = {column.name: optional(row[column.name]) for column in COLUMNS if column.kind == "number"}
    texts: dict[str, Any] = {column.name: row[column.name] for column in COLUMNS if column.kind != "number"}
    return HardwareProfile(**texts, **numbers)
