"""Bad input: one error type that names the parameter, the value and what is allowed; no damage done."""

from __future__ import annotations

import math
import time

import pytest
import torch

import workbench
from workbench.errors import InvalidSettingError, ModelUnavailableError

PROMPT = "once upon a time"


@pytest.mark.parametrize(
    "settings, parameter",
    [
        ({"steps": 0}, "steps"),
        ({"steps": -3}, "steps"),
        ({"steps": 2.5}, "steps"),
        ({"block_size": 0}, "block_size"),
        ({"block_size": 10_000}, "block_size"),
        ({"temperature": -0.1}, "temperature"),
        ({"temperature": math.nan}, "temperature"),
        ({"temperature": math.inf}, "temperature"),
        ({"temperature": "hot"}, "temperature"),
        ({"temperature": 1e-300}, "temperature"),  # would overflow logits / temperature to inf
        ({"max_new_tokens": 0}, "max_new_tokens"),
        ({"max_new_tokens": 4000}, "max_new_tokens"),
        ({"sampler": "nucleus"}, "sampler"),
        ({"entropy_bound": 0}, "entropy_bound"),
        ({"threshold": 1.5}, "threshold"),
        ({"early_exit": "yes"}, "early_exit"),
        ({"top_k": 5}, "top_k"),
        ({"stepz": 5}, "stepz"),
    ],
)
def test_diffusion_rejects(diffusion, settings, parameter):
    with pytest.raises(InvalidSettingError) as caught:
        diffusion.generate(PROMPT, **settings)
    error = caught.value
    assert error.parameter == parameter
    value = next(iter(settings.values()))
    assert repr(value)[:20] in str(error) and "not allowed" in str(error) and error.allowed


@pytest.mark.parametrize(
    "settings, parameter",
    [
        ({"temperature": -1}, "temperature"),
        ({"temperature": "schedule"}, "temperature"),
        ({"top_k": 0}, "top_k"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.2}, "top_p"),
        ({"steps": 8}, "steps"),
        ({"block_size": 8}, "block_size"),
        ({"max_new_tokens": -1}, "max_new_tokens"),
        ({"seed": -5}, "seed"),
    ],
)
def test_autoregressive_rejects(autoregressive, settings, parameter):
    with pytest.raises(InvalidSettingError) as caught:
        autoregressive.generate(PROMPT, **settings)
    assert caught.value.parameter == parameter


def test_messages_say_what_is_allowed(diffusion):
    with pytest.raises(InvalidSettingError, match=r"steps=0 is not allowed: an integer from 1 to \d+"):
        diffusion.generate(PROMPT, steps=0)
    with pytest.raises(InvalidSettingError, match="sampler='nucleus'.*'entropy-bound', 'quota', 'confidence'"):
        diffusion.generate(PROMPT, sampler="nucleus")


@pytest.mark.parametrize("prompt", ["", "   ", None])
def test_empty_prompt(diffusion, autoregressive, prompt):
    for handle in (diffusion, autoregressive):
        with pytest.raises(InvalidSettingError) as caught:
            handle.generate(prompt)
        assert caught.value.parameter == "prompt"


def test_prompt_longer_than_the_context(diffusion, autoregressive):
    long_prompt = " ".join(["cat"] * 200)  # the test models have a 128-token context
    for handle in (diffusion, autoregressive):
        with pytest.raises(InvalidSettingError, match="at most 127 tokens") as caught:
            handle.generate(long_prompt)
        assert caught.value.parameter == "prompt"


def test_prompt_plus_new_tokens_must_fit(diffusion):
    prompt = " ".join(["cat"] * 100)
    with pytest.raises(InvalidSettingError, match="at most 24 for this prompt.*whole canvases") as caught:
        diffusion.generate(prompt, max_new_tokens=32, steps=2)
    assert caught.value.parameter == "max_new_tokens"
    assert diffusion.generate(prompt, max_new_tokens=24, steps=1).forward_passes >= 1


def test_model_still_works_after_errors(diffusion):
    for bad in ({"steps": 0}, {"temperature": -1}, {"block_size": 0}):
        with pytest.raises(InvalidSettingError):
            diffusion.generate(PROMPT, **bad)
    assert diffusion.generate(PROMPT, seed=0, steps=2, max_new_tokens=8).forward_passes >= 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu(diffusion_folder):
    with pytest.raises(InvalidSettingError) as caught:
        workbench.load(str(diffusion_folder), device="cuda")
    assert caught.value.parameter == "device" and "'cpu'" in caught.value.allowed


@pytest.mark.parametrize("device", ["tpu", "gpu", 3.5])
def test_unknown_device(diffusion_folder, device):
    with pytest.raises(InvalidSettingError) as caught:
        workbench.load(str(diffusion_folder), device=device)
    assert caught.value.parameter == "device"


def test_unknown_dtype(diffusion_folder):
    with pytest.raises(InvalidSettingError, match="dtype='int8'"):
        workbench.load(str(diffusion_folder), device="cpu", dtype="int8")


@pytest.mark.parametrize("spec", ["no-such-model", "./missing/folder", ""])
def test_unknown_spec(spec):
    with pytest.raises(InvalidSettingError) as caught:
        workbench.load(spec, device="cpu")
    assert caught.value.parameter == "spec"


def test_folder_without_config(tmp_path):
    with pytest.raises(InvalidSettingError, match="config.json"):
        workbench.load(str(tmp_path), device="cpu")


def empty_hub_cache(monkeypatch, tmp_path) -> None:
    # huggingface_hub read HF_HOME when it was imported; the cache folder it uses now is this constant.
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))


def test_hub_id_offline_fails_fast(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    empty_hub_cache(monkeypatch, tmp_path)
    started = time.perf_counter()
    with pytest.raises(ModelUnavailableError, match="not in the local Hugging Face cache.*HF_HUB_OFFLINE"):
        workbench.load("google/diffusiongemma-26B-A4B-it", device="cpu")
    assert time.perf_counter() - started < 10


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:9", "https://hub.workbench-test.invalid"])
def test_hub_id_unreachable_fails_fast(monkeypatch, tmp_path, endpoint):
    # Port 9 (discard) refuses at once; a .invalid name never resolves, however long the lookup takes.
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    empty_hub_cache(monkeypatch, tmp_path)
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    started = time.perf_counter()
    with pytest.raises(ModelUnavailableError, match="cannot be reached"):
        workbench.load("gemma-4-26b-a4b", device="cpu")
    assert time.perf_counter() - started < 10
