"""The NVML code paths, on a machine without an NVIDIA driver.

The real NVML cannot run here, so two things stand in for it. First, every `lib.<name>` the
telemetry modules call is checked against the real `pynvml` module, so a misspelt function fails
here rather than on a GPU. Second, a small stand-in library with fixed readings drives the counter
path, the power-sampling fallback, the GB10 memory fallback and the device mapping. The same paths
run for real in the GPU tests of `test_telemetry_energy.py`.
"""

from __future__ import annotations

import ast
import time
from pathlib import Path
from types import SimpleNamespace

import pynvml
import pytest

import workbench.measure.telemetry.nvml as nvml_module
from workbench.measure.telemetry import EnergyMeter, device_info, measure_idle_power
from workbench.measure.telemetry.power import GpuEnergyWindow

TELEMETRY = Path(__file__).resolve().parents[1] / "workbench" / "measure" / "telemetry"
GIB = 1024**3


def test_every_nvml_name_used_exists_in_pynvml():
    used = set()
    for module in ("nvml.py", "gpu.py", "power.py"):
        for node in ast.walk(ast.parse((TELEMETRY / module).read_text())):
            if isinstance(node, ast.Attribute) and node.attr.lower().startswith("nvml"):
                used.add(node.attr)
    assert {"nvmlDeviceGetTotalEnergyConsumption", "nvmlDeviceGetFieldValues", "nvmlDeviceGetMemoryInfo"} <= used
    field_members = {name for name, _ in pynvml.c_nvmlFieldValue_t._fields_}  # e.g. value.nvmlReturn
    assert sorted(name for name in used if not hasattr(pynvml, name) and name not in field_members) == []


class StandInNvml:
    """Fixed readings in NVML's units: the energy counter gains 1,500 mJ per read, power is 250 W."""

    class NVMLError(Exception):
        pass

    class NVMLError_NotSupported(NVMLError):  # noqa: N801 (pynvml's own name)
        pass

    NVML_SUCCESS, NVML_FI_DEV_POWER_INSTANT, NVML_TEMPERATURE_GPU = 0, 186, 0
    NVML_CLOCK_SM, NVML_CLOCK_MEM, NVML_DEVICE_ARCH_HOPPER = 1, 2, 9

    def __init__(self, energy_counter: bool = True, memory_info: bool = True) -> None:
        self.energy_counter, self.memory_info, self.energy_mj = energy_counter, memory_info, 10_000_000

    def nvmlDeviceGetHandleByIndex(self, index):
        return f"board-{index}"

    def nvmlDeviceIsMigDeviceHandle(self, handle):
        return 0

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        if not self.energy_counter:
            raise self.NVMLError_NotSupported("Not Supported")
        self.energy_mj += 1500
        return self.energy_mj

    def nvmlDeviceGetFieldValues(self, handle, fields):
        return [SimpleNamespace(nvmlReturn=0, value=SimpleNamespace(uiVal=250_000)) for _ in fields]

    def nvmlDeviceGetMemoryInfo(self, handle):
        if not self.memory_info:
            raise self.NVMLError_NotSupported("Not Supported")
        return SimpleNamespace(total=80 * GIB, used=2 * GIB)

    nvmlDeviceGetCount = staticmethod(lambda: 2)
    nvmlDeviceGetName = staticmethod(lambda handle: "NVIDIA Stand-in")
    nvmlDeviceGetUUID = staticmethod(lambda handle: {"board-0": "GPU-aaaa0000-0", "board-1": "GPU-bbbb1111-1"}[handle])
    nvmlSystemGetDriverVersion = staticmethod(lambda: "580.00")
    nvmlDeviceGetArchitecture = staticmethod(lambda handle: 9)
    nvmlDeviceGetEnforcedPowerLimit = staticmethod(lambda handle: 700_000)
    nvmlDeviceGetClockInfo = staticmethod(lambda handle, clock: 1980 if clock == 1 else 2619)
    nvmlDeviceGetTemperature = staticmethod(lambda handle, sensor: 41)
    nvmlDeviceGetUtilizationRates = staticmethod(lambda handle: SimpleNamespace(gpu=97))


