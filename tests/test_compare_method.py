"""compare's method: a cold run kept apart, alternated warm repeats, medians with intervals, verdicts
only past the noise (withheld on a busy machine), and a failing lane that loses no finished run."""

from __future__ import annotations

import json

import pytest

from tests.busy_helpers import busy_loop
from tests.fake_openai_server import FakeServer
from workbench.experiments.compare import DEFAULT_REPEATS, compare_runs, comparison_table
from workbench.measure.store import ResultsStore

SMALL = {"max_new_tokens": 8, "seed": 0}
FEW_STEPS = {"steps": 2}


def small_compare(ar_folder, diffusion_folder, **options):
    return compare_runs(
        "once upon a time", ar=str(ar_folder), diffusion=str(diffusion_folder), device="cpu",
        shared_settings=SMALL, diffusion_settings=FEW_STEPS, **options,
    )  # fmt: skip


def test_cold_run_apart_then_alternated_warm_repeats_with_intervals(ar_folder, diffusion_folder):
    comparison = small_compare(ar_folder, diffusion_folder)
    assert [r.kind for r in comparison.cold] == ["autoregressive", "diffusion"]
    assert [r.kind for r in comparison.warm] == ["autoregressive", "diffusion"] * DEFAULT_REPEATS  # alternated
    summary = comparison.summary().set_index("kind")
    for kind in ("autoregressive", "diffusion"):
        row = summary.loc[kind]
        assert row["warm_runs"] == DEFAULT_REPEATS and row["load_s"] > 0 and row["cold_first_token_s"] > 0
        assert row["tokens_per_second_low"] <= row["tokens_per_second_median"] <= row["tokens_per_second_high"]
        assert row["time_to_first_token_s_low"] <= row["time_to_first_token_s_median"]
        assert row["time_to_first_token_s_median"] <= row["time_to_first_token_s_high"]
    verdict = comparison.verdict()
    if comparison.busy:  # this machine may be shared: then there must be no verdict at all
        assert verdict.outcome == "withheld" and comparison.busy_note().startswith("machine was busy")
    else:
        assert verdict.outcome in ("faster", "slower", "noise") and verdict.samples == DEFAULT_REPEATS
    data = json.loads(json.dumps(comparison.to_dict(), allow_nan=False))
    assert {"models", "verdicts", "busy", "median_runs", "runs", "failures"} <= set(data)
    assert [run["phase"] for run in data["runs"]].count("cold") == 2 and len(data["median_runs"]) == 2
    assert data["models"][0]["cold_first_token_s"] > 0 and data["models"][0]["tokens_per_second_low"] is not None
    assert "busy" in comparison_table(comparison.results).columns


def test_too_few_repeats_say_so_instead_of_a_verdict(ar_folder, diffusion_folder):
    comparison = small_compare(ar_folder, diffusion_folder, repeats=2)
    verdict = comparison.verdict()
    assert verdict.outcome == ("withheld" if comparison.busy else "too_few")
    if not comparison.busy:
        assert f"need {DEFAULT_REPEATS}" in verdict.words
    assert comparison.summary()["tokens_per_second_low"].isna().all()  # no interval from 2 runs


def test_bad_repeats_are_refused_before_loading(ar_folder, diffusion_folder):
    from workbench.errors import InvalidSettingError

    with pytest.raises(InvalidSettingError, match="repeats=0"):
        small_compare(ar_folder, diffusion_folder, repeats=0)


def test_under_a_busy_process_the_cli_prints_busy_and_no_verdict(ar_folder, diffusion_folder, capsys):
    from workbench.cli import main

    with busy_loop():
        status = main(["compare", "once upon a time", "--ar", str(ar_folder), "--diffusion", str(diffusion_folder),
                       "--max-new-tokens", "8", "--steps", "2", "--device", "cpu", "--no-store"])  # fmt: skip
    out = capsys.readouterr().out
    assert status == 0
    assert "no verdict: the machine was busy" in out and "machine was busy in" in out
    for verdict_words in ("is faster here", "is slower here", "within the noise"):
        assert verdict_words not in out


def test_a_failing_served_lane_keeps_and_stores_every_finished_run(ar_folder, diffusion_folder, tmp_path, capsys):
    from workbench.cli import main

    store = tmp_path / "runs.sqlite"
    with FakeServer() as server:  # "http400": the server refuses the request, which raises mid-comparison
        status = main(["compare", "once upon a time", "--ar", str(ar_folder), "--diffusion", str(diffusion_folder),
                       "--max-new-tokens", "8", "--steps", "2", "--device", "cpu", "--served", server.url,
                       "--served-model", "http400", "--repeats", "2", "--json", "--store", str(store)])  # fmt: skip
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert status == 1
    assert [failure["kind"] for failure in data["failures"]] == ["autoregressive"]
    assert data["failures"][0]["model"] == "http400" and "max_tokens is too large" in data["failures"][0]["error"]
    assert len(data["runs"]) == 2 + 2 * 2  # both local models: cold and two warm runs each
    assert "http400 (autoregressive) failed" in captured.err
    stored = ResultsStore(store).to_dataframe()
    assert len(stored) == 6 and "served" not in set(stored["device"])


def test_a_served_run_that_ends_in_error_is_shown_stored_and_reported(ar_folder, diffusion_folder, tmp_path):
    with FakeServer() as server:  # "http500": a result with finish_reason "error", not an exception
        comparison = small_compare(ar_folder, diffusion_folder, served=server.url, served_model="http500", repeats=2)
    served = [r for r in comparison.results if r.device == "served"]
    assert len(served) == 1 and served[0].finish_reason == "error"  # kept, and not repeated
    assert [f.model for f in comparison.failures] == ["http500"] and "HTTP 500" in comparison.failures[0].error
    assert comparison.samples("http500") == []  # an errored run has no speed to compare


def test_a_served_lane_named_like_the_local_model_stays_its_own_lane(ar_folder, diffusion_folder):
    # vLLM serves tiny-ar as "tiny-ar": its runs must not pool with the local tiny-ar's, nor enter the
    # local AR-vs-diffusion verdict.
    from dataclasses import replace

    from workbench.experiments.compare import Comparison

    local = small_compare(ar_folder, diffusion_folder)

    def served_twin(result):
        return replace(result, device="served", telemetry={**result.telemetry, "served": True},
                       total_s=result.total_s * 100)  # fmt: skip

    ar_cold = local.cold[0]
    twin = Comparison(
        prompt=local.prompt, repeats=local.repeats, failures=[],
        cold=[*local.cold, served_twin(ar_cold)],
        warm=[*local.warm, *(served_twin(r) for r in local.warm if r.kind == "autoregressive")],
    )  # fmt: skip
    assert [r.device for r in twin.median_runs()] == ["cpu", "cpu", "served"]
    summary = twin.summary()
    assert list(summary["device"]) == ["cpu", "cpu", "served"] and list(summary["warm_runs"]) == [DEFAULT_REPEATS] * 3
    assert summary.loc[2, "tokens_per_second_median"] < summary.loc[0, "tokens_per_second_median"]  # not pooled
    assert twin.verdict() == local.verdict()  # the local pair only
