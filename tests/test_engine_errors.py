"""Bad input: one error type that names the parameter, the value and what is allowed; no damage done."""

from __future__ import annotations

import json
import math
import shutil
import socket
import threading
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


def test_a_folder_that_names_its_own_code_is_refused_unless_trusted(tmp_path, ar_folder):
    folder = tmp_path / "custom-code"
    shutil.copytree(ar_folder, folder)
    marker = tmp_path / "code-ran"
    (folder / "evil.py").write_text(f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n")
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "evil.EvilConfig", "AutoModelForCausalLM": "evil.EvilModel"}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(InvalidSettingError, match="trust_remote_code=False.*auto_map") as caught:
        workbench.load(str(folder), device="cpu")
    assert caught.value.parameter == "trust_remote_code"
    assert not marker.exists()
    with pytest.raises(InvalidSettingError, match="trust_remote_code"):
        workbench.load(str(folder), device="cpu", trust_remote_code="yes")


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


@pytest.fixture
def hostile_hub():
    """A local server that accepts connections and then either says nothing or answers in plain text."""
    server = socket.create_server(("127.0.0.1", 0))
    reply: list[bytes] = []  # empty: silent
    connections: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            connections.append(connection)
            if reply:
                connection.sendall(reply[0])

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1], reply
    server.close()
    for connection in connections:
        connection.close()


@pytest.mark.parametrize("behaviour", ["silent", "not-tls"])
def test_hub_that_accepts_but_does_not_answer_fails_within_the_deadline(monkeypatch, tmp_path, hostile_hub, behaviour):
    port, reply = hostile_hub
    scheme = "http"
    if behaviour == "not-tls":  # an https endpoint whose server speaks plain HTTP: the TLS handshake fails
        reply.append(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        scheme = "https"
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    empty_hub_cache(monkeypatch, tmp_path)
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "ENDPOINT", f"{scheme}://127.0.0.1:{port}")
    started = time.perf_counter()
    with pytest.raises(ModelUnavailableError, match="cannot be reached") as caught:
        workbench.load("gemma-4-26b-a4b", device="cpu")
    assert time.perf_counter() - started < 10
    assert f"127.0.0.1:{port}" in str(caught.value)


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


@pytest.mark.parametrize(
    "keyword, value",
    [("prompt", "a cat \ud800 sat"), ("callback", "print"), ("stop", True)],
)
def test_bad_prompt_callback_or_stop_is_refused_before_any_work(autoregressive, keyword, value):
    # Before: a str callback or a bool stop raised TypeError after the first forward pass, and a lone
    # surrogate raised UnicodeEncodeError inside the tokenizer.
    with pytest.raises(InvalidSettingError) as caught:
        autoregressive.generate(**{"prompt": "a cat", keyword: value}, max_new_tokens=2)
    assert caught.value.parameter == keyword
