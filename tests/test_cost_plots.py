"""Each cost plot returns a Figure with a title and unit-bearing axis labels, and renders."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from workbench.cost import (  # noqa: E402
    CloudOffer,
    RooflinePoint,
    compare_costs,
    local_setup,
    plots,  # noqa: E402
    roofline_for,
    sensitivity_table,
)

CLOUDS = [CloudOffer("cheap", 0.06, 0.33), CloudOffer("dear", 0.75, 4.50)]


@pytest.fixture(scope="module")
def box():
    return local_setup("rtx-5090", tokens_per_s=700, power_w=450, idle_power_w=30, usd_per_kwh=0.35)


def _check(fig: Figure, units: str) -> None:
    ax = fig.axes[0]
    assert ax.get_title() and ax.get_xlabel()
    assert units in ax.get_xlabel() + ax.get_ylabel()
    fig.savefig(io.BytesIO(), format="png")


def test_cumulative_cost_marks_break_even(box):
    fig = plots.plot_cumulative_cost(box, CLOUDS, monthly_tokens=300e6)
    _check(fig, "USD")
    assert any("break-even" in text.get_text() for text in fig.axes[0].texts)
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    local = lines[f"local {box.hardware}"]
    assert local.get_ydata()[0] == pytest.approx(box.price_usd)  # the price is paid up front
    for cloud in CLOUDS:
        result = compare_costs(box, cloud, monthly_tokens=300e6)
        bill = lines[f"cloud {cloud.name}"].get_ydata()
        assert bill[12] == pytest.approx(12 * result.cloud_usd_per_month)  # a year of API bills
    markers = [line for line in fig.axes[0].get_lines() if line.get_marker() == "o"]
    paybacks = sorted(
        compare_costs(box, c, monthly_tokens=300e6).payback_months
        for c in CLOUDS
        if compare_costs(box, c, monthly_tokens=300e6).payback_months is not None
    )
    assert sorted(float(m.get_xdata()[0]) for m in markers) == pytest.approx(paybacks)


def test_cost_vs_utilisation(box):
    _check(plots.plot_cost_vs_utilisation(box, CLOUDS), "USD per million")


def test_tornado_draws_never_at_the_edge(box):
    # Cloud 0.07 $/M against 0.0583 $/M local energy: 20% off the output price makes the box never pay.
    fig = plots.plot_tornado(sensitivity_table(box, CloudOffer("close", 0.005, 0.065)))
    _check(fig, "tokens/month")
    assert any(text.get_text() == "never" for text in fig.axes[0].texts)


def test_roofline_with_points():
    roofs = [
        roofline_for("rtx-5090", precision="fp4", active_params_billion=3.8),
        roofline_for("dgx-spark", precision="int4", active_params_billion=3.8),
    ]
    points = [RooflinePoint("my AR run", 650), RooflinePoint("vendor", 700, 256, 16, claim=True)]
    fig = plots.plot_roofline(roofs, points)
    _check(fig, "per second")
    assert fig.axes[0].get_xscale() == "log" and fig.axes[0].get_yscale() == "log"
    assert any("(claim)" in text.get_text() for text in fig.axes[0].texts)


def test_tornado_and_sensitivity_table_read_as_words_and_plain_numbers(box):
    from workbench.cost.sensitivity import readable_sensitivity

    table = sensitivity_table(box, CLOUDS[0])
    fig = plots.plot_tornado(table)
    fig.canvas.draw()  # tick labels are formatted at draw time
    ticks = [label.get_text() for label in fig.axes[0].get_yticklabels()]
    assert "purchase price (USD)" in ticks and not any("_" in tick for tick in ticks)
    numbers = [label.get_text() for label in fig.axes[0].get_xticklabels() if label.get_text()]
    assert numbers and all("e" not in text and (" M" in text or text == "0") for text in numbers), numbers
    readable = readable_sensitivity(table)
    assert readable["input"].iloc[0] == "cloud output price (USD per M tokens)"
    assert readable["answer, input lower"].str.endswith("tokens/month").all()
    assert not readable.to_string().count("e+")
