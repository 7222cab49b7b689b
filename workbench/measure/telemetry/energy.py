"""Energy and hardware figures for one generation, attached to its result.

    with EnergyMeter(handle.device, idle_power_w=idle) as meter:
        result = handle.generate(prompt)
    meter.attach(result)          # or: result = measured_generate(handle, prompt)

The meter synchronises the device at both ends of the window, reads GPU energy (`power`), CPU
package energy (`cpu`) and the GPU's identity and state (`gpu`), and writes flat keys into
`result.telemetry`. Every figure that could not be taken is `None` with a `*_missing` reason beside it.
The meter's own reading is typed (`EnergyReading`, with the machine's `Conditions` over the same
window: other processes' CPU use, threads, clocks, the `busy` flag); `attach` writes it into the
telemetry dict, from which readers get it back typed through `workbench.measure.measurement.Measurement`.
Telemetry never breaks a generation: any failure inside the meter becomes such a reason, while an
error raised by the generation itself passes through untouched.

"All-in" energy is everything the GPU drew during the window; "marginal" subtracts the idle power
(measured separately with `measure_idle_power`) times the window length, and can come out slightly
negative when a run costs less than the noise in the idle figure. Left out: wall-socket energy and a
CPU joules-per-token figure (the RAPL counter covers every process on the package).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import torch

from workbench.engine.clock import synchronize
from workbench.engine.generator import Generator
from workbench.engine.result import GenerationResult
from workbench.measure.conditions import Conditions, ConditionsWindow
from workbench.measure.measurement import IdlePower, idle_power_fields
from workbench.measure.telemetry.cpu import CpuEnergyWindow
from workbench.measure.telemetry.gpu import INFO_KEYS, device_info
from workbench.measure.telemetry.power import GpuEnergyWindow
from workbench.measure.telemetry.reasons import TelemetryWarning, describe

SHORT_WINDOW_S = 2.0  # the energy counter refreshes about every 100 ms; shorter windows read low/noisy


@dataclass(frozen=True)
class EnergyReading:
    """What the meter read over one window (None = not measured, with the `*_missing` reason)."""

    window_s: float
    gpu_energy_j: float | None
    gpu_energy_missing: str | None
    gpu_energy_method: str | None
    gpu_energy_note: str | None
    avg_power_w: float | None
    idle_power_w: float | None
    idle_power_basis: str | None
    marginal_energy_j: float | None
    marginal_energy_missing: str | None
    cpu_energy_j: float | None
    cpu_energy_missing: str | None
    short_window_warning: str | None
    device: dict[str, Any] = field(default_factory=dict)  # `gpu.device_info`: identity and state, K and K_missing
    conditions: Conditions | None = None

    @classmethod
    def failed(cls, reason: str, window_s: float, conditions: Conditions | None) -> EnergyReading:
        """The reading when the meter itself broke: every figure missing, for this reason."""
        missing = {name: reason for name in cls.__dataclass_fields__ if name.endswith("_missing")}
        nothing = {name: None for name in cls.__dataclass_fields__ if name not in missing}
        device = {
            key: (reason if key.endswith("_missing") else None)
            for name in INFO_KEYS
            for key in (name, f"{name}_missing")
        }
        return cls(**{**nothing, **missing, "window_s": window_s, "device": device, "conditions": conditions})  # type: ignore[arg-type]

    def to_telemetry(self) -> dict[str, Any]:
        """The flat keys a result's `telemetry` keeps (stored and serialised as they are)."""
        flat = {name: getattr(self, name) for name in self.__dataclass_fields__ if name not in ("device", "conditions")}
        conditions = self.conditions.to_dict() if self.conditions is not None else None
        return {**flat, **self.device, "conditions": conditions}


# Every key `EnergyReading.to_telemetry()` writes into a result's telemetry.
READING_KEYS = (
    *(name for name in EnergyReading.__dataclass_fields__ if name not in ("device", "conditions")),
    *(key for name in INFO_KEYS for key in (name, f"{name}_missing")),
    "conditions",
)


