"""What GPU a run used and what state it was in, read through NVML.

`device_info(device)` returns flat keys: identity (name, UUID, driver, architecture), the enforced
power limit, memory, clocks, temperature and utilisation. Every key `K` comes with `K_missing`: `None`
when `K` was read, otherwise the reason it was not. On a CPU device or a machine without an NVIDIA
driver every value is `None` and every reason says why; nothing is filled in from a spec sheet.

GB10 (DGX Spark) has no NVML memory figures (unified memory): memory then comes from
`/proc/meminfo`, and `memory_source` says so. Energy and power over a window live in `power`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from workbench.measure.telemetry.nvml import GpuTarget, find_gpu, nvml
from workbench.measure.telemetry.reasons import TelemetryUnavailable, describe

GIB = 1024**3
INFO_KEYS = (
    "device_name",
    "device_uuid",
    "driver_version",
    "architecture",
    "power_limit_w",
    "memory_total_gib",
    "memory_used_gib",
    "memory_source",
    "sm_clock_mhz",
    "memory_clock_mhz",
    "temperature_c",
    "gpu_utilization_pct",
    "nvml_match",
)


def device_info(device: torch.device | str) -> dict[str, Any]:
    """Flat identity and state of the GPU behind `device`; never raises."""
    try:
        target, lib = find_gpu(device), nvml()
    except TelemetryUnavailable as error:
        return _all_missing(error.reason)
    except Exception as error:  # an NVML call failing while matching the device
        return _all_missing(f"could not find the GPU in NVML: {describe(error)}")

    info: dict[str, Any] = {}
    for key, read in _readers(lib, target).items():
        try:
            info[key], info[f"{key}_missing"] = read(), None
        except Exception as error:
            info[key], info[f"{key}_missing"] = None, f"NVML: {describe(error)}"
    info.update(_memory(lib, target))
    return {key: info[key] for name in INFO_KEYS for key in (name, f"{name}_missing")}


def _readers(lib: ModuleType, target: GpuTarget) -> dict[str, Callable[[], Any]]:
    board = target.board
    return {
        "device_name": lambda: lib.nvmlDeviceGetName(target.handle),
        "device_uuid": lambda: lib.nvmlDeviceGetUUID(target.handle),
        "driver_version": lib.nvmlSystemGetDriverVersion,
        "architecture": lambda: _architecture_name(lib, lib.nvmlDeviceGetArchitecture(board)),
        "power_limit_w": lambda: lib.nvmlDeviceGetEnforcedPowerLimit(board) / 1000,
        "sm_clock_mhz": lambda: lib.nvmlDeviceGetClockInfo(board, lib.NVML_CLOCK_SM),
        "memory_clock_mhz": lambda: lib.nvmlDeviceGetClockInfo(board, lib.NVML_CLOCK_MEM),
        "temperature_c": lambda: lib.nvmlDeviceGetTemperature(board, lib.NVML_TEMPERATURE_GPU),
        "gpu_utilization_pct": lambda: lib.nvmlDeviceGetUtilizationRates(board).gpu,
        "nvml_match": lambda: target.match,
    }


def _architecture_name(lib: ModuleType, code: int) -> str:
    # Read the names from pynvml's own constants so a new architecture needs no change here.
    for name in dir(lib):
        if name.startswith("NVML_DEVICE_ARCH_") and getattr(lib, name) == code:
            return name.removeprefix("NVML_DEVICE_ARCH_").lower()
    return f"unknown ({code})"


def _memory(lib: ModuleType, target: GpuTarget) -> dict[str, Any]:
    try:
        memory = lib.nvmlDeviceGetMemoryInfo(target.handle)
        return _memory_reading(memory.total / GIB, memory.used / GIB, "NVML")
    except lib.NVMLError_NotSupported:
        pass  # GB10: unified memory, no NVML figure; the system's is the GPU's
    except Exception as error:
        return _memory_missing(f"NVML: {describe(error)}")
    try:
        total, used = system_memory_gib()
    except (OSError, ValueError, KeyError) as error:
        return _memory_missing(f"no NVML memory info, and /proc/meminfo unreadable: {describe(error)}")
    return _memory_reading(total, used, "/proc/meminfo (no NVML memory info: unified memory, shared with the CPU)")


def system_memory_gib(meminfo: Path = Path("/proc/meminfo")) -> tuple[float, float]:
    """(total, in use) GiB from /proc/meminfo; "in use" is total minus what the kernel calls available."""
    fields = {}
    for line in meminfo.read_text().splitlines():
        name, _, rest = line.partition(":")
        fields[name] = int(rest.split()[0]) * 1024  # values are in kB
    total = fields["MemTotal"]
    return total / GIB, (total - fields["MemAvailable"]) / GIB


def _memory_reading(total: float, used: float, source: str) -> dict[str, Any]:
    return {
        "memory_total_gib": total,
        "memory_total_gib_missing": None,
        "memory_used_gib": used,
        "memory_used_gib_missing": None,
        "memory_source": source,
        "memory_source_missing": None,
    }


def _memory_missing(reason: str) -> dict[str, Any]:
    keys = ("memory_total_gib", "memory_used_gib", "memory_source")
    return {k: v for key in keys for k, v in ((key, None), (f"{key}_missing", reason))}


def _all_missing(reason: str) -> dict[str, Any]:
    return {k: v for key in INFO_KEYS for k, v in ((key, None), (f"{key}_missing", reason))}
