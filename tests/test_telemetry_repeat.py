"""Warm-up, repeats, median and spread, on real callables."""

from __future__ import annotations

import time

import pytest

from workbench.engine.result import GenerationResult
from workbench.errors import InvalidSettingError
from workbench.measure.telemetry import benchmark


def _result(tokens: int, total_s: float) -> GenerationResult:
    return GenerationResult(
        model="m",
        kind="diffusion",
        prompt="p",
        text="t",
        token_ids=list(range(tokens)),
        settings={},
        finish_reason="eos",
        device="cpu",
        dtype="float32",
        load_s=0.0,
        prefill_s=0.01,
        time_to_first_token_s=None,
        total_s=total_s,
        step_times_s=[total_s / 2] * 2,
        forward_passes=2,
        prompt_tokens=1,
        telemetry={"gpu_energy_j": None, "window_s": total_s, "short_window_warning": None},
    )


def test_warmups_are_run_but_not_recorded_and_the_summary_is_exact():
    values = iter([1000, 5, 1, 4, 2, 3])  # the first (warm-up) value is an outlier that must not count
    calls = []

    def fn() -> int:
        calls.append(1)
        return next(values)

    bench = benchmark(fn, warmup=1, repeats=5, progress=False)
    assert len(calls) == 6 and len(bench.runs) == 5 and bench.results == [5, 1, 4, 2, 3]
    row = bench.summary.loc["value"]
    assert (row["n"], row["median"], row["iqr"], row["min"], row["max"]) == (5, 3, 2, 1, 5)
    assert bench.median("value") == 3


def test_wall_time_is_measured_around_real_work():
    bench = benchmark(lambda: time.sleep(0.02), warmup=0, repeats=3, progress=False)
    assert list(bench.runs.columns) == ["repeat", "wall_s"]
    assert 0.02 <= bench.median("wall_s") < 1.0


def test_generation_results_contribute_every_metric():
    results = iter([_result(10, 1.0), _result(20, 1.0), _result(30, 1.0)])
    bench = benchmark(lambda: next(results), warmup=0, repeats=3, progress=False)
    assert bench.median("tokens_per_second") == 20.0
    assert bench.summary.loc["time_to_first_token_s", "n"] == 0  # never measured: counted as absent
    assert "gpu_energy_j" not in bench.summary.index or bench.summary.loc["gpu_energy_j", "n"] == 0
    assert bench.median("window_s") == 1.0
    assert "short_window_warning" not in bench.summary.index


def test_progress_bar_runs(capsys):
    benchmark(lambda: 1.0, warmup=1, repeats=2, desc="smoke")
    assert "smoke" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("warmup", "repeats", "parameter"), [(-1, 5, "warmup"), (1, 0, "repeats"), (1, 2.5, "repeats"), (True, 3, "warmup")]
)
def test_bad_counts_are_rejected(warmup, repeats, parameter):
    with pytest.raises(InvalidSettingError, match=parameter):
        benchmark(lambda: 1, warmup=warmup, repeats=repeats, progress=False)


def test_a_callable_returning_something_unmeasurable_fails_during_warmup():
    calls = []

    def fn() -> str:
        calls.append(1)
        return "not a number"

    with pytest.raises(InvalidSettingError, match="fn="):
        benchmark(fn, warmup=1, repeats=100, progress=False)
    assert len(calls) == 1
