"""GPU energy over a window of work, and the GPU's power when idle, through NVML.

Preferred: the board's energy counter (`nvmlDeviceGetTotalEnergyConsumption`, millijoules since the
driver loaded, Volta and newer) read at both ends of the window. Where the counter is not supported,
a background thread samples power (the instantaneous-power field, else `nvmlDeviceGetPowerUsage`,
which is a 1 s average on Ampere and newer) and the samples are integrated with the trapezoid rule.
The reading names the method used.

Left out: synchronising the device (the caller does it, see `energy.EnergyMeter`), and anything
outside the GPU board: the figures are GPU-rail energy, not what the wall socket sees.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

import numpy as np
import torch

from workbench.checks import check_float
from workbench.engine.clock import synchronize
from workbench.measure.measurement import IdlePower
from workbench.measure.telemetry.nvml import find_gpu, nvml
from workbench.measure.telemetry.reasons import TelemetryUnavailable, TelemetryWarning, describe

SAMPLE_INTERVAL_S = 0.05  # NVML's power value refreshes every ~20-100 ms; faster polling repeats it


def integrate_power(times_s: Sequence[float], watts: Sequence[float]) -> float:
    """Joules under a sampled power curve (seconds, watts), by the trapezoid rule."""
    if len(times_s) != len(watts):
        raise ValueError(f"{len(times_s)} times but {len(watts)} power samples")
    if len(times_s) < 2:
        raise ValueError("integrating power needs at least two samples")
    if any(later < earlier for earlier, later in zip(times_s, times_s[1:])):
        raise ValueError("sample times must not go backwards")
    return float(np.trapezoid(watts, times_s))


def power_reader(lib: ModuleType, board: Any) -> tuple[Callable[[], float], str]:
    """A function returning the board's power in watts, and a note saying which NVML value it reads."""

    def instant() -> float:
        value = lib.nvmlDeviceGetFieldValues(board, [lib.NVML_FI_DEV_POWER_INSTANT])[0]
        if value.nvmlReturn != lib.NVML_SUCCESS:
            raise lib.NVMLError(value.nvmlReturn)
        return value.value.uiVal / 1000  # milliwatts

    def averaged() -> float:
        return lib.nvmlDeviceGetPowerUsage(board) / 1000  # milliwatts

    try:
        instant()
        return instant, "instantaneous power field"
    except lib.NVMLError:
        averaged()  # raises when the board reports no power at all
        return averaged, "nvmlDeviceGetPowerUsage (a 1 s average on Ampere and newer, so it lags)"


class PowerSampler:
    """Samples power on a daemon thread between `start()` and `stop()`; `stop()` returns the samples."""

    def __init__(self, read_watts: Callable[[], float], interval_s: float = SAMPLE_INTERVAL_S) -> None:
        self.read_watts = read_watts
        self.interval_s = interval_s
        self.times_s: list[float] = []
        self.watts: list[float] = []
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="workbench-power-sampler", daemon=True)

    def start(self) -> None:
        self._sample()  # a sample exactly at the start, so the integral covers the whole window
        self._thread.start()

    def stop(self) -> tuple[list[float], list[float]]:
        self._stop.set()
        self._thread.join()
        if self.error is None:
            self._sample()  # and one exactly at the end
        return self.times_s, self.watts

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self._sample()
            except Exception as error:  # a lost GPU mid-window: keep the reason, stop sampling
                self.error = describe(error)
                return

    def _sample(self) -> None:
        watts = self.read_watts()
        self.times_s.append(time.perf_counter())
        self.watts.append(watts)


@dataclass(frozen=True)
class GpuEnergyReading:
    energy_j: float | None
    missing: str | None  # why energy_j is None
    method: Literal["counter", "power-sampling"] | None
    note: str | None  # caveats of the method used (MIG sharing, fallback reasons)
    span_s: float | None  # time between the first and last NVML read


def live_power_reader(device: torch.device | str) -> tuple[Callable[[], float] | None, str | None]:
    """A function reading the GPU's watts now (for live displays), or None and the reason there is none."""
    try:
        return power_reader(nvml(), find_gpu(device).board)[0], None
    except TelemetryUnavailable as error:
        return None, error.reason
    except Exception as error:  # a driver without power readings, a lost GPU
        return None, describe(error)


