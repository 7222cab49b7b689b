"""The local-vs-cloud model: hand-worked examples, input provenance, "never" verdicts and properties."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from workbench.cost import (
    CloudOffer,
    LocalSetup,
    breakeven_volume,
    compare_costs,
    flat_tariff,
    local_setup,
    local_usd_per_m_tokens,
    sensitivity_table,
    tariff,
)
from workbench.cost.breakeven import marginal_usd_per_token
from workbench.cost.tariffs import hour_weights
from workbench.engine.result import GenerationResult
from workbench.errors import InvalidSettingError

API = CloudOffer("api", input_usd_per_m=0.06, output_usd_per_m=0.33)


def rtx_5090(**changes) -> LocalSetup:
    # RTX 5090 at its $1,999 MSRP, 3 years, 8 h/day from 9 am, $0.35/kWh flat, 700 tok/s at 450 W,
    # 30 W idle (the idle figure is an assumption for the example, not a published one).
    setup = local_setup(
        "rtx-5090", tokens_per_s=700, power_w=450, idle_power_w=30, usd_per_kwh=0.35, lifetime_years=3, hours_per_day=8
    )
    return replace(setup, **changes)


def test_worked_example_rtx_5090_against_a_cheap_api():
    result = compare_costs(rtx_5090(), API, input_per_output=1.0, monthly_tokens=300e6)
    # Month = 365.25 / 12 = 30.4375 days.
    # Capex: 1999 / 36 months = 55.5278 $/month.
    assert result.capex_usd_per_month == pytest.approx(55.527778, rel=1e-6)
    # Idle all day: 30 W x 24 h = 0.72 kWh/day x 30.4375 = 21.915 kWh x 0.35 = 7.67025 $/month.
    assert result.idle_energy_usd_per_month == pytest.approx(7.67025, rel=1e-6)
    # Above idle per token: 450/700 - 30/700 = 0.6 J; 1M tokens = 600 kJ = 0.16667 kWh x 0.35 = 0.058333 $.
    assert result.marginal_usd_per_m_tokens == pytest.approx(0.0583333, rel=1e-5)
    # Capacity: 700 tok/s x 3600 s x 8 h x 30.4375 days = 613.62M tokens/month.
    assert result.capacity_tokens_per_month == pytest.approx(613.62e6)
    # All-in at capacity: 55.5278 + 7.67025 + 0.058333 x 613.62 = 98.9925 $/month = 0.16133 $/M tokens.
    assert result.local_usd_per_month_at_capacity == pytest.approx(98.99253, rel=1e-6)
    assert result.local_usd_per_m_tokens_at_capacity == pytest.approx(0.161325, rel=1e-5)
    # Cloud, one input token per output token: 0.06 + 0.33 = 0.39 $/M.
    assert result.cloud_usd_per_m_tokens == pytest.approx(0.39)
    # Break-even: (55.5278 + 7.67025) / (0.39 - 0.058333) per M = 190.547M tokens/month, 31.05% of capacity.
    assert result.breakeven_tokens_per_month == pytest.approx(190.5468e6, rel=1e-5)
    assert result.breakeven_utilisation == pytest.approx(0.310529, rel=1e-5)
    assert result.never_reason is None
    # Payback at 300M/month: cloud 117 $ - electricity (7.67025 + 0.058333 x 300 = 25.17025 $) = 91.82975 $
    # saved a month; 1999 / 91.82975 = 21.768 months.
    assert result.cloud_usd_per_month == pytest.approx(117.0)
    assert result.payback_months == pytest.approx(21.7684, rel=1e-5)
    assert result.payback_note is None


def test_input_ratio_and_batch_discount_price_the_cloud():
    # 4 input tokens per output at 0.06 + 0.33 = 0.57 $/M; half price in batch = 0.285 $/M.
    batch = replace(API, batch_discount_fraction=0.5)
    assert batch.usd_per_m_output_tokens(4.0) == pytest.approx(0.285)


def test_resale_lowers_capex():
    # 1999 x (1 - 0.25) / 36 = 41.6458 $/month.
    assert compare_costs(rtx_5090(resale_fraction=0.25), API).capex_usd_per_month == pytest.approx(41.645833, rel=1e-6)


def test_system_overhead_scales_every_watt():
    # Factor 1.5: idle 7.67025 x 1.5 = 11.505375 $/month; marginal 0.058333 x 1.5 = 0.0875 $/M.
    result = compare_costs(rtx_5090(system_overhead_factor=1.5), API)
    assert result.idle_energy_usd_per_month == pytest.approx(11.505375, rel=1e-6)
    assert result.marginal_usd_per_m_tokens == pytest.approx(0.0875, rel=1e-6)


def test_time_of_use_prices_the_hours_the_box_runs():
    # san-diego-tou-high: 0.39 $/kWh off-peak, 0.55 on-peak 16-21 h. A box at 150 tok/s and 0.8 J/token
    # (120 W) idling at 29.5 W: above idle 0.8 - 29.5/150 = 0.603333 J/token = 0.167593 kWh per M tokens.
    def setup(start_hour: float) -> LocalSetup:
        return local_setup(
            price_usd=4699,
            tokens_per_s=150,
            joules_per_token=0.8,
            idle_power_w=29.5,
            tariff="san-diego-tou-high",
            hours_per_day=5,
            start_hour=start_hour,
        )

    # 16-21 h, all on-peak: 0.167593 x 0.55 = 0.0921759 $/M. 9-14 h, all off-peak: x 0.39 = 0.0653611 $/M.
    assert marginal_usd_per_token(setup(16)) * 1e6 == pytest.approx(0.0921759, rel=1e-5)
    assert marginal_usd_per_token(setup(9)) * 1e6 == pytest.approx(0.0653611, rel=1e-5)
    # 14-19 h: two hours off-peak, three on-peak -> mean (2 x 0.39 + 3 x 0.55) / 5 = 0.486 $/kWh.
    assert setup(14).tariff.mean_usd_per_kwh(14, 5) == pytest.approx(0.486)
    # Idle is priced around the clock: mean (19 x 0.39 + 5 x 0.55) / 24 = 0.423333 $/kWh;
    # 0.0295 kW x 24 h x 0.423333 x 30.4375 days = 9.12276 $/month.
    assert compare_costs(setup(16), API).idle_energy_usd_per_month == pytest.approx(9.12276, rel=1e-5)


def test_hour_weights_split_fractions_across_midnight():
    weights = hour_weights(22.5, 3.0)
    assert weights[22] == pytest.approx(0.5) and weights[23] == pytest.approx(1.0)
    assert weights[0] == pytest.approx(1.0) and weights[1] == pytest.approx(0.5)
    assert sum(weights) == pytest.approx(3.0)


def test_never_when_local_energy_costs_more_than_the_cloud():
    # 10 tok/s at 450 W: (45 - 3) J/token = 42 MJ per M tokens = 11.67 kWh x 0.35 = 4.08 $/M > 0.39 $/M.
    result = compare_costs(rtx_5090(tokens_per_s=10, joules_per_token=45.0), API)
    assert result.breakeven_tokens_per_month is None
    assert "at or above the cloud price" in result.never_reason


def test_never_when_break_even_is_beyond_capacity():
    # 50 tok/s at 300 W, 30 W idle, 0.10 $/kWh: above idle 6 - 0.6 = 5.4 J = 1.5 kWh per M = 0.15 $/M;
    # fixed 55.53 + 2.19 = 57.72 $/month -> break-even 57.72 / 0.24 = 240M, but 8 h/day makes only 43.8M.
    setup = local_setup(price_usd=1999, tokens_per_s=50, power_w=300, idle_power_w=30, usd_per_kwh=0.10)
    result = compare_costs(setup, API)
    assert result.breakeven_tokens_per_month is None
    assert "the box makes at most" in result.never_reason
    assert breakeven_volume(setup, API) == pytest.approx(240.5e6, rel=1e-3)


def test_payback_never_and_too_much_volume():
    slow = rtx_5090(tokens_per_s=10, joules_per_token=45.0)
    assert compare_costs(slow, API, monthly_tokens=1e6).payback_months is None
    with pytest.raises(InvalidSettingError, match="monthly_tokens"):
        compare_costs(rtx_5090(), API, monthly_tokens=1e12)


def test_measured_run_is_labelled_measured():
    run = {"tokens_per_second": 680.0, "joules_per_token": 0.55, "joules_per_token_missing": None, "avg_power_w": 374.0}
    setup = local_setup("rtx-5090", run, usd_per_kwh=0.35)
    assert setup.tokens_per_s == 680.0 and setup.joules_per_token == 0.55
    assert setup.basis["tokens_per_s"] == "measured" and setup.basis["joules_per_token"] == "measured"
    assert setup.basis["price_usd"] == "projected"
    assert compare_costs(setup, API).basis["joules_per_token"] == "measured"


def test_a_generation_result_or_a_store_row_is_a_measured_run():
    result = GenerationResult(
        model="m",
        kind="diffusion",
        prompt="p",
        text="t",
        token_ids=list(range(100)),
        settings={},
        finish_reason="length",
        device="cuda:0",
        dtype="bfloat16",
        load_s=1.0,
        prefill_s=0.02,
        time_to_first_token_s=0.1,
        total_s=0.2,
        step_times_s=[],
        forward_passes=6,
        prompt_tokens=5,
        telemetry={
            "joules_per_token": 0.5,
            "joules_per_token_missing": None,
            "avg_power_w": 250.0,
            "idle_power_w": 40,
            "idle_power_basis": "measured",
        },
    )
    setup = local_setup("rtx-5090", result, usd_per_kwh=0.3)
    # 100 tokens in 0.2 s = 500 tok/s; idle measured alongside the run (by measure_idle_power).
    assert setup.tokens_per_s == pytest.approx(500.0) and setup.idle_power_w == 40.0
    assert setup.basis["idle_power_w"] == "measured"
    # The same figure typed into the meter by the caller is only "given".
    result.telemetry["idle_power_basis"] = "given"
    assert local_setup("rtx-5090", result, usd_per_kwh=0.3).basis["idle_power_w"] == "given"
    del result.telemetry["idle_power_basis"]
    assert local_setup("rtx-5090", result, usd_per_kwh=0.3).basis["idle_power_w"] == "given"
    # A results-store row holds NaN where the energy was not measured.
    row = pd.Series({"tokens_per_second": 500.0, "joules_per_token": float("nan"), "joules_per_token_missing": "CPU"})
    assert local_setup("rtx-5090", row, usd_per_kwh=0.3).basis["joules_per_token"] == "projected"


def test_missing_joules_falls_back_to_board_power_and_says_so():
    run = {"tokens_per_second": 500.0, "joules_per_token": None, "avg_power_w": 300.0}
    run["joules_per_token_missing"] = "NVML energy not supported"
    setup = local_setup("rtx-5090", run, usd_per_kwh=0.35)
    # 575 W board power / 500 tok/s = 1.15 J/token, labelled projected with the reason.
    assert setup.joules_per_token == pytest.approx(1.15)
    assert setup.basis["joules_per_token"] == "projected"
    assert any("NVML energy not supported" in note and "board power" in note for note in setup.notes)


def test_missing_joules_without_a_profile_is_refused():
    run = {"tokens_per_second": 500.0, "joules_per_token": None, "joules_per_token_missing": "CPU run"}
    with pytest.raises(InvalidSettingError, match="CPU run"):
        local_setup(None, run, price_usd=1000, usd_per_kwh=0.2)


def test_unknown_idle_power_is_missing_not_zero():
    setup = local_setup("rtx-5090", tokens_per_s=700, power_w=450, usd_per_kwh=0.35)
    assert setup.idle_power_w is None and setup.basis["idle_power_w"] == "missing"
    assert any("Idle power unknown" in note and "left out" in note for note in setup.notes)
    result = compare_costs(setup, API)
    assert result.idle_energy_usd_per_month is None and result.basis["idle_power_w"] == "missing"
    # The rest is still priced: 450 W / 700 tok/s = 0.642857 J/token -> 0.178571 kWh per M x 0.35 = 0.0625 $/M.
    assert result.marginal_usd_per_m_tokens == pytest.approx(0.0625, rel=1e-6)
    assert "idle_power_w" not in set(sensitivity_table(setup, API)["input"])
    assert local_setup("dgx-spark", tokens_per_s=150, usd_per_kwh=0.35).idle_power_w == 29.5


def test_default_tariff_is_named_in_the_notes():
    setup = local_setup("rtx-4090", tokens_per_s=300, power_w=350)
    assert setup.tariff.name == "us-residential"
    assert any("No tariff given" in note for note in setup.notes)


@pytest.mark.parametrize(
    "changes, parameter",
    [
        (dict(price_usd=0), "price_usd"),
        (dict(price_usd=-1999), "price_usd"),
        (dict(lifetime_years=0), "lifetime_years"),
        (dict(tokens_per_s=-5), "tokens_per_s"),
        (dict(power_w=0), "power_w"),
        (dict(hours_per_day=25), "hours_per_day"),
        (dict(idle_power_w=600), "idle_power_w"),
        (dict(usd_per_kwh=-0.1), "usd_per_kwh"),
        (dict(resale_fraction=1.5), "resale_fraction"),
        (dict(tariff="mars"), "tariff"),
    ],
)
def test_bad_inputs_name_the_parameter(changes, parameter):
    values = dict(price_usd=1999, tokens_per_s=700, power_w=450, idle_power_w=30, usd_per_kwh=0.35)
    if "tariff" in changes:
        values.pop("usd_per_kwh")
    with pytest.raises(InvalidSettingError) as caught:
        local_setup(**{**values, **changes})
    assert caught.value.parameter == parameter


def test_unknown_names_list_the_known_ones():
    with pytest.raises(InvalidSettingError, match="rtx-5090"):
        local_setup("rtx-9090", tokens_per_s=100)
    with pytest.raises(InvalidSettingError, match="san-diego-tou-high"):
        tariff("atlantis")


def test_bad_cloud_prices_are_refused():
    with pytest.raises(InvalidSettingError, match="output_usd_per_m"):
        CloudOffer("free", 0.1, 0.0)


def test_sensitivity_ranks_inputs_by_swing():
    table = sensitivity_table(rtx_5090(), API, change_fraction=0.2)
    assert list(table["swing"]) == sorted(table["swing"], reverse=True)
    # Price moves the break-even as much as the capex share of fixed cost: 1999 x 0.8 and x 1.2.
    price = table.set_index("input").loc["price_usd"]
    assert price["low_value"] == pytest.approx(1599.2) and price["high_value"] == pytest.approx(2398.8)
    assert price["answer_at_low"] < price["answer_at_base"] < price["answer_at_high"]
    # Hours of use change capacity, not the break-even volume itself.
    assert table.set_index("input").loc["hours_per_day", "swing"] == 0.0


def test_sensitivity_puts_a_verdict_flip_first():
    # Cloud just above the local marginal cost: a 20% cheaper output price makes the local box never pay.
    setup = rtx_5090(tokens_per_s=200, joules_per_token=450 / 200)
    cloud = CloudOffer("close", 0.05, 0.16)
    table = sensitivity_table(setup, cloud, change_fraction=0.2)
    assert table.iloc[0]["swing"] == float("inf")


# ---- properties ---------------------------------------------------------------------------------

prices = st.floats(0.01, 20.0)
kwh = st.floats(0.02, 1.0)


def _box(usd_per_kwh: float = 0.35, hours_per_day: float = 8.0) -> LocalSetup:
    return LocalSetup(
        hardware="test",
        price_usd=2000.0,
        tokens_per_s=500.0,
        joules_per_token=0.9,
        idle_power_w=40.0,
        tariff=flat_tariff(usd_per_kwh),
        hours_per_day=hours_per_day,
    )


@given(low=prices, high=prices)
def test_breakeven_falls_as_the_cloud_gets_dearer(low, high):
    low, high = sorted((low, high))
    cheap, dear = CloudOffer("a", 0.1, low), CloudOffer("b", 0.1, high)
    assert breakeven_volume(_box(), dear) <= breakeven_volume(_box(), cheap) * (1 + 1e-12)


@given(low=kwh, high=kwh)
def test_breakeven_rises_as_electricity_gets_dearer(low, high):
    low, high = sorted((low, high))
    assert breakeven_volume(_box(usd_per_kwh=low), API) <= breakeven_volume(_box(usd_per_kwh=high), API) * (1 + 1e-12)


@given(less=st.floats(0.1, 24.0), more=st.floats(0.1, 24.0))
def test_cost_per_token_falls_as_utilisation_rises(less, more):
    # On a flat tariff; under time-of-use, stretching the day into peak hours can raise it.
    less, more = sorted((less, more))
    busier, idler = local_usd_per_m_tokens(_box(hours_per_day=more)), local_usd_per_m_tokens(_box(hours_per_day=less))
    assert busier <= idler * (1 + 1e-12)


def test_sensitivity_swing_is_undefined_not_zero_when_both_ends_never_break_even():
    # 1 tok/s at 300 W is 300 J/token = 0.0833 kWh/token: far above any API price per token.
    setup = local_setup(price_usd=1999, tokens_per_s=1, power_w=300, idle_power_w=30, usd_per_kwh=0.35)
    table = sensitivity_table(setup, API).set_index("input")
    assert pd.isna(table.loc["price_usd", "swing"])  # never at -20% and at +20%: no number to show
    assert not (table["swing"] == 0).any()


@pytest.mark.parametrize("device, device_name", [("cpu", None), ("cuda:0", "NVIDIA GeForce RTX 4090")])
def test_a_run_from_another_device_is_not_priced_as_this_one(device, device_name):
    run = {
        "tokens_per_second": 11.9,
        "joules_per_token": None,
        "joules_per_token_missing": "no GPU",
        "device": device,
        "device_name": device_name,
    }
    with pytest.raises(InvalidSettingError, match="a run measured on a GeForce RTX 5090") as caught:
        local_setup("rtx-5090", run, usd_per_kwh=0.3)
    assert caught.value.parameter == "run"
    # The same run prices the machine it ran on, labelled measured, when no other device is named.
    setup = local_setup(None, run, price_usd=1500, power_w=65, usd_per_kwh=0.3)
    assert setup.basis["tokens_per_s"] == "measured" and setup.basis["joules_per_token"] == "given"


def test_a_run_on_the_named_device_is_measured():
    run = {
        "tokens_per_second": 680.0,
        "joules_per_token": 0.55,
        "device": "cuda:0",
        "device_name": "NVIDIA GeForce RTX 5090",
    }
    setup = local_setup("rtx-5090", run, usd_per_kwh=0.35)
    assert setup.basis["tokens_per_s"] == "measured" and not any("does not record" in n for n in setup.notes)


def test_typed_values_are_given_and_a_free_input_price_is_allowed():
    setup = local_setup("rtx-5090", tokens_per_s=700, power_w=450, idle_power_w=30, usd_per_kwh=0.35)
    assert {setup.basis[k] for k in ("tokens_per_s", "joules_per_token", "idle_power_w", "usd_per_kwh")} == {"given"}
    assert setup.basis["price_usd"] == "projected"  # the profile's price, not the user's
    free_input = CloudOffer("free-input", 0.0, 0.33)
    assert compare_costs(setup, free_input).cloud_usd_per_m_tokens == pytest.approx(0.33)
