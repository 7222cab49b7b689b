"""The fast path (`compile=True`): the knob, what a run records, the trace kept whole, and the
fallback to eager with its reason when compiling is impossible (no C++ compiler) or fails (a real
torch.compile error, from a backend that does not exist). Parity with transformers' generate() is
tested beside the eager parity tests (test_engine_autoregressive.py, test_engine_diffusion.py)."""

from __future__ import annotations

import warnings

import pytest
import torch

import workbench
from workbench.engine import fast_path
from workbench.engine.fast_path import FastPathFallback, cache_length
from workbench.errors import InvalidSettingError

PROMPT = "once upon a time , there was a cat"


def test_compile_is_a_checked_setting_with_a_handle_default(autoregressive):
    with pytest.raises(InvalidSettingError, match="compile"):
        autoregressive.generate(PROMPT, compile="yes", max_new_tokens=2)
    with pytest.raises(InvalidSettingError, match="compile"):
        autoregressive.compile = 1
    assert autoregressive.compile is False and autoregressive.settings().compile is False
    autoregressive.compile = True
    try:
        assert autoregressive.settings().compile is True
        assert autoregressive.settings(compile=False).compile is False  # a run's keyword wins over the default
    finally:
        autoregressive.compile = False


def test_compile_and_warm_up_are_timed_outside_the_run(autoregressive):
    first = autoregressive.generate(PROMPT, temperature=0, max_new_tokens=20, compile=True)
    again = autoregressive.generate(PROMPT, temperature=0, max_new_tokens=20, compile=True)
    report = first.telemetry["fast_path"]
    assert report["used"] and report["reason"] is None and report["cache_length"] == cache_length(29, 128)
    assert report["note"] is None  # the warm-up covered every step: nothing compiled inside the run
    # Another test may have compiled this shape already; a second run never compiles again.
    assert report["compile_s"] >= 0 and again.telemetry["fast_path"]["compile_s"] == 0.0
    if report["compile_s"] > 0:  # compiling took seconds; the run's own time does not include them
        assert first.total_s < report["compile_s"]


def test_another_thread_count_compiles_again_before_the_run_not_inside_it(autoregressive):
    # Loading another model may set torch's thread count (workbench.load's thread policy); the
    # graphs compiled under the old count no longer pass dynamo's guards.
    before = torch.get_num_threads()
    autoregressive.generate(PROMPT, temperature=0, max_new_tokens=4, compile=True)  # compiled at `before`
    torch.set_num_threads(2 if before == 1 else 1)
    try:
        report = autoregressive.generate(PROMPT, temperature=0, max_new_tokens=4, compile=True).telemetry["fast_path"]
    finally:
        torch.set_num_threads(before)
    # Compiled now, or by an earlier test at that count: either way not inside the run.
    assert report["used"] and report["note"] is None


def test_each_shape_compiles_within_its_own_recompile_limit(autoregressive):
    # Dynamo allows a function `recompile_limit` variants (8 by default). Shared by every shape and
    # handle, a notebook trying a few canvas or cache lengths ran out and went eager; each compile
    # now counts its own. A limit of 2 covers one shape's variants (static, then the fill level
    # as a symbol), so a second shape would fail if the variants were still shared.
    with torch._dynamo.config.patch(recompile_limit=2):
        for new_tokens in (40, 100):  # static caches of 64 and 128 positions
            report = autoregressive.generate(PROMPT, temperature=0, max_new_tokens=new_tokens, compile=True)
            fast = report.telemetry["fast_path"]
            assert fast["used"] and fast["reason"] is None and fast["note"] is None, fast


def test_a_run_past_the_sliding_window_compiles_nothing_inside_its_time(autoregressive):
    # The test model's sliding window is 64 positions; 100 new tokens take the cache past it, where
    # the sliding layers start to roll (another compiled variant, made in the warm-up).
    eager = autoregressive.generate(PROMPT, temperature=0, max_new_tokens=100)
    fast = autoregressive.generate(PROMPT, temperature=0, max_new_tokens=100, compile=True)
    report = fast.telemetry["fast_path"]
    assert report["used"] and report["cache_length"] == 128 and report["note"] is None
    assert fast.text == eager.text


