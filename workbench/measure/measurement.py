"""What one run measured, as one typed record that every reader uses.

The energy meter writes its figures into `GenerationResult.telemetry` (a plain dict, so a result
serialises and stores as it is). Everything that *reads* those figures (the comparison table, the
sweep, the race lanes, the cost model and its command line) goes through `Measurement` instead of
picking keys: a renamed key then fails here, once, instead of silently turning a measured break-even
into a projected one. Constructors cover every place a run comes from: a result, a results-store
row or `compare --json` object (`from_record`), and a benchmark of repeated runs (`from_benchmark`).

The machine's conditions over the run (`workbench.measure.conditions.Conditions`: other processes'
CPU use, threads, clocks, the `busy` flag) come along typed, so a reader asks `measured.busy`
instead of digging in the telemetry. Idle power keeps its basis: "measured" only when it came from `measure_idle_power()` (an
`IdlePower`), "given" when the caller typed a number. Left out: the per-step trace and the full
device state, which stay in `telemetry` for the store.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from workbench.errors import InvalidSettingError
from workbench.measure.conditions import Conditions

IdleBasis = Literal["measured", "given"]


@dataclass(frozen=True)
class IdlePower:
    """An idle-power reading taken by `measure_idle_power()` (so it may be labelled "measured")."""

    watts: float
    seconds: float


@dataclass(frozen=True)
class Measurement:
    device: str  # "cpu", "cuda:0", ... or "served"
    device_name: str | None  # the GPU's name where NVML gave it
    tokens_per_s: float | None
    joules_per_token: float | None
    joules_per_token_missing: str | None  # why there is no energy figure
    avg_power_w: float | None
    idle_power_w: float | None
    idle_power_basis: IdleBasis | None
    short_window_warning: str | None = None
    conditions: Conditions | None = None  # None: a run measured before conditions were recorded

    @property
    def busy(self) -> bool | None:
        """True when other processes were busy during the run (its speed is suspect); None = unknown."""
        return self.conditions.busy if self.conditions is not None else None

    @classmethod
    def from_result(cls, result: Any) -> Measurement:
        """From a `GenerationResult` (its rate and the telemetry the meter attached)."""
        return cls._build(result.telemetry, result.tokens_per_second, str(result.device))

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Measurement:
        """From a store row, one object of `compare --json`, or a hand-written flat file."""
        flat = flat_record(record)
        return cls._build(flat, _number(flat, "tokens_per_second"), str(flat.get("device") or ""))

    @classmethod
    def from_benchmark(cls, benchmark: Any) -> Measurement:
        """From `workbench.measure.telemetry.benchmark(...)` over measured runs: the medians of its repeats."""
        results = [result for result in benchmark.results if hasattr(result, "telemetry")]
        if not results:
            raise InvalidSettingError("benchmark", benchmark, "a benchmark whose repeats returned GenerationResults")
        last = cls.from_result(results[-1])  # device, name and idle power are the same for every repeat
        summary = benchmark.summary

        def median(figure: str) -> float | None:
            return float(summary.loc[figure, "median"]) if figure in summary.index else None

        energy = median("joules_per_token")
        # The busiest repeat speaks for the benchmark: one disturbed repeat is enough to doubt the set.
        conditions = [c for c in (cls.from_result(r).conditions for r in results) if c is not None]
        return cls(
            device=last.device,
            device_name=last.device_name,
            tokens_per_s=median("tokens_per_second"),
            joules_per_token=energy,
            joules_per_token_missing=None if energy is not None else last.joules_per_token_missing,
            avg_power_w=median("avg_power_w"),
            idle_power_w=last.idle_power_w,
            idle_power_basis=last.idle_power_basis,
            conditions=max(conditions, key=lambda c: c.other_core_share or 0.0) if conditions else None,
        )

    @classmethod
    def _build(cls, flat: Mapping[str, Any], tokens_per_s: float | None, device: str) -> Measurement:
        idle = _number(flat, "idle_power_w")
        basis = flat.get("idle_power_basis")
        return cls(
            device=device,
            device_name=flat.get("device_name") or flat.get("cuda_device") or None,
            tokens_per_s=tokens_per_s,
            joules_per_token=_number(flat, "joules_per_token"),
            joules_per_token_missing=flat.get("joules_per_token_missing") or None,
            avg_power_w=_number(flat, "avg_power_w"),
            idle_power_w=idle,
            # A figure without a recorded basis was typed in somewhere: never call it measured.
            idle_power_basis=None if idle is None else ("measured" if basis == "measured" else "given"),
            short_window_warning=flat.get("short_window_warning") or None,
            conditions=_conditions(flat.get("conditions")),
        )

    @property
    def served(self) -> bool:
        """Measured on a client of a server: the server's device, not this box's."""
        return self.device == "served"

    def energy_label(self) -> str:
        """'0.123 J/token' when measured, else 'not measured: <reason>' (never a zero or a guess)."""
        if self.joules_per_token is not None:
            return f"{self.joules_per_token:.3g} J/token"
        return f"not measured: {self.joules_per_token_missing or 'no energy meter was attached'}"


def flat_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """A run's figures side by side, wherever it came from: `compare --json` nests the energy under
    "telemetry", the store keeps that as JSON text, a hand-written file has it at the top."""
    if not hasattr(record, "get"):
        raise InvalidSettingError("run", type(record).__name__, "a dict or DataFrame row of a run")
    telemetry = record.get("telemetry") or {}
    if isinstance(telemetry, str):
        try:
            telemetry = json.loads(telemetry)
        except ValueError:
            raise InvalidSettingError("run telemetry", telemetry[:60], "JSON text as the store writes it") from None
    if not isinstance(telemetry, Mapping):
        raise InvalidSettingError("run telemetry", telemetry, "an object of energy figures")
    return {**telemetry, **{key: value for key, value in dict(record).items() if _present(value)}}


def idle_power_fields(idle: IdlePower | float | None) -> dict[str, Any]:
    """The telemetry keys the meter writes for an idle baseline, with its basis."""
    if idle is None:
        return {"idle_power_w": None, "idle_power_basis": None}
    if isinstance(idle, IdlePower):
        return {"idle_power_w": idle.watts, "idle_power_basis": "measured"}
    if isinstance(idle, bool) or not isinstance(idle, numbers.Real) or not math.isfinite(idle) or idle < 0:
        raise InvalidSettingError("idle_power_w", idle, "watts >= 0, measure_idle_power(device), or None")
    return {"idle_power_w": float(idle), "idle_power_basis": "given"}


def _conditions(value: Any) -> Conditions | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):  # a CSV round trip keeps nested objects as JSON text
        value = json.loads(value)
    if not isinstance(value, Mapping):
        raise InvalidSettingError("run conditions", value, "an object as `Conditions.to_dict()` writes it")
    return Conditions.from_dict(value)


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _number(flat: Mapping[str, Any], key: str) -> float | None:
    # A DataFrame row holds NaN where a dict holds None; both mean "not measured".
    value = flat.get(key)
    if not _present(value):
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidSettingError(f"run {key}", value, "a number (or null when not measured)")
    return float(value)
