"""Generative perplexity under a reference AR model, and the sample entropy reported beside it."""

from __future__ import annotations

import math

import pytest

from workbench.errors import InvalidSettingError
from workbench.evaluation.perplexity import generative_perplexity, sample_entropy, text_perplexity


def test_sample_entropy():
    assert sample_entropy([5, 5, 5, 5]) == 0.0
    assert sample_entropy([1, 2, 3, 4]) == pytest.approx(2.0)
    assert sample_entropy([1, 1, 2, 2]) == pytest.approx(1.0)
    assert sample_entropy([]) is None


def test_the_models_own_greedy_text_is_likelier_than_noise(autoregressive):
    greedy = autoregressive.generate("once upon a time", temperature=0, max_new_tokens=12)
    own = text_perplexity(autoregressive, greedy.text, context="once upon a time")
    noise = text_perplexity(autoregressive, "ball sad garden tom , found red . end park", context="once upon a time")
    assert own is not None and noise is not None and own < noise


def test_table_and_reference_kind(autoregressive, diffusion):
    runs = [autoregressive.generate("a cat", seed=0, max_new_tokens=6), diffusion.generate("a cat", seed=0, steps=2)]
    table = generative_perplexity(autoregressive, runs)
    assert list(table["kind"]) == ["autoregressive", "diffusion"]
    assert table["sample_entropy_bits"].notna().all()
    # Each row's perplexity is the reference model's on that run's text, after its prompt.
    for run, value in zip(runs, table["perplexity"]):
        expected = text_perplexity(autoregressive, run.text, context=run.prompt) if run.text.strip() else None
        if expected is None:
            assert value is None or value != value  # empty text: missing, never a number
        else:
            assert math.isfinite(value) and value >= 1.0 and value == pytest.approx(expected)
    with pytest.raises(InvalidSettingError, match="reference="):
        text_perplexity(diffusion, "a cat")