class GpuEnergyWindow:
    """`start()` / `stop()` around some work. Neither raises: failures become `missing` reasons."""

    def __init__(self, device: torch.device | str, sample_interval_s: float = SAMPLE_INTERVAL_S) -> None:
        self.device = torch.device(device)
        self.sample_interval_s = sample_interval_s
        self._lib: ModuleType | None = None
        self._board: Any = None
        self._start_mj: int | None = None
        self._start_s = 0.0
        self._sampler: PowerSampler | None = None
        self._note: str | None = None
        self._missing: str | None = "window not started"

    def start(self) -> None:
        self._missing, self._note, self._sampler, self._start_mj = None, None, None, None
        if self.device.type != "cuda":
            self._missing = f"run on {self.device.type}: GPU energy not applicable"
            return
        try:
            target = find_gpu(self.device)
            self._lib, self._board = nvml(), target.board
            self._note = "MIG slice: energy is the whole GPU's" if target.mig else None
        except TelemetryUnavailable as error:
            self._missing = error.reason
            return
        except Exception as error:
            self._missing = f"could not find the GPU in NVML: {describe(error)}"
            return
        try:
            self._start_mj = self._lib.nvmlDeviceGetTotalEnergyConsumption(self._board)
            self._start_s = time.perf_counter()
            return
        except Exception as error:
            counter_failure = describe(error)
        try:
            read_watts, source = power_reader(self._lib, self._board)
            self._sampler = PowerSampler(read_watts, self.sample_interval_s)
            self._sampler.start()
        except Exception as error:
            self._missing = f"no GPU energy: energy counter {counter_failure}; power {describe(error)}"
            return
        every = f"every {self.sample_interval_s * 1000:.0f} ms"
        fallback = f"energy counter unavailable ({counter_failure}); integrated {source} sampled {every}"
        self._note = "; ".join(filter(None, [self._note, fallback]))

    def stop(self) -> GpuEnergyReading:
        if self._missing is not None:
            return GpuEnergyReading(None, self._missing, None, None, None)
        if self._sampler is not None:
            return self._stop_sampling(self._sampler)
        try:
            end_mj = self._lib.nvmlDeviceGetTotalEnergyConsumption(self._board)  # type: ignore[union-attr]
        except Exception as error:
            missing = f"energy counter failed at the end: {describe(error)}"
            return GpuEnergyReading(None, missing, None, None, None)
        span_s = time.perf_counter() - self._start_s
        if end_mj < self._start_mj:
            return GpuEnergyReading(None, "energy counter went backwards (driver reloaded?)", None, None, None)
        return GpuEnergyReading((end_mj - self._start_mj) / 1000, None, "counter", self._note, span_s)

    def _stop_sampling(self, sampler: PowerSampler) -> GpuEnergyReading:
        try:
            times_s, watts = sampler.stop()
        except Exception as error:  # the final sample, read on this thread
            return GpuEnergyReading(None, f"power sampling failed: {describe(error)}", None, None, None)
        if sampler.error is not None:  # a sample on the sampling thread
            return GpuEnergyReading(None, f"power sampling failed: {sampler.error}", None, None, None)
        note = f"{self._note}; {len(watts)} samples"
        energy_j = integrate_power(times_s, watts)
        return GpuEnergyReading(energy_j, None, "power-sampling", note, times_s[-1] - times_s[0])


def measure_idle_power(device: torch.device | str, seconds: float = 3.0) -> IdlePower | None:
    """Average GPU power over `seconds` of doing nothing, for "marginal" energy figures.

    Returns an `IdlePower` (so results and the cost model can call it measured), or `None` (and
    warns with the reason) where GPU power cannot be measured, e.g. on a CPU or without an NVIDIA
    driver. Other processes using the GPU meanwhile are counted as idle.
    """
    check_float("seconds", seconds, 0.0, 600.0, low_inclusive=False)  # ten minutes is already a long idle window
    try:
        synchronize(device)  # work still queued from earlier cells is not idle
    except Exception:
        pass  # no usable CUDA here: the window below then says why, in NVML's terms
    window = GpuEnergyWindow(device)
    window.start()
    time.sleep(seconds)
    reading = window.stop()
    if reading.energy_j is None or not reading.span_s:
        warnings.warn(f"idle power not measured: {reading.missing}", TelemetryWarning, stacklevel=2)
        return None
    return IdlePower(watts=reading.energy_j / reading.span_s, seconds=reading.span_s)
