"""Roofline ceilings: the reference's anchors, the diffusion formulas, the crossover and scaling."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workbench.cost import (
    Roofline,
    RooflinePoint,
    kv_cache_gb,
    percent_of_ceiling,
    roofline_for,
)
from workbench.errors import InvalidSettingError


def test_ar_anchor_rtx_5090_and_dgx_spark():
    # 3.8B active x 0.5 byte = 1.9 GB per token. 1,792 GB/s / 1.9 GB = 943 tok/s; 273 / 1.9 = 143.7 tok/s
    # (the reference says "near 940" and "~140").
    rtx_5090 = roofline_for("rtx-5090", precision="fp4", active_params_billion=3.8)
    spark = roofline_for("dgx-spark", precision="int4", active_params_billion=3.8)
    assert rtx_5090.ar_tokens_per_s() == pytest.approx(943.16, rel=1e-4)
    assert spark.ar_tokens_per_s() == pytest.approx(143.68, rel=1e-4)


def test_kv_bytes_add_to_every_token():
    # 1.9 GB weights + 0.1 GB KV = 2.0 GB per token: 1,792 / 2.0 = 896 tok/s.
    roof = roofline_for("rtx-5090", precision="fp4", active_params_billion=3.8, kv_gb_per_forward=0.1)
    assert roof.ar_tokens_per_s() == pytest.approx(896.0)


def test_diffusion_compute_and_memory_roofs():
    # H100 FP8: 1,979 TFLOPS, 3,350 GB/s, 3.8B active at 1 byte. Canvas 256, 16 steps -> 16 tokens/forward.
    roof = roofline_for("h100", precision="fp8", active_params_billion=3.8)
    # Compute: 1979e12 / (2 x 3.8e9 x 16 steps) = 16,274 tok/s.
    # Memory: 3350e9 / 3.8e9 = 881.6 forwards/s x 16 tokens = 14,105 tok/s -> memory-bound.
    assert roof.diffusion_tokens_per_s(256, 16) == pytest.approx(14105.3, rel=1e-4)
    assert roof.bound(256) == "memory"
    # Crossover: ridge 1979e12 / 3350e9 = 590.7 FLOP/byte; intensity of n positions = 2n FLOP/byte at
    # 1 byte/param, so n = 295.4.
    assert roof.crossover_positions_per_forward == pytest.approx(295.37, rel=1e-4)
    assert roof.bound(300) == "compute"


def test_moe_canvas_reads_more_weights_but_one_token_does_not():
    # A 256-position canvas routing to all 25.2B weights: 3350 / 25.2 = 132.9 forwards/s x 16 = 2,127 tok/s,
    # while batch-1 AR still reads only the 3.8B active: 881.6 tok/s.
    roof = roofline_for("h100", precision="fp8", active_params_billion=3.8, weights_read_billion=25.2)
    assert roof.diffusion_tokens_per_s(256, 16) == pytest.approx(2126.98, rel=1e-4)
    assert roof.ar_tokens_per_s() == pytest.approx(881.58, rel=1e-4)


def test_int4_uses_the_bf16_compute_figure_and_unpublished_means_no_roof():
    assert roofline_for("h100", precision="int4", active_params_billion=3.8).tflops == 989
    spark = roofline_for("dgx-spark", precision="fp4", active_params_billion=3.8)
    assert spark.tflops is None and spark.crossover_positions_per_forward is None
    assert spark.bound(256) == "unknown"  # never a regime read off a missing figure
    assert "no published fp4 TFLOPS" in spark.tflops_note and "memory roof alone" in spark.tflops_note


def test_measured_point_as_percent_of_its_ceiling():
    roof = roofline_for("rtx-5090", precision="fp4", active_params_billion=3.8)
    assert percent_of_ceiling(700, roof.ar_tokens_per_s()) == pytest.approx(74.22, rel=1e-3)
    # Diffusion claim: 700 tok/s, 256-token canvas, 16 tokens per forward.
    # Compute roof 1676e12 / (2 x 3.8e9 x 16) = 13,783 tok/s -> 5.08%.
    point = RooflinePoint("guide", 700, positions_per_forward=256, tokens_per_forward=16, claim=True)
    assert point.percent_of(roof) == pytest.approx(5.079, rel=1e-3)
    assert point.positions_per_s == pytest.approx(700 * 16)


def test_kv_cache_size():
    # 4,096 tokens x 2 (K and V) x 30 layers x 8 heads x 128 dims x 2 bytes = 0.503 GB.
    assert kv_cache_gb(4096, layers=30, kv_heads=8, head_dim=128) == pytest.approx(0.50331648)


def test_bad_roofline_inputs():
    with pytest.raises(InvalidSettingError, match="precision"):
        roofline_for("rtx-5090", precision="fp2", active_params_billion=3.8)
    with pytest.raises(InvalidSettingError, match="bandwidth_gb_s"):
        roofline_for(precision="fp8", active_params_billion=3.8)
    with pytest.raises(InvalidSettingError, match="bandwidth_gb_s"):
        roofline_for(precision="fp8", active_params_billion=3.8, bandwidth_gb_s=-1)
    with pytest.raises(InvalidSettingError, match="weights_read_billion"):
        roofline_for("h100", precision="fp8", active_params_billion=3.8, weights_read_billion=1.0)


scale = st.floats(0.1, 100.0)


def _roof(bandwidth_gb_s: float = 1000.0, tflops: float | None = 500.0) -> Roofline:
    return Roofline("test", bandwidth_gb_s, tflops, "fp8", active_params_billion=4.0, weights_read_billion=4.0)


@given(factor=scale)
def test_memory_ceiling_scales_linearly_with_bandwidth(factor):
    base, scaled = _roof(tflops=None), _roof(bandwidth_gb_s=1000.0 * factor, tflops=None)
    assert scaled.ar_tokens_per_s() == pytest.approx(factor * base.ar_tokens_per_s())
    assert scaled.diffusion_tokens_per_s(256, 16) == pytest.approx(factor * base.diffusion_tokens_per_s(256, 16))


@given(factor=scale)
def test_compute_ceiling_scales_linearly_with_flops(factor):
    base, scaled = _roof(tflops=500.0), _roof(tflops=500.0 * factor)
    assert scaled.compute_forwards_per_s(256) == pytest.approx(factor * base.compute_forwards_per_s(256))
    # With bandwidth out of the way, the diffusion ceiling is the compute roof alone.
    wide = _roof(bandwidth_gb_s=1e9, tflops=500.0 * factor)
    assert wide.diffusion_tokens_per_s(256, 16) == pytest.approx(500e12 * factor / (2 * 4e9 * 16))


@pytest.mark.parametrize("canvas_tokens", [0, -4, 2.5])
def test_a_bad_canvas_length_is_named_as_such(canvas_tokens):
    roof = roofline_for("h100", precision="fp8", active_params_billion=3.8)
    with pytest.raises(InvalidSettingError, match=f"canvas_tokens={canvas_tokens!r}"):
        roof.diffusion_tokens_per_s(canvas_tokens, 16)
