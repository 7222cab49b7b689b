"""The runs a results store holds for one machine: which to price, and what they say together.

`newest_run(store, profile, kind)` picks the newest run measured on the device of a hardware profile
(any local device when no profile is given) and returns it with a sentence saying which run it is,
when and how it was measured; with no such run it refuses, naming what the store does hold and the
three ways forward (measure with `workbench compare`, type `--tokens-per-s`, or price a dated vendor
claim). `machine_runs(store, profile)` lists that machine's runs; `run_summary(runs)` groups them by model and kind: warm medians
with their spread, cold start (load time) and energy per token, for the report. Left out: runs
filtered by prompt or settings (every run of a model counts), and outlier rejection.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.errors import InvalidSettingError
from workbench.hardware import HardwareProfile
from workbench.measure.measurement import Measurement, flat_record
from workbench.measure.store import ResultsStore, default_store_path


@dataclass(frozen=True)
class StoredRun:
    """One run from the store, as a `Measurement` with where it came from."""

    run_uuid: str
    timestamp: str
    model: str
    kind: str
    device: str
    measurement: Measurement
    how: str  # e.g. "workbench compare on NVIDIA GeForce RTX 5090"

    def describe(self) -> str:
        when = self.timestamp[:16].replace("T", " ")
        return f"run {self.run_uuid[:8]} ({self.model}, {self.kind}), measured {when} UTC by {self.how}"

    def to_dict(self) -> dict[str, Any]:
        keys = ("run_uuid", "timestamp", "model", "kind", "device", "how")
        return {key: getattr(self, key) for key in keys} | {"tokens_per_s": self.measurement.tokens_per_s}


def machine_runs(store: str | Path | None, profile: HardwareProfile | None) -> pd.DataFrame:
    """The store's runs measured on this machine (the profile's device, or any local device), oldest first."""
    path = Path(store) if store is not None else default_store_path()
    if not path.is_file():
        raise InvalidSettingError("--store", str(path), "an existing results store: run `workbench compare` first")
    rows = ResultsStore(path).to_dataframe()
    # A cold run (the first after loading, which `workbench compare` tags) is a start-up figure, not the
    # machine's speed: it never stands for the box in a cost.
    warm = [_tags(tags).get("phase") != "cold" for tags in rows["tags"]] if "tags" in rows else [True] * len(rows)
    local = rows[(rows["device"].fillna("") != "served") & pd.Series(warm, index=rows.index, dtype=bool)]
    if profile is None:
        return local
    wanted = _simple(profile.device)
    names = local["device_name"].fillna("").where(local["device_name"].notna(), local["cuda_device"].fillna(""))
    return local[[wanted in _simple(str(name)) for name in names]]


def newest_run(
    store: str | Path | None,
    profile: HardwareProfile | None,
    kind: str | None = None,
    claims: pd.DataFrame | None = None,
) -> StoredRun:
    """The newest run of `kind` (any kind if None) on the machine; refuses with the ways forward."""
    path = Path(store) if store is not None else default_store_path()
    held = machine_runs(path, None) if path.is_file() else pd.DataFrame()
    runs = machine_runs(path, profile) if path.is_file() else held
    if kind is not None and not runs.empty:
        runs = runs[runs["kind"] == kind]
    if runs.empty:
        what = f"measured on a {profile.device}" if profile is not None else "measured on this machine"
        if kind is not None:
            what += f" of kind {kind}"
        there = ", ".join(f"{n} on {d}" for d, n in devices(held).items()) or "none"
        ways = 'measure one now with `workbench compare "PROMPT"` on that machine, give --tokens-per-s'
        if claims is not None and profile is not None:
            own = claims[claims["hardware"] == profile.name]
            listed = ", ".join(f"{r['name']} ({r['tokens_per_s']:g} tok/s, {r['date']})" for _, r in own.iterrows())
            ways += (
                f", or price a vendor claim with --speed-claim NAME ({listed or 'none published for ' + profile.name})"
            )
        raise InvalidSettingError(
            "--tokens-per-s", None, f"a speed: the store {path} holds no run {what} (its runs: {there}); {ways}"
        )
    row = runs.iloc[-1].to_dict()
    return _stored(row)


def run_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per model and kind: how many runs, median and spread of tok/s, cold load, energy."""
    rows = []
    for (model, kind), group in runs.groupby(["model", "kind"], sort=False):
        speed = group["tokens_per_second"].dropna()
        energy = group["joules_per_token"].dropna()
        missing = group["joules_per_token_missing"].dropna()
        rows.append(
            dict(
                model=model,
                kind=kind,
                runs=len(group),
                tokens_per_s_median=float(speed.median()) if not speed.empty else None,
                tokens_per_s_low=float(speed.min()) if len(speed) > 1 else None,
                tokens_per_s_high=float(speed.max()) if len(speed) > 1 else None,
                load_s_median=float(group["load_s"].dropna().median()) if group["load_s"].notna().any() else None,
                joules_per_token_median=float(energy.median()) if not energy.empty else None,
                energy_missing=None if not energy.empty else (str(missing.iloc[-1]) if not missing.empty else None),
                newest=str(group["timestamp"].iloc[-1]),
            )
        )
    return pd.DataFrame(rows)


def _tags(text: Any) -> dict[str, Any]:
    return json.loads(text or "{}") if isinstance(text, str) else {}


def _stored(row: dict[str, Any]) -> StoredRun:
    tags = _tags(row.get("tags"))
    device = str(row.get("device") or "")
    source = tags.get("source")
    how = (f"workbench {source}" if source else "a notebook or script") + f" on {row.get('device_name') or device}"
    return StoredRun(
        run_uuid=str(row["run_uuid"]),
        timestamp=str(row["timestamp"]),
        model=str(row["model"]),
        kind=str(row["kind"]),
        device=device,
        measurement=Measurement.from_record(flat_record(row)),
        how=how,
    )


def devices(runs: pd.DataFrame) -> dict[str, int]:
    """How many runs each device holds (its NVML name where recorded)."""
    if runs.empty:
        return {}
    names = runs["device_name"].where(runs["device_name"].notna(), runs["device"])
    return {str(k): int(v) for k, v in names.fillna("unknown").value_counts().items()}


def _simple(text: str) -> str:
    return "".join(character for character in text.lower() if character.isalnum())
