"""Energy and hardware figures for one generation, attached to its result.

    with EnergyMeter(handle.device, idle_power_w=idle) as meter:
        result = handle.generate(prompt)
    meter.attach(result)          # or: result = measured_generate(handle, prompt)

The meter synchronises the device at both ends of the window, reads GPU energy (`power`), CPU
package energy (`cpu`) and the GPU's identity and state (`gpu`), and writes flat keys into
`result.telemetry`. Every figure that could not be taken is `None` with a `*_missing` reason beside it.
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
from typing import Any

import torch

from workbench.engine.clock import synchronize
from workbench.engine.generator import Generator
from workbench.engine.result import GenerationResult
from workbench.measure.measurement import IdlePower, idle_power_fields
from workbench.measure.telemetry.cpu import CpuEnergyWindow
from workbench.measure.telemetry.gpu import INFO_KEYS, device_info
from workbench.measure.telemetry.power import GpuEnergyWindow
from workbench.measure.telemetry.reasons import TelemetryWarning, describe

SHORT_WINDOW_S = 2.0  # the energy counter refreshes about every 100 ms; shorter windows read low/noisy
READING_KEYS = (
    "window_s", "gpu_energy_j", "gpu_energy_missing", "gpu_energy_method", "gpu_energy_note", "avg_power_w",
    "idle_power_w", "idle_power_basis", "marginal_energy_j", "marginal_energy_missing", "cpu_energy_j", "cpu_energy_missing",
    "short_window_warning", *(key for name in INFO_KEYS for key in (name, f"{name}_missing")),
)  # fmt: skip


class EnergyMeter:
    """Context manager measuring GPU and CPU energy over the block it wraps."""

    def __init__(
        self, device: torch.device | str, idle_power_w: IdlePower | float | None = None, *, warn: bool = True
    ) -> None:
        self.device = torch.device(device)
        # measure_idle_power() gives an IdlePower ("measured"); a number typed in is only "given".
        self.idle = idle_power_fields(idle_power_w)
        self.warn = warn  # False: a view shows `reading["short_window_warning"]` itself
        self.reading: dict[str, Any] = {}
        self._gpu = GpuEnergyWindow(self.device)
        self._cpu = CpuEnergyWindow()
        self._start_s = 0.0

    def __enter__(self) -> EnergyMeter:
        self._sync_quietly()  # earlier queued work belongs to no one's window
        self._gpu.start()
        self._cpu.start()
        self._start_s = time.perf_counter()
        return self

    def __exit__(self, *exc_info: object) -> None:
        sync_failure = self._sync_quietly()
        window_s = time.perf_counter() - self._start_s
        try:
            self.reading = self._read(window_s, sync_failure)
        except Exception as error:  # a bug in the meter must not cost the user their generation
            reason = f"telemetry failed: {describe(error)}"
            self.reading = {key: reason if key.endswith("_missing") else None for key in READING_KEYS}
            self.reading["window_s"] = window_s
        if self.warn and self.reading["short_window_warning"]:
            warnings.warn(self.reading["short_window_warning"], TelemetryWarning, stacklevel=2)

    def _read(self, window_s: float, sync_failure: str | None) -> dict[str, Any]:
        gpu, (cpu_j, cpu_missing) = self._gpu.stop(), self._cpu.stop()
        energy_j, energy_missing = gpu.energy_j, gpu.missing
        if sync_failure is not None and energy_j is not None:
            energy_j, energy_missing = None, f"device synchronise failed, window end unknown: {sync_failure}"
        return {
            "window_s": window_s,
            "gpu_energy_j": energy_j,
            "gpu_energy_missing": energy_missing,
            "gpu_energy_method": gpu.method if energy_j is not None else None,
            "gpu_energy_note": gpu.note,
            "avg_power_w": energy_j / window_s if energy_j is not None and window_s > 0 else None,
            **self._marginal(energy_j, window_s),
            "cpu_energy_j": cpu_j,
            "cpu_energy_missing": cpu_missing,
            "short_window_warning": short_window_warning(energy_j, window_s),
            **device_info(self.device),
        }

    def attach(self, result: GenerationResult) -> GenerationResult:
        """Write the reading and the per-token figures into `result.telemetry`; returns `result`."""
        if not self.reading:
            raise RuntimeError("EnergyMeter.attach() called before the `with` block ended")
        result.telemetry.update(self.reading)
        tokens, reading = result.new_tokens, self.reading
        all_in = per_token(reading["gpu_energy_j"], reading["gpu_energy_missing"], tokens)
        marginal = per_token(reading["marginal_energy_j"], reading["marginal_energy_missing"], tokens)
        result.telemetry.update(
            {
                "joules_per_token": all_in[0],
                "joules_per_token_missing": all_in[1],
                "marginal_joules_per_token": marginal[0],
                "marginal_joules_per_token_missing": marginal[1],
            }
        )
        return result

    def _marginal(self, energy_j: float | None, window_s: float) -> dict[str, Any]:
        idle_w = self.idle["idle_power_w"]
        if energy_j is None:
            marginal, missing = None, "no GPU energy for this window"
        elif idle_w is None:
            marginal, missing = None, "no idle baseline: pass idle_power_w=measure_idle_power(device)"
        else:
            marginal, missing = energy_j - idle_w * window_s, None
        return {**self.idle, "marginal_energy_j": marginal, "marginal_energy_missing": missing}

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
    """`handle.generate(prompt, **settings)` inside an `EnergyMeter`, with the reading attached."""
    if handle.is_served:  # a served model spends its energy on the server; its result says so
        return handle.generate(prompt, **settings)
    with EnergyMeter(handle.device, idle_power_w=idle_power_w, warn=warn) as meter:
        result = handle.generate(prompt, **settings)
    return meter.attach(result)
