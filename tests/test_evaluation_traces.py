"""Seams, revisions and steps to converge on hand-built results whose answers are known."""

from __future__ import annotations

import pandas as pd
import pytest
from evaluation_helpers import TOKENIZER, ids, result, step

from workbench.errors import InvalidSettingError
from workbench.evaluation import convergence, revisions, seams

# Block size 8 cuts this story as: "there ... Lisa ." | "She ... . One" | "day , ... at" |
# "the park park . Then he could not" | "find the ball !"
SEAM_STORY = (
    "there was a shy girl named Lisa . She loved to sing every day . One day , she found a red ball at the "
    "park park . Then he could not find the ball !"
)
CLEAN_STORY = "there was a shy girl named Lisa . She loved to sing every day . Then she could not find the ball !"


def test_seam_units_find_exactly_the_planted_errors():
    units = seams.seam_units(result(SEAM_STORY), TOKENIZER)
    errors = units[units["error"]]
    assert list(errors["unit"]) == ["One day , she found a red ball at the park park .", "he (refers to Lisa)"]
    assert errors["crosses"].all()  # the bad sentence spans three canvases; "he" is two canvases from Lisa
    assert list(errors["distance"]) == [0, 2]  # position 29: two tokens before the seam at 32
    inside = units[(units["check"] == "grammar") & ~units["crosses"]]
    assert list(inside["unit"]) == ["She loved to sing every day ."]


def test_unfinished_last_sentence_is_not_judged():
    units = seams.seam_units(result("there was a shy girl named Lisa . She loved to"), TOKENIZER)
    assert list(units[units["check"] == "grammar"]["unit"]) == ["Once upon a time , there was a shy girl named Lisa ."]


def test_autoregressive_results_need_a_block_size_to_be_cut():
    ar = result(SEAM_STORY, kind="autoregressive", block_size=None)
    with pytest.raises(InvalidSettingError, match="block_size"):
        seams.seam_units(ar, TOKENIZER)
    assert seams.seam_units(ar, TOKENIZER, block_size=8)["error"].sum() == 2


def test_seam_penalty_is_the_difference_in_differences():
    diffusion = [result(SEAM_STORY), result(CLEAN_STORY)] * 5
    ar = [result(CLEAN_STORY, kind="autoregressive", block_size=None)] * 10
    units = pd.concat([seams.seam_table(diffusion, TOKENIZER), seams.seam_table(ar, TOKENIZER, block_size=8)])
    penalty = seams.seam_penalty(units, "grammar", resamples=300)
    # Diffusion: 5 errors in 5*3 + 5*2 = 25 crossing sentences, 0 of 10 inside; AR: 0 of 20 crossing, 0 of 10 inside.
    assert penalty.diffusion_crossing == pytest.approx(5 / 25)
    assert penalty.diffusion_inside == 0 and penalty.ar_crossing == 0
    assert penalty.estimate == pytest.approx(0.2)
    assert 0 < penalty.low <= penalty.estimate <= penalty.high
    table = seams.penalty_by_block_size(units, "grammar", resamples=100)
    assert list(table["block_size"]) == [8] and table["estimate"].iloc[0] == pytest.approx(0.2)
    assert seams.plot_penalty(table).axes[0].get_title()


def test_seam_penalty_without_units_says_why():
    units = seams.seam_table([result(CLEAN_STORY)], TOKENIZER)
    penalty = seams.seam_penalty(units)
    assert penalty.estimate is None and "autoregressive" in penalty.missing
    # Every pronoun of these stories is in a later canvas than the hero: no consistency unit is inside one.
    planted = seams.seam_table([result(SEAM_STORY)], TOKENIZER)
    assert "diffusion inside" in seams.seam_penalty(planted, "consistency").missing
    for bad in ({"resamples": 0}, {"confidence": 1.0}):
        with pytest.raises(InvalidSettingError, match=next(iter(bad))):
            seams.seam_penalty(planted, **bad)


def _revised_trace() -> tuple[list, list[int]]:
    a, b, c, x, y, z = ids("cat dog bird fox owl pig")
    final = [c, x, y, z]
    trace = [
        step(0, 1, [a, 0, 0, z], [True, False, False, True]),
        step(0, 2, [b, x, 0, z], [True, True, False, True]),  # position 0: a -> b, first revision
        step(0, 3, [0, x, 0, z], [False, True, False, True]),  # position 0 dropped back to noise
        step(0, 4, [c, x, y, z], [True, True, True, True]),  # position 0: b -> c, second revision
    ]
    return trace, final