@pytest.fixture
def stand_in(monkeypatch):
    def install(**options) -> StandInNvml:
        lib = StandInNvml(**options)
        monkeypatch.setattr(nvml_module, "_library", lib)
        monkeypatch.setattr(nvml_module, "_failure", None)
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
        return lib

    return install


def test_counter_path(stand_in):
    stand_in()
    window = GpuEnergyWindow("cuda:0")
    window.start()
    time.sleep(0.02)
    reading = window.stop()
    assert (reading.energy_j, reading.method, reading.missing) == (1.5, "counter", None)
    assert reading.span_s >= 0.02


def test_power_sampling_fallback_when_the_counter_is_not_supported(stand_in):
    stand_in(energy_counter=False)
    window = GpuEnergyWindow("cuda:0", sample_interval_s=0.01)
    window.start()
    time.sleep(0.1)
    reading = window.stop()
    assert reading.method == "power-sampling" and "NVMLError_NotSupported" in reading.note
    assert reading.energy_j == pytest.approx(250.0 * reading.span_s)


def test_device_info_and_the_unified_memory_fallback(stand_in):
    stand_in(memory_info=False)
    info = device_info("cuda:0")
    assert (info["device_name"], info["architecture"], info["power_limit_w"]) == ("NVIDIA Stand-in", "hopper", 700.0)
    assert (info["sm_clock_mhz"], info["memory_clock_mhz"], info["gpu_utilization_pct"]) == (1980, 2619, 97)
    assert info["memory_source"].startswith("/proc/meminfo") and info["memory_total_gib"] > 0
    assert info["nvml_match"] == "cuda:0 -> NVML '0' (CUDA_VISIBLE_DEVICES=None)"
    assert all(info[f"{key}_missing"] is None for key in ("device_name", "driver_version", "memory_total_gib"))
    stand_in()
    assert device_info("cuda:0")["memory_total_gib"] == 80.0


@pytest.mark.parametrize(
    ("visible", "device", "uuid"),
    [
        ("1,0", "cuda:0", "GPU-bbbb1111-1"),
        ("0,1", "cuda:1", "GPU-bbbb1111-1"),
        ("GPU-aaaa", "cuda:0", "GPU-aaaa0000-0"),  # CUDA accepts a unique UUID prefix
        ("GPU-bbbb1111-1", "cuda", "GPU-bbbb1111-1"),
    ],
)
def test_cuda_visible_devices_picks_the_right_board(stand_in, monkeypatch, visible, device, uuid):
    stand_in()
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    assert device_info(device)["device_uuid"] == uuid


def test_an_ambiguous_uuid_prefix_is_reported_not_guessed(stand_in, monkeypatch):
    stand_in()
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-")
    info = device_info("cuda:0")
    assert info["device_uuid"] is None and "matches 2 GPUs" in info["device_uuid_missing"]


def test_idle_power_from_the_counter(stand_in):
    stand_in()
    idle = measure_idle_power("cuda:0", seconds=0.05)
    assert idle is not None and 0 < idle.watts <= 1.5 / 0.05
    with EnergyMeter("cuda:0", idle_power_w=idle) as meter:  # a measured baseline is recorded as measured
        pass
    assert meter.reading is not None
    assert meter.reading.idle_power_basis == "measured" and meter.reading.idle_power_w == idle.watts


def test_a_failed_synchronise_voids_the_energy_reading(stand_in):
    # This torch has no CUDA, so synchronising cuda:0 fails for real: the end of the window is then
    # unknown and the energy must not be reported as if it were measured.
    stand_in()
    with EnergyMeter("cuda:0", idle_power_w=50.0) as meter:
        pass
    reading = meter.reading
    assert reading is not None and reading.gpu_energy_missing is not None
    assert reading.gpu_energy_j is None and reading.gpu_energy_missing.startswith("device synchronise failed")
    assert reading.device["device_name"] == "NVIDIA Stand-in" and reading.short_window_warning is None
