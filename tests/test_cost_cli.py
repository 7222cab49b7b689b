"""The `breakeven` and `roofline` subcommands, mounted on a parser built here."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import shutil

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from workbench.cli.cost import register
from workbench.errors import InvalidSettingError
from workbench.tables import DATA_DIR


def run(capsys, *argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="workbench")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    code = args.func(args)
    return code, capsys.readouterr().out


def test_breakeven_json_matches_the_worked_example(capsys):
    # Same inputs as test_cost_model's RTX 5090 example: break-even 190.547M tokens/month, payback 21.77 months.
    code, out = run(
        capsys,
        "breakeven",
        "--hardware",
        "rtx-5090",
        "--tokens-per-s",
        "700",
        "--power-w",
        "450",
        "--idle-power-w",
        "30",
        "--usd-per-kwh",
        "0.35",
        "--input-usd-per-m",
        "0.06",
        "--output-usd-per-m",
        "0.33",
        "--lifetime-years",
        "3",
        "--hours-per-day",
        "8",
        "--monthly-tokens",
        "3e8",
        "--json",
    )
    assert code == 0
    result = json.loads(out)
    comparison = result["comparison"]
    assert comparison["breakeven_tokens_per_month"] == pytest.approx(190.5468e6, rel=1e-5)
    assert comparison["payback_months"] == pytest.approx(21.7684, rel=1e-5)
    assert comparison["basis"]["tokens_per_s"] == "given"  # typed by the user: neither measured nor projected
    assert result["local"]["price_usd"] == 1999
    assert result["cloud"]["name"] == "custom"


def test_breakeven_from_a_measured_run_file(capsys, tmp_path):
    run_file = tmp_path / "run.json"
    measured = {"tokens_per_second": 650, "joules_per_token": 0.6, "joules_per_token_missing": None, "avg_power_w": 390}
    run_file.write_text(json.dumps(measured))
    code, out = run(
        capsys,
        "breakeven",
        "--hardware",
        "rtx-5090",
        "--run",
        str(run_file),
        "--tariff",
        "san-diego",
        "--cloud",
        "mercury-2",
        "--json",
    )
    comparison = json.loads(out)["comparison"]
    assert code == 0
    assert comparison["basis"]["tokens_per_s"] == "measured" and comparison["basis"]["joules_per_token"] == "measured"
    assert comparison["cloud"] == "mercury-2"


def gpu_run(kind: str, tokens: int = 200, joules: float = 0.5, device_name: str | None = None):
    """A GPU run as the engine records it: energy in telemetry, measured on a real meter."""
    from workbench.engine.result import GenerationResult

    return GenerationResult(
        model=f"tiny-{kind}", kind=kind, prompt="p", text="t", token_ids=list(range(tokens)), settings={},
        finish_reason="length", device="cuda:0", dtype="bfloat16", load_s=1.0, prefill_s=0.01,
        time_to_first_token_s=0.02, total_s=0.4, step_times_s=[], forward_passes=10, prompt_tokens=3,
        telemetry={"joules_per_token": joules, "joules_per_token_missing": None, "avg_power_w": joules * tokens / 0.4,
                   "gpu_energy_j": joules * tokens, "gpu_energy_missing": None, "idle_power_w": 40.0,
                   **({"device_name": device_name} if device_name else {})},
    )  # fmt: skip


def test_breakeven_takes_a_run_from_compare_json_output(capsys, tmp_path):
    runs = tmp_path / "compare.json"
    runs.write_text(json.dumps([gpu_run("autoregressive", joules=0.9).to_dict(), gpu_run("diffusion").to_dict()]))
    base = ("breakeven", "--hardware", "rtx-5090", "--run", str(runs), "--tariff", "san-diego", "--json")
    code, out = run(capsys, *base, "--run-kind", "diffusion")
    local = json.loads(out)["local"]
    assert code == 0 and local["tokens_per_s"] == pytest.approx(500.0) and local["joules_per_token"] == 0.5
    assert local["basis"]["joules_per_token"] == "measured" and local["idle_power_w"] == 40.0
    with pytest.raises(InvalidSettingError, match="--run-kind=None .*autoregressive, diffusion"):
        run(capsys, *base)


def test_breakeven_takes_a_run_from_the_results_store(capsys, tmp_path):
    from workbench.measure.store import ResultsStore

    store = ResultsStore(tmp_path / "results.sqlite")
    store.add(gpu_run("diffusion", joules=0.25))
    uuid = store.to_dataframe()["run_uuid"].iloc[0]
    base = ("breakeven", "--hardware", "rtx-5090", "--store", str(store.path), "--tariff", "san-diego", "--json")
    code, out = run(capsys, *base, "--run-uuid", uuid)
    local = json.loads(out)["local"]
    assert code == 0 and local["joules_per_token"] == 0.25 and local["basis"]["tokens_per_s"] == "measured"
    with pytest.raises(InvalidSettingError, match="--run-uuid='nope'"):
        run(capsys, *base, "--run-uuid", "nope")


def test_breakeven_summary_is_readable(capsys):
    code, out = run(
        capsys, "breakeven", "--hardware", "dgx-spark", "--tokens-per-s", "150", "--tariff", "san-diego-tou-high"
    )
    assert code == 0
    assert "dgx-spark vs gemma-4-26b-a4b" in out and "break-even" in out and "board power" in out


def test_breakeven_reads_an_edited_data_dir(capsys, tmp_path):
    shutil.copy(DATA_DIR / "hardware.csv", tmp_path / "hardware.csv")
    path = tmp_path / "hardware.csv"
    path.write_text(path.read_text().replace("GeForce RTX 5090,1999", "GeForce RTX 5090,2500"))
    code, out = run(
        capsys, "breakeven", "--hardware", "rtx-5090", "--tokens-per-s", "700", "--data-dir", str(tmp_path), "--json"
    )
    assert json.loads(out)["local"]["price_usd"] == 2500


@pytest.mark.parametrize(
    "argv, parameter",
    [
        (["--hardware", "rtx-9090", "--tokens-per-s", "100"], "--hardware"),
        (["--hardware", "rtx-5090", "--tokens-per-s", "100", "--hours-per-day", "30"], "--hours-per-day"),
        (["--hardware", "rtx-5090", "--tokens-per-s", "0"], "--tokens-per-s"),
        (["--hardware", "rtx-5090", "--tokens-per-s", "100", "--tariff", "moon"], "--tariff"),
        (["--hardware", "rtx-5090", "--tokens-per-s", "100", "--input-usd-per-m", "0.1"], "--output-usd-per-m"),
        (["--price-usd", "-5", "--tokens-per-s", "100", "--power-w", "300"], "--price-usd"),
    ],
)
def test_breakeven_bad_input_raises(capsys, argv, parameter):
    with pytest.raises(InvalidSettingError) as caught:
        run(capsys, "breakeven", *argv)
    assert caught.value.parameter == parameter


def test_roofline_json(capsys):
    code, out = run(
        capsys,
        "roofline",
        "--hardware",
        "rtx-5090",
        "--precision",
        "fp4",
        "--tokens-per-s",
        "700",
        "--kind",
        "ar",
        "--json",
    )
    report = json.loads(out)
    assert code == 0
    assert report["roofline"]["ar_tokens_per_s"] == pytest.approx(943.16, rel=1e-4)
    assert report["measured"]["percent_of_ceiling"] == pytest.approx(74.22, rel=1e-3)


def test_roofline_explicit_device_summary(capsys):
    code, out = run(capsys, "roofline", "--bandwidth-gb-s", "273", "--precision", "int4")
    assert code == 0 and "144 tok/s" in out and "compute roof unknown" in out


def test_roofline_bad_input_raises(capsys):
    with pytest.raises(InvalidSettingError, match="--bandwidth-gb-s"):
        run(capsys, "roofline", "--bandwidth-gb-s", "-1")


def _strict_json(text: str):
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.0, -1.0, 1e-300, 1e308, 5e-324, 24.0, 24.000001, 1e7, 1e7 + 1]),
)


@settings(max_examples=120, deadline=None)
# A break-even that is reached has no never_reason: the key is left out rather than set to null.
@example(speed=1.0, power=0.5, idle=0.0, hours=1.0, kwh=1.0, price=507.0, monthly=1.0)
@given(speed=NUMBERS, power=NUMBERS, idle=NUMBERS, hours=NUMBERS, kwh=NUMBERS, price=NUMBERS, monthly=NUMBERS)
def test_breakeven_json_is_valid_or_the_input_is_named(speed, power, idle, hours, kwh, price, monthly):
    from workbench.cli import main

    values = {
        "tokens-per-s": speed,
        "power-w": power,
        "idle-power-w": idle,
        "hours-per-day": hours,
        "usd-per-kwh": kwh,
        "output-usd-per-m": price,
        "monthly-tokens": monthly,
    }
    argv = [
        "breakeven",
        "--hardware",
        "rtx-5090",
        "--input-usd-per-m",
        "0",
        "--json",
        *(f"--{flag}={value!r}" for flag, value in values.items()),
    ]  # '=' lets a value start with '-'
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    if code == 2:
        assert err.getvalue().count("\n") == 1 and "is not allowed" in err.getvalue()
        return
    assert code == 0, err.getvalue()
    report = _strict_json(out.getvalue())  # no NaN, no Infinity
    for key, value in report["comparison"].items():
        if value is None and not key.endswith("_missing"):
            assert report["comparison"].get(f"{key}_missing") or key in (
                "breakeven_tokens_per_month",
                "payback_months",
                "breakeven_utilisation",
            )


def test_an_overflowing_figure_is_null_with_its_reason():
    from workbench.cli.cost import finite_report

    report = finite_report({"a": float("inf"), "b": [1.0, float("nan")], "c": {"d": 2.0}})
    assert report == {"a": None, "a_missing": report["a_missing"], "b": [1.0, None], "c": {"d": 2.0}}
    assert "not computable" in report["a_missing"]
    json.dumps(report, allow_nan=False)


def served_run():
    """A served run as `workbench compare --served URL --json` records it (no energy: it is the server's)."""
    from dataclasses import replace

    run = replace(gpu_run("autoregressive", tokens=64), device="served", forward_passes=None, total_s=0.5)
    run.telemetry = {"served": True, "endpoint": "http://127.0.0.1:8000/v1", "server_model": "tiny-ar",
                     "joules_per_token_missing": "served: the energy is spent on the server"}  # fmt: skip
    return run


def test_breakeven_puts_a_measured_served_run_beside_the_cloud_price(capsys, tmp_path):
    runs = tmp_path / "compare.json"
    listed = [gpu_run("autoregressive", joules=0.9), gpu_run("diffusion"), served_run()]
    runs.write_text(json.dumps([result.to_dict() for result in listed]))
    base = (
        "breakeven",
        "--hardware",
        "rtx-5090",
        "--tariff",
        "san-diego",
        "--run",
        str(runs),
        "--run-kind",
        "autoregressive",
    )
    code, out = run(capsys, *base, "--cloud-run", str(runs), "--json")
    report = json.loads(out)
    assert code == 0 and report["local"]["joules_per_token"] == 0.9  # the local AR run, not the served one
    measured = report["cloud_measured"]
    assert measured["endpoint"] == "http://127.0.0.1:8000/v1" and measured["tokens_per_second"] == pytest.approx(128.0)
    assert measured["time_to_first_token_s"] == 0.02
    code, out = run(capsys, *base, "--cloud-run", str(runs))
    assert "cloud measured at http://127.0.0.1:8000/v1: 128 tok/s, first token 0.02 s" in out
    single = tmp_path / "served.json"
    single.write_text(served_run().to_json())
    with pytest.raises(InvalidSettingError, match="a served run goes to --cloud-run"):
        run(capsys, "breakeven", "--hardware", "rtx-5090", "--run", str(single))
    local = tmp_path / "local.json"
    local.write_text(gpu_run("diffusion").to_json())
    with pytest.raises(InvalidSettingError, match="--cloud-run=.*a served run"):
        run(capsys, "breakeven", "--hardware", "rtx-5090", "--cloud-run", str(local))


RTX_5090 = "NVIDIA GeForce RTX 5090"


def test_breakeven_without_a_speed_prices_the_newest_run_on_that_hardware(capsys, tmp_path):
    from workbench.measure.store import ResultsStore

    store = ResultsStore(tmp_path / "results.sqlite")
    store.add(gpu_run("autoregressive", tokens=100, device_name=RTX_5090), tags={"source": "compare"})
    store.add(gpu_run("diffusion", tokens=300, device_name=RTX_5090), tags={"source": "compare"})
    store.add(gpu_run("diffusion", tokens=50, device_name="NVIDIA H100 80GB HBM3"))  # newer, another machine
    newest = store.to_dataframe()["run_uuid"].iloc[1]
    base = ("breakeven", "--hardware", "rtx-5090", "--tariff", "us-residential", "--cloud", "mercury-2")
    code, out = run(capsys, *base, "--store", str(store.path))
    assert code == 0 and f"speed from the results store: run {newest[:8]} (tiny-diffusion, diffusion)" in out
    assert "by workbench compare on NVIDIA GeForce RTX 5090" in out and "750 tok/s" not in out
    code, out = run(capsys, *base, "--store", str(store.path), "--json")
    report = json.loads(out)
    assert report["run"]["run_uuid"] == newest and report["local"]["tokens_per_s"] == pytest.approx(750.0)
    assert report["comparison"]["basis"]["tokens_per_s"] == "measured"


def test_breakeven_with_no_matching_run_lists_the_ways_forward(capsys, tmp_path):
    from workbench.measure.store import ResultsStore

    store = ResultsStore(tmp_path / "results.sqlite")
    store.add(gpu_run("diffusion", device_name="NVIDIA H100 80GB HBM3"))
    with pytest.raises(InvalidSettingError) as caught:
        run(capsys, "breakeven", "--hardware", "rtx-5090", "--store", str(store.path))
    message = str(caught.value)
    assert caught.value.parameter == "--tokens-per-s" and "1 on NVIDIA H100 80GB HBM3" in message
    for way in ("workbench compare", "give --tokens-per-s", "--speed-claim NAME (google-guide-rtx-5090"):
        assert way in message
    code, out = run(capsys, "breakeven", "--hardware", "rtx-5090", "--speed-claim", "google-guide-rtx-5090")
    assert code == 0 and "claim inputs: --tokens-per-s" in out and "is a vendor claim, not a measurement" in out
    with pytest.raises(InvalidSettingError, match="--speed-claim='nvidia-h100' .*is for h100"):
        run(capsys, "breakeven", "--hardware", "rtx-5090", "--speed-claim", "nvidia-h100")


@pytest.mark.parametrize(
    "what, shows", [("hardware", "rtx-5090         2025-01"), ("tariffs", "germany"), ("clouds", "mercury-2")]
)
def test_list_shows_valid_names_with_dates(capsys, what, shows):
    code, out = run(capsys, "breakeven", "--list", what)
    assert code == 0 and shows in out and all(re.search(r"\b20\d\d", line) for line in out.splitlines())


def test_errors_name_the_flag_typed(capsys):
    with pytest.raises(InvalidSettingError) as caught:
        run(capsys, "breakeven", "--hardware", "dgx-spark", "--tokens-per-s", "100", "--price-usd", "-5")
    assert caught.value.parameter == "--price-usd" and str(caught.value).startswith("--price-usd=-5.0")
    with pytest.raises(InvalidSettingError, match="pass --joules-per-token or --power-w"):
        run(capsys, "breakeven", "--price-usd", "1000", "--tokens-per-s", "100")


def test_human_output_uses_readable_units_and_json_keeps_raw_numbers(capsys):
    argv = ("breakeven", "--hardware", "rtx-5090", "--tokens-per-s", "700", "--power-w", "450",
            "--idle-power-w", "30", "--usd-per-kwh", "0.35", "--monthly-tokens", "3e8")  # fmt: skip
    code, out = run(capsys, *argv)
    assert code == 0 and "e+0" not in out
    assert "614 M tokens/month" in out and "months" in out and re.search(r"\$\d", out)
    code, out = run(capsys, *argv, "--json")
    assert json.loads(out)["comparison"]["capacity_tokens_per_month"] == pytest.approx(700 * 3600 * 8 * 365.25 / 12)


def test_eu_tariffs_are_priced_at_the_dated_default_rate(capsys):
    base = ("breakeven", "--hardware", "rtx-5090", "--tokens-per-s", "700", "--tariff", "germany", "--json")
    code, out = run(capsys, *base)
    tariff = json.loads(out)["local"]["tariff"]
    assert code == 0 and tariff["usd_per_kwh_by_hour"][0] == pytest.approx(0.3835 * 1.0389)
    assert "ecb-reference rate of 2024-12-31" in tariff["notes"]
    code, out = run(capsys, *base, "--usd-per-eur", "1.2")
    assert json.loads(out)["local"]["tariff"]["usd_per_kwh_by_hour"][0] == pytest.approx(0.3835 * 1.2)


def test_roofline_says_which_figure_is_missing_and_labels_no_regime(capsys):
    code, out = run(capsys, "roofline", "--hardware", "rtx-5090", "--precision", "bf16")
    assert code == 0 and "-bound)" not in out and out.count("(memory roof only: regime unknown)") == 2
    assert "no published bf16 TFLOPS figure (published: fp8 838, fp4 1676)" in out and "--tflops" in out
    code, out = run(capsys, "roofline", "--hardware", "rtx-5090", "--precision", "bf16", "--json")
    assert json.loads(out)["diffusion_bound"] == "unknown"
