"""Quantized loading through a real backend on this CPU (torchao int8), and clear refusals elsewhere."""

from __future__ import annotations

import json

import pytest
import torch

import workbench
from workbench.errors import InvalidSettingError, ModelDoesNotFitError
from workbench.loading.memory import plan
from workbench.loading.memory.geometry import CONFIGS_DIR

pytest.importorskip("torchao")


def _positions_equal(a: list[int], b: list[int]) -> float:
    return sum(x == y for x, y in zip(a, b)) / max(min(len(a), len(b)), 1)


@pytest.mark.parametrize("name", ["tiny-ar", "tiny-diffusion"])
def test_torchao_int8_loads_generates_and_mostly_agrees_with_full_precision(name):
    full = workbench.load(name, device="cpu")
    small = workbench.load(name, device="cpu", quantization="torchao-int8")
    linear = next(
        m
        for n, m in small.model.named_modules()
        if isinstance(m, torch.nn.Linear) and n.endswith("layers.0.self_attn.q_proj")
    )
    assert linear.weight.qdata.dtype == torch.int8  # really stored as int8, not a relabelled float
    extra = {"steps": 16} if small.kind == "diffusion" else {}
    shares = []
    for seed in range(3):
        a = full.generate("Once upon a time", max_new_tokens=32, temperature=0, seed=seed, **extra)
        b = small.generate("Once upon a time", max_new_tokens=32, temperature=0, seed=seed, **extra)
        assert b.new_tokens > 0 and b.settings["precision"] == "int8" and a.settings["precision"] == "fp32"
        shares.append(_positions_equal(a.token_ids, b.token_ids))
    # Measured with benchmarks/quantized_vs_full.py: tiny-ar 100% of positions equal, tiny-diffusion 98.8%.
    assert sum(shares) / len(shares) >= 0.8, shares


@pytest.mark.parametrize("quantization", ["bnb-4bit", "bnb-8bit", "torchao-int4", "compressed-tensors"])
def test_cuda_only_formats_say_so_on_a_cpu(quantization):
    with pytest.raises(InvalidSettingError, match="needs a CUDA GPU") as raised:
        workbench.load("tiny-ar", device="cpu", quantization=quantization)
    assert raised.value.parameter == "quantization" and "torchao-int8" in raised.value.allowed


def test_unknown_quantization_lists_the_known_ones():
    with pytest.raises(InvalidSettingError, match="torchao-int8"):
        workbench.load("tiny-ar", device="cpu", quantization="int3")


def test_a_model_that_cannot_fit_is_refused_before_its_weights_are_read(tmp_path):
    # A folder with only the 26B-A4B's configuration (as a hub download's first file would be): the
    # plan refuses it; without the plan the error would be about the missing weights.
    fields = json.loads((CONFIGS_DIR / "diffusiongemma-26b-a4b.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({k: v for k, v in fields.items() if not k.startswith("_")}))
    if plan(str(tmp_path), hardware="cpu", precision="fp32").fits:
        pytest.skip("this machine has room for 26B parameters in fp32")
    with pytest.raises(ModelDoesNotFitError, match="does not fit") as raised:
        workbench.load(str(tmp_path), device="cpu", dtype="float32")
    assert raised.value.plan.parts["weights"] == 25_823_778_864 * 4
    assert "GB" in str(raised.value)
