"""The arithmetic under the energy figures: trapezoid integration of sampled power, the power-sampling
thread, RAPL counters (wrap-around, packages only), and the CUDA_VISIBLE_DEVICES mapping."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from workbench.measure.telemetry.cpu import CpuEnergyWindow, counter_delta_uj, package_zones
from workbench.measure.telemetry.gpu import system_memory_gib
from workbench.measure.telemetry.nvml import visible_entry
from workbench.measure.telemetry.power import PowerSampler, integrate_power
from workbench.measure.telemetry.reasons import TelemetryUnavailable


def test_trapezoid_on_known_series():
    assert integrate_power([0.0, 1.0, 2.0], [100.0, 100.0, 100.0]) == pytest.approx(200.0)  # constant
    assert integrate_power([0.0, 1.0], [0.0, 100.0]) == pytest.approx(50.0)  # a ramp is a triangle
    # uneven spacing: 0.5 s at (10+30)/2 plus 1.5 s at (30+20)/2
    assert integrate_power([10.0, 10.5, 12.0], [10.0, 30.0, 20.0]) == pytest.approx(0.5 * 20 + 1.5 * 25)


@pytest.mark.parametrize(
    ("times", "watts", "problem"),
    [([0.0], [1.0], "at least two"), ([0.0, 1.0], [1.0], "2 times but 1"), ([1.0, 0.5], [1.0, 1.0], "backwards")],
)
def test_trapezoid_rejects_unusable_series(times, watts, problem):
    with pytest.raises(ValueError, match=problem):
        integrate_power(times, watts)


def test_power_sampler_brackets_the_window_and_integrates_a_steady_draw():
    sampler = PowerSampler(lambda: 75.0, interval_s=0.01)
    sampler.start()
    time.sleep(0.2)
    times, watts = sampler.stop()
    assert len(times) >= 3 and set(watts) == {75.0}
    assert integrate_power(times, watts) == pytest.approx(75.0 * (times[-1] - times[0]))
    assert times[-1] - times[0] >= 0.2


def test_power_sampler_keeps_the_reason_when_the_reader_fails():
    calls = []

    def flaky() -> float:
        calls.append(1)
        if len(calls) > 2:
            raise OSError("GPU is lost")
        return 10.0

    sampler = PowerSampler(flaky, interval_s=0.01)
    sampler.start()
    time.sleep(0.1)
    sampler.stop()
    assert sampler.error == "OSError: GPU is lost"


def test_rapl_counter_wraps_around():
    assert counter_delta_uj(1_000, 5_000, 262_143_328_850) == 4_000
    assert counter_delta_uj(262_143_328_000, 500, 262_143_328_850) == 850 + 500


def _zone(root: Path, name: str, label: str, energy: int, max_range: int = 1_000_000) -> Path:
    zone = root / name
    zone.mkdir()
    (zone / "name").write_text(label + "\n")
    (zone / "energy_uj").write_text(f"{energy}\n")
    (zone / "max_energy_range_uj").write_text(f"{max_range}\n")
    return zone


def test_rapl_sums_packages_not_subzones_across_a_wrap(tmp_path):
    # A powercap tree laid out as Linux lays it out, read through the real file-reading code.
    zero = _zone(tmp_path, "intel-rapl:0", "package-0", 999_000)
    one = _zone(tmp_path, "intel-rapl:1", "package-1", 10_000)
    core = _zone(tmp_path, "intel-rapl:0:0", "core", 0)
    assert [zone.name for zone in package_zones(tmp_path)] == ["package-0", "package-1"]
    window = CpuEnergyWindow(tmp_path)
    window.start()
    (zero / "energy_uj").write_text("4000\n")  # wrapped: 1,000 + 4,000 uJ
    (one / "energy_uj").write_text("2010000\n")  # 2,000,000 uJ
    (core / "energy_uj").write_text("999999\n")  # inside package-0: must not be added again
    assert window.stop() == (pytest.approx(2.005), None)


def test_rapl_missing_is_a_reason_not_a_zero(tmp_path):
    window = CpuEnergyWindow(tmp_path)
    window.start()
    joules, missing = window.stop()
    assert joules is None and missing.startswith("no CPU energy (RAPL): FileNotFoundError")


def test_rapl_as_it_really_is_on_this_machine():
    # Which outcome is right depends on this machine, and is decided here before measuring.
    counters = list(Path("/sys/class/powercap").glob("intel-rapl:*/energy_uj"))
    readable = any(os.access(counter, os.R_OK) for counter in counters)
    window = CpuEnergyWindow()
    window.start()
    sum(i for i in range(100_000))
    joules, missing = window.stop()
    if readable:
        assert joules is not None and joules >= 0 and missing is None
    else:
        assert joules is None and "RAPL" in missing


@pytest.mark.parametrize(
    ("index", "visible", "entry"),
    [
        (0, None, "0"),
        (1, None, "1"),
        (0, "2,0", "2"),
        (1, " 2 , 0 ", "0"),
        (0, "GPU-8f6c1b2a", "GPU-8f6c1b2a"),
        (1, "GPU-aaaa,MIG-1b2c3d4e-0000-1111-2222-333344445555", "MIG-1b2c3d4e-0000-1111-2222-333344445555"),
    ],
)
def test_cuda_visible_devices_mapping(index, visible, entry):
    assert visible_entry(index, visible) == entry


def test_cuda_ordinal_beyond_visible_devices_is_explained():
    with pytest.raises(TelemetryUnavailable, match=r"cuda:2 is not among CUDA_VISIBLE_DEVICES='0,1'"):
        visible_entry(2, "0,1")


def test_unified_memory_fallback_reads_proc_meminfo(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       4194304 kB\nMemFree:    1 kB\nMemAvailable:   1048576 kB\n")
    assert system_memory_gib(meminfo) == (4.0, 3.0)
    if Path("/proc/meminfo").exists():
        total, used = system_memory_gib()
        assert total > used > 0