class EnergyMeter:
    """Context manager measuring GPU and CPU energy over the block it wraps."""

    def __init__(
        self, device: torch.device | str, idle_power_w: IdlePower | float | None = None, *, warn: bool = True
    ) -> None:
        self.device = torch.device(device)
        # measure_idle_power() gives an IdlePower ("measured"); a number typed in is only "given".
        self.idle = idle_power_fields(idle_power_w)
        self.warn = warn  # False: a view shows `reading.short_window_warning` itself
        self.reading: EnergyReading | None = None
        self._gpu = GpuEnergyWindow(self.device)
        self._cpu = CpuEnergyWindow()
        self._conditions = ConditionsWindow(self.device)
        self._start_s = 0.0

    def __enter__(self) -> EnergyMeter:
        self._sync_quietly()  # earlier queued work belongs to no one's window
        self._gpu.start()
        self._cpu.start()
        self._conditions.start()
        self._start_s = time.perf_counter()
        return self

    def __exit__(self, *exc_info: object) -> None:
        sync_failure = self._sync_quietly()
        window_s = time.perf_counter() - self._start_s
        conditions = None
        try:
            conditions = self._conditions.stop()
            self.reading = self._read(window_s, sync_failure, conditions)
        except Exception as error:  # a bug in the meter must not cost the user their generation
            self.reading = EnergyReading.failed(f"telemetry failed: {describe(error)}", window_s, conditions)
        if self.warn and self.reading.short_window_warning:
            warnings.warn(self.reading.short_window_warning, TelemetryWarning, stacklevel=2)

    def _read(self, window_s: float, sync_failure: str | None, conditions: Conditions) -> EnergyReading:
        gpu, (cpu_j, cpu_missing) = self._gpu.stop(), self._cpu.stop()
        energy_j, energy_missing = gpu.energy_j, gpu.missing
        if sync_failure is not None and energy_j is not None:
            energy_j, energy_missing = None, f"device synchronise failed, window end unknown: {sync_failure}"
        marginal_j, marginal_missing = self._marginal(energy_j, window_s)
        return EnergyReading(
            window_s=window_s,
            gpu_energy_j=energy_j,
            gpu_energy_missing=energy_missing,
            gpu_energy_method=gpu.method if energy_j is not None else None,
            gpu_energy_note=gpu.note,
            avg_power_w=energy_j / window_s if energy_j is not None and window_s > 0 else None,
            idle_power_w=self.idle["idle_power_w"],
            idle_power_basis=self.idle["idle_power_basis"],
            marginal_energy_j=marginal_j,
            marginal_energy_missing=marginal_missing,
            cpu_energy_j=cpu_j,
            cpu_energy_missing=cpu_missing,
            short_window_warning=short_window_warning(energy_j, window_s),
            device=device_info(self.device),
            conditions=conditions,
        )

    def attach(self, result: GenerationResult) -> GenerationResult:
        """Write the reading and the per-token figures into `result.telemetry`; returns `result`."""
        reading = self.reading
        if reading is None:
            raise RuntimeError("EnergyMeter.attach() called before the `with` block ended")
        result.telemetry.update(reading.to_telemetry())
        tokens = result.new_tokens
        all_in = per_token(reading.gpu_energy_j, reading.gpu_energy_missing, tokens)
        marginal = per_token(reading.marginal_energy_j, reading.marginal_energy_missing, tokens)
        result.telemetry.update(
            {
                "joules_per_token": all_in[0],
                "joules_per_token_missing": all_in[1],
                "marginal_joules_per_token": marginal[0],
                "marginal_joules_per_token_missing": marginal[1],
            }
        )
        return result

    def _marginal(self, energy_j: float | None, window_s: float) -> tuple[float | None, str | None]:
        idle_w = self.idle["idle_power_w"]
        if energy_j is None:
            return None, "no GPU energy for this window"
        if idle_w is None:
            return None, "no idle baseline: pass idle_power_w=measure_idle_power(device)"
        return energy_j - idle_w * window_s, None

    def _sync_quietly(self) -> str | None:
        try:
            synchronize(self.device)
        except Exception as error:  # a CUDA error here belongs to the generation, which reports it itself
            return describe(error)
        return None


def short_window_warning(energy_j: float | None, window_s: float) -> str | None:
    """The warning text for a measured window too short to trust, else `None`."""
    if energy_j is None or window_s >= SHORT_WINDOW_S:
        return None
    return (
        f"energy window was {window_s:.2f} s: NVML energy updates about every 100 ms, so windows "
        f"under {SHORT_WINDOW_S:.0f} s read low or noisy; generate more tokens or repeat and take the median"
    )


def per_token(energy_j: float | None, energy_missing: str | None, tokens: int) -> tuple[float | None, str | None]:
    """Joules per new token, or `None` and why (the energy's own reason when there is no energy)."""
    if energy_j is None:
        return None, energy_missing
    if tokens == 0:
        return None, "no new tokens"
    return energy_j / tokens, None


def measured_generate(
    handle: Generator,
    prompt: str,
    *,
    idle_power_w: IdlePower | float | None = None,
    warn: bool = True,
    **settings: Any,
) -> GenerationResult:
    """`handle.generate(prompt, **settings)` inside an `EnergyMeter`, with the reading attached.

    A served model spends its energy on the server (its result says so): only this machine's
    conditions are recorded for it, since a busy client still delays reading the stream."""
    if handle.is_served:
        window = ConditionsWindow("cpu")
        window.start()
        result = handle.generate(prompt, **settings)
        result.telemetry["conditions"] = window.stop().to_dict()
        return result
    with EnergyMeter(handle.device, idle_power_w=idle_power_w, warn=warn) as meter:
        result = handle.generate(prompt, **settings)
    return meter.attach(result)
