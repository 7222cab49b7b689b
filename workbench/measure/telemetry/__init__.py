"""Honest measurement of generation runs: time, energy, hardware, and repeated benchmarks.

    from workbench.measure.telemetry import EnergyMeter, measured_generate, measure_idle_power, benchmark

Modules, one concept each (timing itself is `workbench.engine.clock`: the engine times every run),
`nvml` (finding the GPU in NVML),
`gpu` (what the GPU is and its state), `power` (GPU energy over a window, idle power), `cpu` (RAPL
package energy), `energy` (the meter that attaches all of it to a result), `repeat` (warm-up and
repeats with median and spread), `environment` (software and hardware, for the results store),
`reasons` (how "not measured" is said).

Names are loaded on first use: importing the meter must not pay for pandas or NVML.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "EnergyMeter": "energy",
    "measured_generate": "energy",
    "measure_idle_power": "power",
    "integrate_power": "power",
    "device_info": "gpu",
    "benchmark": "repeat",
    "Benchmark": "repeat",
    "TelemetryWarning": "reasons",
    "TelemetryUnavailable": "reasons",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'workbench.measure.telemetry' has no attribute {name!r}")
    return getattr(importlib.import_module(f"workbench.measure.telemetry.{_HOMES[name]}"), name)
