"""Machine conditions per timed run: the typed reading, the busy verdict, a real busy process."""

from __future__ import annotations

import json
import time

import pytest
import torch

from tests.busy_helpers import background_share, busy_loop
from workbench.measure.conditions import BUSY_CORE_SHARE, Conditions, ConditionsWindow
from workbench.measure.measurement import Measurement
from workbench.measure.store import ResultsStore
from workbench.measure.telemetry.energy import READING_KEYS, EnergyMeter, EnergyReading, measured_generate


def fake_counters(*samples: tuple[float, float]):
    """Counter readings (machine busy CPU s, this process's CPU s), one per call."""
    queue = list(samples)
    return lambda: queue.pop(0)


@pytest.mark.parametrize(
    "samples, busy",
    [
        (((100.0, 10.0), (101.0, 10.95)), False),  # others used 0.05 s of the 0.5 s window: 10% of a core
        (((100.0, 10.0), (101.0, 10.5)), True),  # others used 0.5 s of 0.5 s: a whole core
        (((100.0, 10.0), (100.0, 10.2)), False),  # counters read a tick apart: never negative load
    ],
)
def test_busy_follows_other_processes_cpu_time(samples, busy):
    window = ConditionsWindow("cpu", sample=fake_counters(*samples))
    window.start()
    time.sleep(0.5)
    conditions = window.stop()
    machine, own = samples[1][0] - samples[0][0], samples[1][1] - samples[0][1]
    assert conditions.other_cpu_s == pytest.approx(max(machine - own, 0.0))
    assert conditions.busy is busy
    assert conditions.torch_threads == torch.get_num_threads() and conditions.gpu.missing == "run on cpu: no GPU"


def test_verdict_threshold_and_note():
    def at(share: float) -> Conditions:
        return Conditions(2.0, share * 2.0, None, 1.0, 2, 1, None, "no frequency")

    assert at(BUSY_CORE_SHARE - 0.01).busy is False and at(BUSY_CORE_SHARE - 0.01).busy_note() == ""
    assert at(0.9).busy is True and "90% of a core" in at(0.9).busy_note()


def test_unreadable_counters_give_unknown_not_quiet():
    def broken():
        raise PermissionError("no /proc here")

    window = ConditionsWindow("cpu", sample=broken)
    window.start()
    conditions = window.stop()
    assert conditions.busy is None and "no /proc here" in (conditions.other_cpu_missing or "")


def test_the_meter_returns_a_typed_reading_that_readers_get_back_typed(autoregressive, tmp_path):
    with EnergyMeter("cpu", warn=False) as meter:
        result = autoregressive.generate("once upon a time", max_new_tokens=4, seed=0)
    reading = meter.reading
    assert isinstance(reading, EnergyReading) and isinstance(reading.conditions, Conditions)
    meter.attach(result)
    assert set(READING_KEYS) <= set(result.telemetry)
    measured = Measurement.from_result(result)
    assert measured.conditions == reading.conditions  # the same record after the telemetry dict
    assert measured.conditions is not None and measured.conditions.torch_threads == torch.get_num_threads()
    # ...and after JSON (compare --json) and the SQLite store
    assert Measurement.from_record(json.loads(result.to_json())).conditions == reading.conditions
    store = ResultsStore(tmp_path / "runs.sqlite")
    store.add(result)
    row = store.to_dataframe(conditions=True).iloc[0]
    assert row["busy"] == reading.conditions.busy and row["torch_threads"] == torch.get_num_threads()
    assert "busy" not in store.to_dataframe().columns  # exports stay importable: derived columns only on request


def test_a_run_under_a_busy_process_is_labelled_busy(diffusion):
    with busy_loop():
        result = measured_generate(diffusion, "once upon a time", max_new_tokens=96, steps=16, seed=0, warn=False)
    measured = Measurement.from_result(result)
    assert measured.busy is True
    assert measured.conditions is not None and (measured.conditions.other_core_share or 0) > BUSY_CORE_SHARE
    assert "machine was busy" in measured.conditions.busy_note()


def test_a_run_on_a_quiet_machine_is_not_busy(diffusion):
    share = background_share()
    if share is None or share > BUSY_CORE_SHARE / 2:
        pytest.skip(f"this machine is already busy with other work ({share} cores): quiet cannot be checked now")
    # A run of a few hundred ms: the CPU counters tick every 10 ms, so a window of a few tens of ms could
    # read a tick of rounding as other work.
    result = measured_generate(diffusion, "once upon a time", max_new_tokens=96, steps=16, seed=0, warn=False)
    conditions = Measurement.from_result(result).conditions
    assert conditions is not None
    if conditions.busy and background_share() > BUSY_CORE_SHARE / 2:
        pytest.skip(f"other work started during the run ({conditions.other_core_share:.0%} of a core)")
    assert conditions.busy is False, conditions


def test_throttle_reasons_are_named_from_the_library_constants():
    import types

    from workbench.measure.conditions import throttle_names

    lib = types.SimpleNamespace(
        nvmlClocksThrottleReasonGpuIdle=0x1,
        nvmlClocksThrottleReasonSwPowerCap=0x4,
        nvmlClocksThrottleReasonHwSlowdown=0x8,
        nvmlClocksThrottleReasonSwThermalSlowdown=0x20,
        nvmlClocksThrottleReasonNone=0x0,
        nvmlClocksThrottleReasonAll=0xFF,
    )
    assert throttle_names(lib, 0x1 | 0x4 | 0x20) == ("SwPowerCap", "SwThermalSlowdown")  # idle is no throttle
    assert throttle_names(lib, 0x0) == ()


def test_on_a_cpu_run_the_gpu_figures_are_missing_with_a_reason():
    from workbench.measure.conditions import gpu_conditions

    gpu = gpu_conditions("cpu")
    assert gpu.sm_clock_mhz is None and gpu.throttle_reasons is None and gpu.missing == "run on cpu: no GPU"
