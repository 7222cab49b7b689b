"""GPU and CPU energy as they really are on the machine running the tests.

Without an NVIDIA driver (CI, laptops, this project's build machine) the real NVML path is the
"library not found" one: energy must be `None` with that reason, never zero. With a GPU the last
tests in this file take real readings; run them on a GPU machine to check the NVML path.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import pytest
import torch

from workbench.engine.result import GenerationResult
from workbench.errors import InvalidSettingError
from workbench.measure.telemetry import (
    EnergyMeter,
    device_info,
    measure_idle_power,
    measured_generate,
)
from workbench.measure.telemetry.energy import READING_KEYS, per_token, short_window_warning
from workbench.measure.telemetry.nvml import nvml
from workbench.measure.telemetry.reasons import TelemetryUnavailable, TelemetryWarning

HAS_DRIVER = Path("/proc/driver/nvidia").exists()
HAS_GPU = torch.cuda.is_available()


class TinyGenerator:
    """Stands in for a model handle: real (small) torch work, a real GenerationResult."""

    is_served = False  # what the meter asks a Generator before metering it here

    def __init__(self, device: str = "cpu") -> None:
        self.device = torch.device(device)
        self.name = "tiny-matmul"

    def generate(self, prompt: str, max_new_tokens: int = 8) -> GenerationResult:
        started = time.perf_counter()
        x = torch.ones(64, 64, device=self.device)
        for _ in range(max_new_tokens):
            x = torch.tanh(x @ x / 64)
        total = time.perf_counter() - started
        return GenerationResult(
            model=self.name,
            kind="autoregressive",
            prompt=prompt,
            text="a b c",
            token_ids=list(range(max_new_tokens)),
            settings={"max_new_tokens": max_new_tokens},
            finish_reason="length",
            device=str(self.device),
            dtype="float32",
            load_s=0.0,
            prefill_s=0.0,
            time_to_first_token_s=total / max_new_tokens,
            total_s=total,
            step_times_s=[total / max_new_tokens] * max_new_tokens,
            forward_passes=max_new_tokens,
            prompt_tokens=len(prompt.split()),
        )


def test_cpu_run_says_gpu_energy_is_not_applicable():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no short-window warning when nothing was measured
        result = measured_generate(TinyGenerator("cpu"), "once upon a time", max_new_tokens=4)
    t = result.telemetry
    assert set(READING_KEYS) <= set(t)
    assert t["gpu_energy_j"] is None and t["gpu_energy_missing"] == "run on cpu: GPU energy not applicable"
    assert t["joules_per_token"] is None and t["joules_per_token_missing"] == t["gpu_energy_missing"]
    assert t["marginal_joules_per_token"] is None and t["marginal_joules_per_token_missing"]
    assert t["avg_power_w"] is None and t["gpu_energy_method"] is None
    assert t["short_window_warning"] is None
    assert t["device_name"] is None and t["device_name_missing"].startswith("run on cpu")
    assert t["window_s"] > 0 and result.new_tokens == 4


@pytest.mark.skipif(HAS_DRIVER, reason="an NVIDIA driver is installed here")
def test_no_driver_is_reported_with_nvmls_own_error():
    with pytest.raises(TelemetryUnavailable, match="^no NVIDIA driver: NVMLError_"):
        nvml()
    with EnergyMeter(torch.device("cuda:0"), idle_power_w=30.0) as meter:
        time.sleep(0.05)
    reading = meter.reading
    assert reading is not None
    assert reading.gpu_energy_j is None
    assert reading.gpu_energy_missing is not None and reading.gpu_energy_missing.startswith(
        "no NVIDIA driver: NVMLError_"
    )
    assert reading.marginal_energy_j is None and reading.idle_power_w == 30.0
    info = device_info("cuda:0")
    for key in ("device_name", "device_uuid", "driver_version", "power_limit_w"):
        assert info[key] is None and info[f"{key}_missing"].startswith("no NVIDIA driver")


def test_cpu_energy_is_a_positive_number_or_none_with_a_reason():
    with EnergyMeter("cpu") as meter:
        sum(i * i for i in range(200_000))
    assert meter.reading is not None
    joules, missing = meter.reading.cpu_energy_j, meter.reading.cpu_energy_missing
    if joules is None:
        assert missing and "RAPL" in missing
    else:
        assert joules > 0 and missing is None


def test_a_failing_generation_keeps_its_own_error_and_the_meter_still_reads():
    with pytest.raises(ZeroDivisionError):
        with EnergyMeter("cpu") as meter:
            _ = 1 / 0
    assert meter.reading is not None
    assert meter.reading.window_s >= 0
    assert meter.reading.gpu_energy_missing


def test_attach_before_the_window_closed_is_an_error():
    with pytest.raises(RuntimeError, match="before the `with` block ended"):
        EnergyMeter("cpu").attach(TinyGenerator().generate("x"))


def test_joules_per_token_arithmetic_and_reasons():
    assert per_token(10.0, None, 4) == (2.5, None)
    assert per_token(10.0, None, 0) == (None, "no new tokens")
    assert per_token(None, "no NVIDIA driver: X", 4) == (None, "no NVIDIA driver: X")


def test_short_window_warning_text():
    assert short_window_warning(None, 0.1) is None  # nothing measured, nothing to distrust
    assert short_window_warning(50.0, 5.0) is None
    text = short_window_warning(5.0, 0.4)
    assert "0.40 s" in text and "100 ms" in text


def test_idle_power_is_none_with_a_warning_where_it_cannot_be_measured():
    with pytest.warns(TelemetryWarning, match="idle power not measured: run on cpu"):
        assert measure_idle_power("cpu", seconds=0.05) is None
    for bad in (0, float("inf"), 1e9):
        with pytest.raises(InvalidSettingError, match="seconds"):
            measure_idle_power("cpu", seconds=bad)


# -- real GPU: these run only where torch sees a CUDA device ------------------------------------------


@pytest.mark.skipif(not HAS_GPU, reason="needs an NVIDIA GPU")
def test_gpu_fingerprint_matches_torch():
    info = device_info("cuda:0")
    assert info["device_name"] == torch.cuda.get_device_name(0), info
    assert info["device_uuid"].startswith(("GPU-", "MIG-"))
    assert info["driver_version"] and info["power_limit_w"] > 0


@pytest.mark.skipif(not HAS_GPU, reason="needs an NVIDIA GPU")
def test_gpu_energy_over_a_real_run():
    idle = measure_idle_power("cuda:0", seconds=2.0)
    assert idle is not None and idle.watts > 0 and idle.seconds >= 2.0
    x = torch.randn(4096, 4096, device="cuda:0")
    with EnergyMeter("cuda:0", idle_power_w=idle) as meter:
        deadline = time.perf_counter() + 2.5
        while time.perf_counter() < deadline:
            x = torch.tanh(x @ x / 4096)
            torch.cuda.synchronize()
    reading = meter.reading
    assert reading is not None and reading.gpu_energy_j is not None and reading.marginal_energy_j is not None
    assert reading.gpu_energy_j > 0, reading
    assert reading.gpu_energy_method in ("counter", "power-sampling")
    assert reading.avg_power_w == pytest.approx(reading.gpu_energy_j / reading.window_s)
    assert reading.marginal_energy_j < reading.gpu_energy_j
    assert reading.short_window_warning is None
    with pytest.warns(TelemetryWarning, match="energy window was"):
        with EnergyMeter("cuda:0"):
            torch.cuda.synchronize()


def test_every_public_name_loads_on_first_use():
    import workbench.measure.telemetry as telemetry

    assert all(getattr(telemetry, name) is not None for name in telemetry.__all__)
    with pytest.raises(AttributeError, match="no attribute 'Energymeter'"):
        telemetry.Energymeter  # noqa: B018
