"""The memory plan: exact counts from the published geometry, checked by hand; verdicts; the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from workbench.errors import InvalidSettingError
from workbench.loading.memory import geometry, plan
from workbench.loading.memory.plan import LOGITS_COPIES

GIB = 2**30
# DiffusionGemma 26B-A4B (REFERENCE section 9): the repository's files hold 51,647,701,024 bytes of bf16.
PUBLISHED_BF16_BYTES = 51_647_701_024


def test_weights_of_the_26b_match_the_published_checkpoint():
    shape = geometry("diffusiongemma-26b-a4b")
    # 25,823,778,864 parameters x 2 bytes = 51,647,557,728 bytes; the published figure is 143,296
    # bytes more (the safetensors headers of ~1,200 tensors), 0.0003%.
    assert shape.total_params * 2 == 51_647_557_728
    assert abs(shape.total_params * 2 - PUBLISHED_BF16_BYTES) / PUBLISHED_BF16_BYTES < 1e-5
    # Gemma 4 26B-A4B is the same model without DiffusionGemma's self-conditioning block.
    assert geometry("gemma-4-26b-a4b").total_params == shape.total_params - 17_844_992


def test_bf16_on_an_rtx_5090_does_not_fit_and_says_by_how_much():
    result = plan("diffusiongemma-26b-a4b", hardware="rtx-5090", precision="bf16", context_tokens=4096)
    # Hand calculation from the published geometry (REFERENCE section 9):
    #   KV cache, 25 sliding layers: 2 (K, V) x 8 heads x 256 dims x 2 bytes x 1,024 (window) = 8 MiB each
    #            5 full layers:      2 x 2 heads x 512 dims x 2 bytes x 4,096 tokens            = 16 MiB each
    #            = 25 x 8,388,608 + 5 x 16,777,216 = 293,601,280 bytes
    #   logits:  6 copies x 256 canvas x 262,144 vocab x 4 bytes (fp32) = 1,610,612,736 bytes
    #   memory:  32 GiB = 34,359,738,368 bytes; the weights alone are 51.6 GB.
    assert result.parts["weights"] == 51_647_557_728
    assert result.parts["kv_cache"] == 25 * 2 * 8 * 256 * 2 * 1024 + 5 * 2 * 2 * 512 * 2 * 4096 == 293_601_280
    assert result.parts["logits"] == LOGITS_COPIES * 256 * 262_144 * 4 == 1_610_612_736
    assert result.parts["loading"] == 0  # a GPU profile: the checkpoint is read in host memory
    assert result.capacity_bytes == 32 * GIB
    assert not result.fits
    assert result.margin_bytes < -(51_647_557_728 - 32 * GIB)  # short by more than the weights' excess (17.3 GB)
    assert "does not fit" in result.verdict() and "short" in result.verdict()
    assert any(line.startswith("fp8 fits") for line in result.suggestions)
    assert "no context fits in bf16" in " ".join(result.suggestions)


def test_a_4bit_build_fits_an_rtx_5090_with_headroom():
    result = plan("diffusiongemma-26b-a4b", hardware="rtx-5090", precision="int4", context_tokens=4096)
    shape = geometry("diffusiongemma-26b-a4b")
    # 24,494,243,840 matrix weights at 0.5 byte + a bf16 scale and zero per 128 (0.53125 byte), the
    # other 1,329,535,024 parameters (embedding, norms, routers, vision tower) at 2 bytes:
    # 13,012,567,040 + 2,659,070,048 = 15,671,637,088 bytes.
    assert shape.matrix_params == 24_494_243_840
    assert result.parts["weights"] == 15_671_637_088
    assert result.fits and result.margin_bytes > 10e9
    longest = int(result.suggestions[0].rsplit(": ", 1)[1].split()[0].replace(",", ""))
    assert plan("diffusiongemma-26b-a4b", hardware="rtx-5090", precision="int4", context_tokens=longest).fits
    assert not plan("diffusiongemma-26b-a4b", hardware="rtx-5090", precision="int4", context_tokens=longest + 1).fits


def test_the_canvas_counts_for_diffusion_and_not_for_autoregressive():
    canvas = plan("diffusiongemma-26b-a4b", hardware="h100", precision="fp8", block_size=64)
    ar = plan("gemma-4-26b-a4b", hardware="h100", precision="fp8")
    assert canvas.parts["logits"] == LOGITS_COPIES * 64 * 262_144 * 4
    assert ar.parts["logits"] == LOGITS_COPIES * 1 * 262_144 * 2  # last position only, in bf16
    assert ar.block_size is None


@pytest.mark.parametrize(
    ("keywords", "parameter"),
    [
        ({"precision": "bf17"}, "precision"),
        ({"hardware": "rtx-9999"}, "hardware"),
        ({"context_tokens": 0}, "context_tokens"),
        ({"context_tokens": 262_145}, "context_tokens"),
        ({"block_size": 0}, "block_size"),
    ],
)
def test_bad_input_names_the_parameter(keywords, parameter):
    with pytest.raises(InvalidSettingError) as raised:
        plan("diffusiongemma-26b-a4b", **{"hardware": "rtx-5090", **keywords})
    assert raised.value.parameter == parameter


def test_an_autoregressive_model_has_no_canvas():
    with pytest.raises(InvalidSettingError, match="block_size"):
        plan("gemma-4-26b-a4b", hardware="rtx-5090", block_size=256)


def _cli(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *arguments], capture_output=True, text=True, timeout=120
    )


def test_cli_plan_says_does_not_fit_then_fits():
    refused = _cli("plan", "diffusiongemma-26b-a4b", "--hardware", "rtx-5090", "--precision", "bf16")
    assert refused.returncode == 1, refused.stderr
    assert "does not fit" in refused.stdout and "51.65 GB" in refused.stdout
    fits = _cli("plan", "diffusiongemma-26b-a4b", "--hardware", "rtx-5090", "--precision", "int4", "--json")
    assert fits.returncode == 0, fits.stderr
    answer = json.loads(fits.stdout)
    assert answer["fits"] is True and answer["parts"]["weights"] == 15_671_637_088


def test_cli_plan_bad_precision_is_one_line():
    result = _cli("plan", "diffusiongemma-26b-a4b", "--precision", "bf17", "--hardware", "rtx-5090")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "precision='bf17'" in result.stderr
