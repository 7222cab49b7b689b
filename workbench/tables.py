"""Read and check the user-editable CSV tables in `workbench/data/`.

Each table has a fixed set of columns, described by `Column`. `read_table` accepts a path, a pandas
DataFrame (a notebook's edited copy) or None (the bundled file) and returns a DataFrame in which
number columns hold floats (NaN where a cell is empty) and text columns hold strings. Anything wrong
raises `InvalidSettingError` naming the table, the row (1-based, header not counted), the row's
`name` and the field, so an edited file points straight at the bad cell. A number must be written
plainly ('.' for decimals, ',' only between groups of three digits) and lie below the plausible
maximum of its unit, so a locale-formatted or mistyped figure is refused instead of priced.

Rules every table follows: a number column's name ends in its unit (`_usd`, `_w`, `_gb_s`, ...);
every row has a `date` (YYYY, YYYY-MM, YYYY-MM-DD, YYYY-H1/H2 or YYYY-Q1..Q4) and a `source` of one or
more http(s) URLs separated by spaces; `name` is a unique lower-case slug. Checks that span several
columns or rows (a tariff's hours covering the day) belong to the module that owns the table.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.errors import InvalidSettingError

DATA_DIR = Path(__file__).parent / "data"

# Unit endings a number column's name may have (or be: "usd_per_kwh" alone is a unit).
UNIT_SUFFIXES = (
    "_usd_per_kwh",
    "_eur_per_kwh",
    "_usd_per_eur",
    "_usd_per_hour",
    "_usd_per_m",
    "_gb_s",
    "_per_s",
    "_tflops",
    "_fraction",
    "_hour",
    "_usd",
    "_eur",
    "_gb",
    "_w",
)
# The largest plausible value of each unit: a cell above it is a typing or locale slip (0,35 read as
# 35, a price in cents), refused rather than priced. Checked in this order: longest ending first.
PLAUSIBLE_MAXIMUM = {
    "_usd_per_kwh": 10.0,
    "_eur_per_kwh": 10.0,
    "_usd_per_eur": 5.0,
    "_usd_per_hour": 1_000.0,
    "_usd_per_m": 1_000.0,
    "_gb_s": 100_000.0,
    "_per_s": 10_000_000.0,
    "_tflops": 1_000_000.0,
    "_fraction": 1.0,
    "_hour": 24.0,
    "_usd": 10_000_000.0,
    "_eur": 10_000_000.0,
    "_gb": 100_000.0,
    "_w": 100_000.0,
}
# A number as written in these files: '.' is the decimal point; ',' only groups thousands.
_NUMBER = re.compile(r"^[+-]?([1-9]\d{0,2}(,\d{3})+|\d+)(\.\d+)?([eE][+-]?\d+)?$")
# Columns that hold words, not quantities, and so need no unit.
TEXT_COLUMNS = (
    "name", "device", "hardware", "provider", "description", "notes", "date", "source", "fx_date", "fx_source",
)  # fmt: skip

_DATE = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?|-H[12]|-Q[1-4])?$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9.\-]*$")
_URL = re.compile(r"^https?://\S+$")


@dataclass(frozen=True)
class Column:
    """One column of a table: its name, what a cell must hold, and whether it may be empty."""

    name: str
    kind: str = "number"  # number | text | slug | date | url
    required: bool = True  # every row needs a value
    minimum: float = 0.0  # numbers must be above this (or equal, when inclusive)
    inclusive: bool = False
    maximum: float | None = None

    def allowed(self) -> str:
        if self.kind == "number":
            low = f">= {self.minimum:g}" if self.inclusive else f"> {self.minimum:g}"
            high = f" and <= {self.maximum:g}" if self.maximum is not None else ""
            text = f"a number {low}{high}"
        else:
            text = {
                "text": "some text",
                "slug": "a lower-case name of letters, digits, '.' and '-'",
                "date": "a date like 2026, 2026-01, 2026-01-31, 2025-H1 or 2026-Q2",
                "url": "one or more http(s):// URLs separated by spaces",
            }[self.kind]
        return text if self.required else text + ", or empty"


def read_table(
    source: str | Path | pd.DataFrame | None, filename: str, columns: tuple[Column, ...], unique_names: bool = True
) -> pd.DataFrame:
    """Load `source` (None = the bundled `filename`) and check it against `columns`.

    `unique_names=False` is for tables where one name spans several rows (time-of-use periods).
    """
    if source is None:
        source = DATA_DIR / filename
    if isinstance(source, pd.DataFrame):
        label, raw = f"{filename} (DataFrame)", source.copy()
    else:
        label = str(source)
        try:
            raw = pd.read_csv(source, dtype=str, keep_default_na=False, skipinitialspace=True)
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
            raise InvalidSettingError(label, "unreadable", f"a readable CSV file ({error})") from None
    raw.columns = [str(c).strip() for c in raw.columns]
    _check_columns(label, list(raw.columns), columns)

    out: dict[str, list[Any]] = {c: [] for c in raw.columns}
    names_seen: dict[str, int] = {}
    for index, (_, row) in enumerate(raw.iterrows(), start=1):
        name = _text(row.get("name"))
        where = f"{label} row {index} ({name or 'no name'})"
        for column in raw.columns:
            spec = next((c for c in columns if c.name == column), None)
            out[column].append(_cell(where, column, row[column], spec))
        if unique_names and name in names_seen:
            raise InvalidSettingError(f"{where} field name", name, f"a name not already used in row {names_seen[name]}")
        names_seen[name] = index
    table = pd.DataFrame(out, columns=list(raw.columns))
    table.attrs["label"] = label  # for row_error()
    return table


def row_error(table: pd.DataFrame, index: int, field: str, allowed: str) -> InvalidSettingError:
    """An error for a check that spans columns, worded like the per-cell ones (`index` 0-based)."""
    row = table.iloc[index]
    value = row[field] if field in table.columns else None
    where = f"{table.attrs.get('label', 'table')} row {index + 1} ({row['name']}) field {field}"
    return InvalidSettingError(where, value, allowed)


def optional(value: Any) -> float | None:
    """A table number as float, or None for an empty cell (NaN)."""
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _check_columns(label: str, present: list[str], columns: tuple[Column, ...]) -> None:
    for column in present:
        # "usd_per_kwh" is a unit on its own; "idle_power_w" carries one at its end.
        if column not in TEXT_COLUMNS and not ("_" + column).endswith(UNIT_SUFFIXES):
            raise InvalidSettingError(
                f"{label} column",
                column,
                "a column name ending in a unit ("
                + ", ".join(UNIT_SUFFIXES)
                + ") or one of the text columns "
                + ", ".join(TEXT_COLUMNS),
            )
    missing = [c.name for c in columns if c.name not in present]
    if missing:
        raise InvalidSettingError(f"{label} columns", missing, "every column of " + ", ".join(c.name for c in columns))


def _cell(where: str, column: str, value: Any, spec: Column | None) -> Any:
    # Extra columns the user added are kept; those with a unit must still hold numbers.
    if spec is None:
        spec = Column(column, kind="text" if column in TEXT_COLUMNS else "number", required=False, inclusive=True)
    text = _text(value)
    if text == "":
        if spec.required:
            raise InvalidSettingError(f"{where} field {column}", value, spec.allowed())
        return math.nan if spec.kind == "number" else ""
    bad = InvalidSettingError(f"{where} field {column}", value, spec.allowed())
    if spec.kind == "number":
        maximum = spec.maximum if spec.maximum is not None else plausible_maximum(column)
        if maximum is not None and spec.maximum is None:
            spec = Column(spec.name, spec.kind, spec.required, spec.minimum, spec.inclusive, maximum)
        bad = InvalidSettingError(f"{where} field {column}", value, spec.allowed() + _NUMBER_FORM)
        if not _NUMBER.match(text):
            raise bad
        number = float(text.replace(",", ""))
        too_low = number < spec.minimum or (not spec.inclusive and number == spec.minimum)
        if not math.isfinite(number) or too_low or (maximum is not None and number > maximum):
            raise bad
        return number
    patterns = {"slug": _SLUG, "date": _DATE}
    if spec.kind in patterns and not patterns[spec.kind].match(text):
        raise bad
    if spec.kind == "url" and not all(_URL.match(part) for part in text.split()):
        raise bad
    return text


_NUMBER_FORM = " (written with '.' as the decimal point, e.g. 0.35 not 0,35; ',' only between thousands)"


def plausible_maximum(column: str) -> float | None:
    """The largest believable value for a column, from the unit its name ends in."""
    ending = next((unit for unit in PLAUSIBLE_MAXIMUM if ("_" + column).endswith(unit)), None)
    return PLAUSIBLE_MAXIMUM[ending] if ending else None


def _text(value: Any) -> str:
    # A DataFrame from a notebook may hold NaN or None where a CSV holds an empty string.
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return repr(value)  # never a number: True would otherwise read as 1.0
    return str(value).strip()