def test_a_step_the_warm_up_did_not_cover_compiles_and_is_noted(autoregressive):
    from workbench.engine import transformers_adapter as adapter

    model = autoregressive.model
    autoregressive.generate(PROMPT, temperature=0, max_new_tokens=4, compile=True)  # compiled and warm
    fast = autoregressive.fast_path.start("autoregressive", 3, 16, None)

    def step(token: torch.Tensor) -> torch.Tensor:  # a fresh prompt of 3, then one token through the fast path
        at = torch.tensor([[3]])  # made, like the engine's, inside inference mode (dynamo guards on it)
        fast.cache.reset()
        adapter.causal_lm_logits(model, torch.zeros((1, 3), dtype=torch.long), fast.cache)
        return fast.call(token, fast.cache, at, adapter.causal_lm_masks(model, fast.cache, at, 4))

    try:
        with torch.inference_mode():
            warmed = step(torch.zeros((1, 1), dtype=torch.long))  # shaped as the warm-up ran it
            assert fast.used and fast.report.note is None
            strided = step(torch.zeros((1, 5), dtype=torch.long)[:, :1])  # a stride no warm-up pass had
        assert torch.equal(strided, warmed)
        assert "compiled again mid-run" in fast.report.note and fast.report.reason is None
    finally:
        fast.finish()


def test_diffusion_trace_is_complete_and_equal_with_the_fast_path(diffusion):
    eager = diffusion.generate(PROMPT, seed=4, max_new_tokens=16, steps=5, early_exit=False)
    fast = diffusion.generate(PROMPT, seed=4, max_new_tokens=16, steps=5, early_exit=False, compile=True)
    assert fast.telemetry["fast_path"]["used"] and fast.telemetry["trace_s"] > 0
    assert len(fast.trace) == fast.forward_passes == eager.forward_passes
    for ours, reference in zip(fast.trace, eager.trace):
        assert (ours.canvas, ours.step, ours.tokens, ours.argmax, ours.state, ours.accepted) == (
            reference.canvas,
            reference.step,
            reference.tokens,
            reference.argmax,
            reference.state,
            reference.accepted,
        )
        assert ours.confidence == pytest.approx(reference.confidence, abs=1e-4)
    events = []
    watched = diffusion.generate(
        PROMPT, seed=4, max_new_tokens=16, steps=5, early_exit=False, compile=True, callback=events.append
    )
    assert [e.step for e in events] == watched.trace and watched.token_ids == fast.token_ids


def test_no_cxx_compiler_falls_back_to_eager_with_the_reason_warned_once(ar_folder, monkeypatch):
    monkeypatch.setenv("CXX", "/nonexistent/c++")
    handle = workbench.load(str(ar_folder), device="cpu")
    with pytest.warns(FastPathFallback, match="no C\\+\\+ compiler.*CXX=/nonexistent/c\\+\\+"):
        result = handle.generate(PROMPT, temperature=0, max_new_tokens=8, compile=True)
    report = result.telemetry["fast_path"]
    assert report["requested"] and not report["used"] and "no C++ compiler" in report["reason"]
    assert result.settings["compile"] is True  # what was asked for; telemetry says what happened
    assert result.token_ids == handle.generate(PROMPT, temperature=0, max_new_tokens=8).token_ids
    with warnings.catch_warnings():
        warnings.simplefilter("error", FastPathFallback)  # the same reason is not warned twice
        assert handle.generate(PROMPT, temperature=0, max_new_tokens=8, compile=True).telemetry["fast_path"]["reason"]


def test_a_compile_error_falls_back_to_eager_with_the_error(diffusion_folder, monkeypatch):
    monkeypatch.setattr(fast_path, "BACKEND", "no-such-backend")  # torch.compile itself refuses it
    handle = workbench.load(str(diffusion_folder), device="cpu")
    with pytest.warns(FastPathFallback, match="compile error"):
        result = handle.generate(PROMPT, seed=1, max_new_tokens=8, steps=3, compile=True)
    assert not result.telemetry["fast_path"]["used"]
    assert "no-such-backend" in result.telemetry["fast_path"]["reason"]
    assert result.token_ids == handle.generate(PROMPT, seed=1, max_new_tokens=8, steps=3).token_ids


def test_a_diffusion_run_longer_than_the_sliding_window_runs_eager_and_says_so(diffusion):
    # The test model's sliding window is 64 positions; 72 new tokens in canvases of 8 need 73.
    with pytest.warns(FastPathFallback, match="sliding window of 64"):
        result = diffusion.generate(PROMPT, seed=0, max_new_tokens=72, steps=1, block_size=8, compile=True)
    assert not result.telemetry["fast_path"]["used"] and result.forward_passes >= 1
