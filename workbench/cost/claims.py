"""Published speed claims for DiffusionGemma 26B-A4B, kept as data so plots can set them beside measurements.

`data/speed_claims.csv` holds one row per claim: the hardware profile it refers to, the claimed
generated tokens per second at batch 1, who said it, when and where. These are vendor and
third-party figures, never measurements: every plot or table that uses them labels them so.
`speed_claim(hardware)` picks the headline claim for a device (the first row for it). Left out:
claims for other models and for batched serving.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from workbench.errors import InvalidSettingError
from workbench.tables import Column, read_table

CLAIM_COLUMNS = (
    Column("name", "slug"),
    Column("hardware", "slug"),
    Column("description", "text"),
    Column("tokens_per_s"),
    Column("date", "date"),
    Column("source", "url"),
    Column("notes", "text", required=False),
)


def load_speed_claims(source: str | Path | pd.DataFrame | None = None) -> pd.DataFrame:
    """The claims table, checked; None loads the bundled `data/speed_claims.csv`."""
    return read_table(source, "speed_claims.csv", CLAIM_COLUMNS)


def speed_claim(hardware: str, source: str | Path | pd.DataFrame | None = None) -> pd.Series:
    """The first (headline) claim for `hardware`, e.g. 'rtx-5090'."""
    claims = load_speed_claims(source)
    rows = claims[claims["hardware"] == hardware]
    if rows.empty:
        raise InvalidSettingError(
            "hardware", hardware, "a device with a published claim: " + ", ".join(dict.fromkeys(claims["hardware"]))
        )
    return rows.iloc[0]
