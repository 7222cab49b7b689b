"""Every model handle, in-process or served, is a `Generator`, and the code above the engine asks
it what it is instead of checking its class."""

from __future__ import annotations

import threading

import pytest
from fake_openai_server import FakeServer

import workbench
from workbench.engine.generator import Generator
from workbench.engine.settings import AutoregressiveSettings, DiffusionSettings
from workbench.errors import InvalidSettingError
from workbench.measure.telemetry.energy import measured_generate

PROMPT = "once upon a time"


@pytest.fixture
def served():
    with FakeServer() as server:
        handle = workbench.load(server.url, model="ok")
        yield handle
        handle.close()


@pytest.mark.timeout(60)
def test_every_handle_is_a_generator(diffusion, autoregressive, served):
    for handle, kind, is_served in ((diffusion, "diffusion", False), (autoregressive, "autoregressive", False),
                                    (served, "autoregressive", True)):  # fmt: skip
        assert isinstance(handle, Generator)
        assert (handle.kind, handle.is_served) == (kind, is_served)
        assert handle.limits.context_length > 0


def test_each_kind_has_its_own_settings(diffusion, autoregressive):
    dg, ar = diffusion.settings(steps=4, block_size=8), autoregressive.settings(top_k=5)
    assert isinstance(dg, DiffusionSettings) and dg.canvases == -(-dg.max_new_tokens // 8)
    assert isinstance(ar, AutoregressiveSettings) and ar.top_k == 5
    assert not hasattr(ar, "steps") and not hasattr(dg, "top_k")


def test_settings_of_another_kind_are_refused(diffusion, autoregressive):
    with pytest.raises(InvalidSettingError) as caught:
        diffusion.generate(PROMPT, settings=autoregressive.settings(max_new_tokens=8))
    assert caught.value.parameter == "settings"
    with pytest.raises(InvalidSettingError, match="not a setting of autoregressive models"):
        autoregressive.generate(PROMPT, steps=4)


@pytest.mark.timeout(60)
def test_both_kinds_of_handle_share_the_run_setup(autoregressive, served):
    # The same checks guard generate() on both: a bad prompt, a bad hook, a fixed seed recorded.
    for handle in (autoregressive, served):
        with pytest.raises(InvalidSettingError) as caught:
            handle.generate("   ")
        assert caught.value.parameter == "prompt"
        with pytest.raises(InvalidSettingError) as caught:
            handle.generate(PROMPT, stop="now")
        assert caught.value.parameter == "stop"
        result = handle.generate(PROMPT, max_new_tokens=3, temperature=0)
        assert isinstance(result.settings["seed"], int)


@pytest.mark.timeout(60)
def test_the_meter_asks_the_generator_whether_it_is_served(autoregressive, served):
    local = measured_generate(autoregressive, PROMPT, max_new_tokens=3, warn=False)
    remote = measured_generate(served, PROMPT, max_new_tokens=3, stop=threading.Event())
    assert "window_s" in local.telemetry  # metered here
    assert "window_s" not in remote.telemetry and remote.telemetry["served"] is True  # the server's energy
