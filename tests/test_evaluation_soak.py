"""Soak: warm-up and steady state found in a timeline with known shape; a short real soak on tiny-ar."""

from __future__ import annotations

import threading

import pandas as pd
import pytest

import workbench
from workbench.errors import InvalidSettingError
from workbench.evaluation.soak import analyse, plot_soak, soak
from workbench.measure.store import ResultsStore


def _timeline(power: list[float | None], seconds_per_run: list[float]) -> pd.DataFrame:
    rows, t = [], 0.0
    for watts, window in zip(power, seconds_per_run):
        energy = None if watts is None else watts * window
        rows.append(
            {
                "start_s": t,
                "end_s": t + window,
                "window_s": window,
                "tokens": 10,
                "finish_reason": "length",
                "energy_j": energy,
                "energy_source": None if watts is None else "gpu (NVML)",
                "energy_missing": "no GPU; no RAPL" if watts is None else None,
                "power_w": watts,
                "temperature_c": None,
                "sm_clock_mhz": None,
            }
        )
        t += window
    return pd.DataFrame(rows)


def test_warm_up_and_steady_state_come_from_the_data():
    # Two slow warm-up runs, power still climbing for three runs, then flat at 300 W.
    power = [150, 200, 240, 270, 290, 300, 300, 300, 301, 300, 300, 300]
    report = analyse(_timeline(power, [3.0, 2.0] + [1.0] * 10), first_window_s=5.0, window=2, drift=0.02)
    assert report.warmup_runs == 2
    # Runs 4-5 average 295 W, runs 6-7 300 W: moved 1.7% < 2%, so steady from run 6 (runs 2-3 -> 4-5 moved 9%).
    assert report.steady_start == 6
    assert report.joules_per_token_steady == pytest.approx(30.0, rel=0.01)
    assert report.joules_per_token_first == pytest.approx((150 * 3 + 200 * 2) / 20)  # runs started before 5 s
    assert plot_soak(report).axes[0].get_ylabel() == "power (W)"


def test_missing_energy_is_missing_with_a_reason_not_zero():
    report = analyse(_timeline([None] * 8, [1.0] * 8), window=2)
    assert report.energy_source is None and "RAPL" in report.energy_missing
    assert report.joules_per_token_first is None and report.joules_per_token_steady is None
    assert report.steady_by.startswith("seconds per token") and report.steady_start is not None
    assert report.tokens_per_second_steady == pytest.approx(10.0)


def test_a_short_real_soak_is_bounded_and_stoppable(tmp_path):
    ar = workbench.load("tiny-ar")
    store = ResultsStore(tmp_path / "soak.sqlite")
    report = soak(
        ar,
        "Once upon a time ,",
        duration_s=3.0,
        first_window_s=1.0,
        progress=False,
        store=store,
        max_new_tokens=16,
        seed=0,
    )
    assert len(store) == len(report.timeline) + report.cut_runs
    line = report.timeline
    assert len(line) >= 2 and line["end_s"].iloc[-1] < 3.0 + 2.0  # the run at the deadline is cut short ...
    assert report.cut_runs <= 1 and (line["finish_reason"] == "length").all()  # ... and left out
    assert (line["tokens"] > 0).any() and report.tokens_per_second_first > 0
    if report.energy_source is None:  # this machine: no GPU, RAPL unreadable
        assert line["energy_j"].isna().all() and report.energy_missing
    stop = threading.Event()
    stop.set()
    assert len(soak(ar, "Once upon a time ,", duration_s=60, stop=stop, progress=False, max_new_tokens=8).timeline) <= 1
    with pytest.raises(InvalidSettingError, match="duration_s"):
        soak(ar, "Once", duration_s=0)
