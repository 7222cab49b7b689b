"""The bundled CSV files load, carry dates and sources, and an edited copy gone wrong names the bad cell."""

from __future__ import annotations

import io
import shutil

import pandas as pd
import pytest

from workbench.cost import (
    cloud_offer,
    gpu_rental,
    hardware_profile,
    load_cloud_prices,
    load_gpu_rental,
    load_hardware,
    load_speed_claims,
    load_tariffs,
    load_tou_tariffs,
    speed_claim,
    tariff,
)
from workbench.errors import InvalidSettingError
from workbench.tables import DATA_DIR

LOADERS = {
    "hardware.csv": load_hardware,
    "cloud_prices.csv": load_cloud_prices,
    "gpu_rental.csv": load_gpu_rental,
    "tariffs.csv": load_tariffs,
    "tou_tariffs.csv": load_tou_tariffs,
    "speed_claims.csv": load_speed_claims,
}


@pytest.mark.parametrize("filename", sorted(LOADERS))
def test_bundled_tables_load_with_date_and_source(filename):
    table = LOADERS[filename]()
    assert len(table) > 0
    assert table["date"].str.len().min() >= 4
    assert table["source"].str.startswith("http").all()


def test_bundled_figures_match_the_reference():
    names = {"rtx-5090", "rtx-4090", "rtx-pro-6000", "dgx-spark", "h100", "h200", "dgx-station"}
    assert set(load_hardware()["name"]) == names
    spark = hardware_profile("dgx-spark")
    assert spark.bandwidth_gb_s == 273 and spark.idle_power_w == 29.5  # midpoint of 22-37 W at the wall
    assert hardware_profile("rtx-5090").idle_power_w is None  # not published: left empty, not guessed
    assert hardware_profile("h200").price_usd is None
    assert tariff("us-residential").mean_usd_per_kwh() == pytest.approx(0.1872)
    assert tariff("san-diego").mean_usd_per_kwh() == pytest.approx(0.35)
    assert tariff("germany", usd_per_eur=1.1).mean_usd_per_kwh() == pytest.approx(0.3835 * 1.1)
    assert cloud_offer("gemma-4-26b-a4b").output_usd_per_m == pytest.approx(0.33)
    assert gpu_rental("rtx-4090").high_usd_per_hour == pytest.approx(0.40)


def test_time_of_use_peak_is_4_to_9_pm():
    hourly = tariff("san-diego-tou-low").usd_per_kwh_by_hour
    assert hourly[15] == pytest.approx(0.33) and hourly[16] == pytest.approx(0.44)
    assert hourly[20] == pytest.approx(0.44) and hourly[21] == pytest.approx(0.33)


def _edited(tmp_path, filename, edit) -> str:
    path = tmp_path / filename
    shutil.copy(DATA_DIR / filename, path)
    path.write_text(edit(path.read_text()))
    return str(path)


def _error(tmp_path, filename, edit) -> InvalidSettingError:
    with pytest.raises(InvalidSettingError) as caught:
        LOADERS[filename](_edited(tmp_path, filename, edit))
    return caught.value


def test_negative_bandwidth_names_file_row_and_field(tmp_path):
    error = _error(tmp_path, "hardware.csv", lambda text: text.replace(",96,1792,", ",96,-1792,"))
    message = str(error)
    assert "hardware.csv" in message and "row 3" in message and "rtx-pro-6000" in message
    assert "bandwidth_gb_s" in message and "-1792" in message


def test_words_in_a_number_cell_are_refused(tmp_path):
    error = _error(tmp_path, "hardware.csv", lambda text: text.replace("RTX 4090,1599", "RTX 4090,cheap"))
    assert "row 2 (rtx-4090) field price_usd" in str(error)


def test_a_column_without_a_unit_is_refused(tmp_path):
    error = _error(tmp_path, "hardware.csv", lambda text: text.replace("bandwidth_gb_s", "bandwidth", 1))
    assert "column" in error.parameter and error.value == "bandwidth" and "unit" in error.allowed


def test_a_missing_column_is_named(tmp_path):
    def drop_memory(text: str) -> str:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        return frame.drop(columns=["memory_gb"]).to_csv(index=False)

    error = _error(tmp_path, "hardware.csv", drop_memory)
    assert error.value == ["memory_gb"]


