"""Quality figures on held-out prompts and seeds, with 95% intervals; the shipped canvas is the engine's.

Wilson's interval is checked against values computed by hand from its formula; the sentence share is
checked to count only what the model wrote. The shipped tiny-diffusion folder must give transformers'
own generate() (which reads `canvas_length` from config.json) the same canvas as workbench's default.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.tiny.stories.quality import (
    HELD_OUT_PROMPTS,
    HELD_OUT_SEED,
    held_out,
    quality_with_intervals,
    wilson,
    with_interval,
)

WEIGHTS = Path(__file__).resolve().parent.parent / "workbench" / "tiny" / "weights" / "tiny-diffusion"
TUNING = ("Once upon a time ,", range(40))  # the prompt and seeds read while the defaults were tuned


def test_held_out_stories_share_no_prompt_or_seed_with_tuning():
    stories = held_out(100)
    assert len(stories) == 100 and len({seed for _, seed in stories}) == 100
    assert all(prompt != TUNING[0] and seed not in TUNING[1] for prompt, seed in stories)
    assert {prompt for prompt, _ in stories} == set(HELD_OUT_PROMPTS) and stories[0][1] == HELD_OUT_SEED


def test_wilson_matches_the_formula_and_stays_inside_zero_one():
    assert wilson(96, 100) == pytest.approx((0.9016, 0.9843), abs=1e-4)
    low, high = wilson(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    assert wilson(10, 10)[1] == pytest.approx(1.0) and wilson(10, 10)[0] == pytest.approx(0.7225, abs=1e-4)
    assert wilson(5, 10)[1] - wilson(5, 10)[0] > wilson(50, 100)[1] - wilson(50, 100)[0]  # more stories, narrower


def test_the_sentence_share_counts_only_what_the_model_wrote():
    prompt = HELD_OUT_PROMPTS[0]  # one valid sentence, given
    good = f"{prompt} She loved to sing every day . The end ."
    bad = f"{prompt} She sing loved to every day . The end ."
    q = quality_with_intervals([good, bad], [prompt, prompt], resamples=200)
    assert q["valid_sentence_share"] == pytest.approx(3 / 4)  # 2 + 1 of the 4 model sentences; the prompt's not counted
    assert 0.0 <= q["valid_sentence_share_low"] <= q["valid_sentence_share"] <= q["valid_sentence_share_high"] <= 1.0
    assert q["consistent_story_share"] == 1.0 and q["stories"] == 2
    assert quality_with_intervals([good, bad], resamples=200)["valid_sentence_share"] == pytest.approx(5 / 6)


def test_a_share_with_nothing_to_score_is_said_in_words():
    assert with_interval(0.955, 0.91, 0.98) == "96% [91%-98%]"
    assert "nan" not in with_interval(float("nan"), float("nan"), float("nan"))


def test_the_shipped_canvas_is_the_engine_default():
    config = json.loads((WEIGHTS / "config.json").read_text())
    generation = json.loads((WEIGHTS / "generation_config.json").read_text())
    defaults = json.loads((WEIGHTS / "workbench.json").read_text())["default_settings"]
    assert config["canvas_length"] == defaults["block_size"]
    assert generation["max_denoising_steps"] == defaults["steps"]
    assert generation["max_new_tokens"] == defaults["max_new_tokens"]
    assert (generation["t_min"], generation["t_max"]) == (defaults["t_min"], defaults["t_max"])
