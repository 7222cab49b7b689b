"""The one typed record of what a run measured, built the same from every place a run comes from."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from workbench.engine.result import GenerationResult
from workbench.errors import InvalidSettingError
from workbench.measure.measurement import IdlePower, Measurement, idle_power_fields
from workbench.measure.store import ResultsStore

TELEMETRY = {
    "joules_per_token": 0.5,
    "joules_per_token_missing": None,
    "avg_power_w": 250.0,
    "idle_power_w": 40.0,
    "idle_power_basis": "measured",
    "device_name": "NVIDIA GeForce RTX 5090",
}


def _result() -> GenerationResult:
    return GenerationResult(
        model="m", kind="diffusion", prompt="p", text="t", token_ids=list(range(100)), settings={},
        finish_reason="length", device="cuda:0", dtype="bfloat16", load_s=1.0, prefill_s=0.02,
        time_to_first_token_s=0.1, total_s=0.2, step_times_s=[], forward_passes=6, prompt_tokens=5,
        telemetry=dict(TELEMETRY),
    )  # fmt: skip


def test_a_result_its_compare_json_and_its_store_row_give_the_same_record(tmp_path):
    result = _result()
    from_result = Measurement.from_result(result)
    from_json = Measurement.from_record(json.loads(json.dumps(result.to_dict())))
    store = ResultsStore(tmp_path / "s.sqlite")
    store.add(result)
    from_row = Measurement.from_record(store.to_dataframe().iloc[0].to_dict())
    assert from_result == from_json == from_row
    assert from_result.tokens_per_s == pytest.approx(500.0) and from_result.idle_power_basis == "measured"
    assert from_result.energy_label() == "0.5 J/token"


def test_a_missing_figure_stays_missing_with_its_reason():
    row = pd.Series(
        {
            "tokens_per_second": 12.0,
            "joules_per_token": float("nan"),
            "joules_per_token_missing": "run on cpu",
            "device": "cpu",
        }
    )
    measured = Measurement.from_record(row)
    assert measured.joules_per_token is None and measured.energy_label() == "not measured: run on cpu"


def test_idle_power_is_measured_only_when_measure_idle_power_took_it():
    assert idle_power_fields(IdlePower(watts=31.0, seconds=3.0))["idle_power_basis"] == "measured"
    assert idle_power_fields(31.0)["idle_power_basis"] == "given"
    assert Measurement.from_record({"idle_power_w": 31.0}).idle_power_basis == "given"  # no basis recorded
    with pytest.raises(InvalidSettingError, match="idle_power_w"):
        idle_power_fields(-5)


def test_a_renamed_or_mistyped_figure_is_refused_not_ignored():
    with pytest.raises(InvalidSettingError, match="run tokens_per_second"):
        Measurement.from_record({"tokens_per_second": "650"})
    with pytest.raises(InvalidSettingError, match="run telemetry"):
        Measurement.from_record({"telemetry": "{not json"})


def test_a_benchmark_gives_the_medians_of_its_repeats(autoregressive):
    from workbench.measure.telemetry import benchmark, measured_generate

    bench = benchmark(
        lambda: measured_generate(autoregressive, "once upon a time", max_new_tokens=6, seed=0),
        warmup=1,
        repeats=3,
        progress=False,
    )
    measured = Measurement.from_benchmark(bench)
    assert measured.tokens_per_s == pytest.approx(bench.median("tokens_per_second"))
    assert measured.device == "cpu" and measured.joules_per_token is None  # no GPU here: missing, with why
    assert measured.joules_per_token_missing