def test_an_empty_required_cell_is_refused(tmp_path):
    error = _error(tmp_path, "cloud_prices.csv", lambda text: text.replace("0.25,0.75", ",0.75"))
    assert "mercury-2" in str(error) and "input_usd_per_m" in str(error)


def test_a_zero_price_is_refused(tmp_path):
    error = _error(tmp_path, "tariffs.csv", lambda text: text.replace("0.1872", "0"))
    assert "us-residential" in str(error) and "usd_per_kwh" in str(error)


def test_bad_date_and_source_are_refused(tmp_path):
    bad_date = _error(tmp_path, "gpu_rental.csv", lambda text: text.replace(",2026,", ",last year,", 1))
    assert bad_date.parameter.endswith("field date")
    bad_source = _error(tmp_path, "gpu_rental.csv", lambda text: text.replace("https://vast.ai/pricing", "vast.ai", 1))
    assert bad_source.parameter.endswith("field source")


def test_duplicate_names_are_refused(tmp_path):
    error = _error(tmp_path, "cloud_prices.csv", lambda text: text.replace("mercury-2,", "gemma-4-26b-a4b,"))
    assert "row 2" in str(error) and "already used in row 1" in str(error)


def test_overlapping_time_of_use_periods_are_refused(tmp_path):
    error = _error(tmp_path, "tou_tariffs.csv", lambda text: text.replace(",0,16,0.33,", ",0,17,0.33,"))
    assert "san-diego-tou-low" in str(error) and "exactly once" in error.allowed


def test_a_tariff_with_two_currencies_is_refused(tmp_path):
    error = _error(tmp_path, "tariffs.csv", lambda text: text.replace("0.1872,,", "0.1872,0.17,"))
    assert "us-residential" in str(error) and "exactly one of" in error.allowed


def test_rental_range_upside_down_is_refused(tmp_path):
    error = _error(tmp_path, "gpu_rental.csv", lambda text: text.replace("1.5,3.0", "3.5,3.0"))
    assert "high_usd_per_hour" in str(error)


def test_a_notebook_can_pass_an_edited_dataframe():
    table = load_hardware()
    table.loc[table["name"] == "rtx-5090", "idle_power_w"] = 22.0  # the user's own wall-meter reading
    assert hardware_profile("rtx-5090", table).idle_power_w == 22.0
    table.loc[table["name"] == "rtx-5090", "memory_gb"] = -32
    with pytest.raises(InvalidSettingError, match="memory_gb"):
        hardware_profile("rtx-5090", table)


def test_speed_claims_are_labelled_and_every_device_is_a_profile():
    claims = load_speed_claims()
    assert set(claims["hardware"]) <= set(load_hardware()["name"])
    assert speed_claim("h100").tokens_per_s == 1100 and speed_claim("dgx-spark").tokens_per_s == 150
    with pytest.raises(InvalidSettingError, match="hardware='rtx-4090'.*rtx-5090"):
        speed_claim("rtx-4090")


def test_a_speed_claim_without_a_source_is_refused():
    edited = load_speed_claims().assign(source="")
    with pytest.raises(InvalidSettingError, match="row 1 .*field source"):
        load_speed_claims(edited)


@pytest.mark.parametrize(
    "cell, why",
    [
        ('"0,35"', "locale decimal comma: read as 35 before"),
        ("35", "above any tariff: a price in cents?"),
        ("0.35.1", "two decimal points"),
        ("1e400", "overflows to inf"),
    ],
)
def test_a_slipped_number_is_refused_not_priced(tmp_path, cell, why):
    edit = lambda text: text.replace("the product's pitch\",0.35,", f"the product's pitch\",{cell},")  # noqa: E731
    assert edit((DATA_DIR / "tariffs.csv").read_text()) != (DATA_DIR / "tariffs.csv").read_text()
    error = _error(tmp_path, "tariffs.csv", edit)
    assert "row 4 (san-diego) field usd_per_kwh" in error.parameter, why
    assert "<= 10" in error.allowed and "decimal point" in error.allowed


def test_thousands_separators_in_groups_of_three_still_read():
    table = load_hardware(
        io.StringIO((DATA_DIR / "hardware.csv").read_text().replace("RTX 4090,1599", 'RTX 4090,"1,599"'))
    )
    assert table.set_index("name").loc["rtx-4090", "price_usd"] == 1599