def test_token_history_counts_a_token_revised_twice():
    trace, final = _revised_trace()
    history = revisions.token_history(result("", trace=trace, token_ids=final, block_size=4))
    assert list(history["revisions"]) == [2, 0, 0, 0]
    assert list(history["drops"]) == [1, 0, 0, 0]
    assert list(history["first_accepted_step"]) == [1, 2, 4, 1]
    assert list(history["first_accept_wrong"]) == [True, False, False, False]
    neighbour, overall = revisions.neighbour_error_rate(history)
    assert neighbour == 0 and overall == 0.25


def test_revision_summary_per_sampler():
    trace, final = _revised_trace()
    runs = [
        result("", trace=trace, token_ids=final, block_size=4),
        result("", trace=trace, token_ids=final, block_size=4, sampler="quota"),
    ]
    summary = revisions.revision_summary(runs, TOKENIZER).set_index("sampler")
    assert summary.loc["entropy-bound", "revised_share"] == 0.25
    assert summary.loc["quota", "revisions_per_token"] == 0.5


def test_steps_to_converge_finds_the_capped_canvas():
    z = ids("cat")[0]
    trace = [step(0, n, [z] * 4, [True] * 4) for n in range(1, 5)] + [step(1, n, [z] * 4, [True] * 4) for n in (1, 2)]
    canvases = convergence.canvas_steps(result("", trace=trace, token_ids=[z] * 8, block_size=4))
    assert list(canvases["steps_used"]) == [4, 2] and list(canvases["hit_cap"]) == [True, False]
    summary = convergence.summarise(canvases)
    ours, published = summary.iloc[0], summary.iloc[-1]
    assert ours["mean_steps"] == 3 and ours["share_at_cap"] == 0.5
    assert ours["share_of_steps_in_capped"] == pytest.approx(4 / 6)
    assert ours["tokens_per_forward"] == pytest.approx(8 / 6)
    assert published["median_steps"] == 23 and published["share_at_cap"] == 0.21
    assert convergence.plot_steps(canvases).axes[0].get_xlabel().startswith("denoising steps")


def test_guardrail_finds_a_blocked_word_only_in_a_draft():
    from workbench.evaluation import guardrails

    cat, dog, bird, fox, dot = ids("cat dog bird fox .")
    trace = [
        step(0, 1, [fox, 0, 0, 0], [True, False, False, False]),  # "fox" shown in a draft ...
        step(0, 2, [cat, dog, 0, dot], [True, True, False, True]),  # ... then replaced
        step(0, 3, [cat, dog, bird, dot], [True] * 4),
        step(1, 1, [cat, dog, bird, dot], [True] * 4),
    ]
    run = result("", trace=trace, token_ids=[cat, dog, bird, dot] * 2, block_size=4)
    report = guardrails.guard_run(run, TOKENIZER, guardrails.Blocklist(["fox", "owl"]))
    assert report.unit == "canvas" and report.checks_run == 2 and report.failed == 0
    assert report.draft_only_hits == [{"canvas": 0, "step": 1, "words": ["fox"]}]
    assert report.shown_unchecked_tokens == 8 and report.check_s > 0
    assert guardrails.guard_run(run, TOKENIZER, guardrails.Blocklist(["bird"])).failed == 2


def test_guardrail_units_for_autoregressive_text():
    from workbench.evaluation import guardrails

    ar = result("She loved to sing . Then she ran", kind="autoregressive", block_size=None)
    per_token = guardrails.guard_run(ar, TOKENIZER, guardrails.ends_with_sentence)
    assert per_token.checks_run == 8 and per_token.failed == 7 and per_token.shown_unchecked_tokens == 0
    per_sentence = guardrails.guard_run(ar, TOKENIZER, guardrails.ends_with_sentence, unit="sentence")
    assert per_sentence.checks_run == 2 and per_sentence.failed == 1 and per_sentence.shown_unchecked_tokens == 6
    with pytest.raises(InvalidSettingError, match="unit"):
        guardrails.guard_run(ar, TOKENIZER, guardrails.ends_with_sentence, unit="canvas")
    with pytest.raises(InvalidSettingError, match="words"):
        guardrails.Blocklist([])


def test_trace_measures_refuse_results_without_a_trace():
    ar = result(CLEAN_STORY, kind="autoregressive", block_size=None)
    for measure in (revisions.token_history, convergence.canvas_steps):
        with pytest.raises(InvalidSettingError, match="result="):
            measure(ar)
    with pytest.raises(InvalidSettingError, match="results="):
        convergence.convergence_table([])
