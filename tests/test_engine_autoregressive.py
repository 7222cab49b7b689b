"""The autoregressive backend: parity with transformers' generate(), knobs, stop and streaming."""

from __future__ import annotations

import threading

import pytest
import torch

PROMPT = "once upon a time , there was a cat"


def _reference(handle, **kwargs):
    ids = handle.tokenizer(PROMPT, return_tensors="pt")["input_ids"]
    out = handle.model.generate(ids, **kwargs)
    tokens = out[0, ids.shape[1] :].tolist()
    return tokens[: tokens.index(1) + 1] if 1 in tokens else tokens


@pytest.mark.parametrize("compile", [False, True], ids=["eager", "fast-path"])
def test_greedy_matches_transformers(autoregressive, compile):
    expected = _reference(autoregressive, max_new_tokens=20, do_sample=False)
    result = autoregressive.generate(PROMPT, temperature=0, max_new_tokens=20, compile=compile)
    assert result.token_ids == expected
    assert result.settings["compile"] is compile
    assert result.telemetry.get("fast_path", {}).get("used", False) is compile  # compiled for real, not fallen back


@pytest.mark.parametrize("compile", [False, True], ids=["eager", "fast-path"])
@pytest.mark.parametrize("top_k, top_p", [(None, None), (10, None), (None, 0.8), (20, 0.9)])
def test_sampling_matches_transformers_for_a_seed(autoregressive, top_k, top_p, compile):
    torch.manual_seed(9)
    expected = _reference(
        autoregressive, max_new_tokens=20, do_sample=True, temperature=0.7, top_k=top_k or 0, top_p=top_p or 1.0
    )
    ours = autoregressive.generate(
        PROMPT, seed=9, temperature=0.7, top_k=top_k, top_p=top_p, max_new_tokens=20, compile=compile
    )
    assert ours.token_ids == expected


def test_top_k_one_is_greedy(autoregressive):
    greedy = autoregressive.generate(PROMPT, temperature=0, max_new_tokens=15)
    assert (
        autoregressive.generate(PROMPT, seed=3, temperature=1.5, top_k=1, max_new_tokens=15).token_ids
        == greedy.token_ids
    )


def test_temperature_and_seed(autoregressive):
    runs = {
        seed: autoregressive.generate(PROMPT, seed=seed, temperature=2.0, max_new_tokens=15).token_ids
        for seed in range(4)
    }
    assert len({tuple(tokens) for tokens in runs.values()}) > 1  # hot sampling varies with the seed
    assert autoregressive.generate(PROMPT, seed=2, temperature=2.0, max_new_tokens=15).token_ids == runs[2]


def test_metrics_of_a_token_loop(autoregressive):
    result = autoregressive.generate(PROMPT, seed=0, temperature=0, max_new_tokens=12)
    assert result.forward_passes == result.new_tokens == len(result.step_times_s) + 1  # the first pass is the prefill
    assert result.tokens_per_forward == 1.0 and result.trace == []
    assert result.prefill_s == pytest.approx(result.time_to_first_token_s, abs=1e-3)
    assert result.tokens_per_second == pytest.approx(result.new_tokens / result.total_s)
    assert result.finish_reason in ("eos", "length")


def test_eos_ends_the_run(autoregressive):
    greedy = autoregressive.generate(PROMPT, temperature=0, max_new_tokens=6).token_ids
    # Declare the third greedy token an end-of-sequence token: the run must stop right after it.
    autoregressive.eos_ids, saved = {greedy[2]}, autoregressive.eos_ids
    try:
        result = autoregressive.generate(PROMPT, temperature=0, max_new_tokens=6)
    finally:
        autoregressive.eos_ids = saved
    assert result.finish_reason == "eos" and result.token_ids == greedy[: greedy.index(greedy[2]) + 1]


def test_stop_and_callback(autoregressive):
    stop = threading.Event()
    seen = []

    def on_token(event):
        seen.append(list(event.committed_ids))
        if len(seen) == 4:
            stop.set()

    autoregressive.eos_ids, saved = set(), autoregressive.eos_ids
    try:
        result = autoregressive.generate(PROMPT, seed=0, max_new_tokens=30, callback=on_token, stop=stop)
    finally:
        autoregressive.eos_ids = saved
    assert result.finish_reason == "stopped" and result.new_tokens == 4
    assert [len(ids) for ids in seen] == [1, 2, 3, 4] and seen[-1] == result.token_ids
    assert autoregressive.generate(PROMPT, seed=0, max_new_tokens=3).forward_passes >= 1


def test_a_run_stopped_before_it_starts_reports_no_timings_rather_than_zeros(autoregressive):
    stop = threading.Event()
    stop.set()
    result = autoregressive.generate(PROMPT, seed=0, max_new_tokens=5, stop=stop)
    assert result.finish_reason == "stopped" and result.new_tokens == 0
    assert result.prefill_s is None and result.time_to_first_token_s is None and result.tokens_per_second is None
    assert result.metrics()["mean_step_s"] is None
