"""Every evaluation on real runs of the embedded models (small settings: seconds on a CPU)."""

from __future__ import annotations

import pandas as pd
import pytest

import workbench
from workbench.evaluation import convergence, guardrails, revisions, seams

PROMPT = "Once upon a time , there was a shy girl named Lisa ."


@pytest.fixture(scope="module")
def runs():
    ar, dg = workbench.load("tiny-ar"), workbench.load("tiny-diffusion")
    small = dict(max_new_tokens=32, block_size=16, steps=4, early_exit=False)
    diffusion = [dg.generate(PROMPT, sampler=s, seed=i, **small) for s in ("entropy-bound", "quota") for i in (0, 1)]
    autoregressive = [ar.generate(PROMPT, max_new_tokens=32, seed=i) for i in (0, 1)]
    return dg.tokenizer, diffusion, autoregressive


def test_seams_on_real_runs(runs):
    tokenizer, diffusion, autoregressive = runs
    units = pd.concat(
        [seams.seam_table(diffusion, tokenizer), seams.seam_table(autoregressive, tokenizer, block_size=16)]
    )
    assert set(units["kind"]) == {"diffusion", "autoregressive"} and (units["block_size"] == 16).all()
    assert (units["first"] >= 0).all() and (units["last"] < 32).all()
    penalty = seams.seam_penalty(units, resamples=50)
    assert penalty.stories == (4, 2)
    assert (penalty.estimate is None) == (penalty.missing is not None)


def test_revisions_and_convergence_on_real_runs(runs):
    tokenizer, diffusion, _ = runs
    history = revisions.token_history(diffusion[2], tokenizer)  # quota: committed tokens are never revised
    assert len(history) == 32 and (history["revisions"] == 0).all() and history["first_accepted_step"].notna().all()
    summary = revisions.revision_summary(diffusion, tokenizer)
    assert set(summary["sampler"]) == {"entropy-bound", "quota"}
    canvases = convergence.convergence_table(diffusion)
    assert len(canvases) == 8 and (canvases["steps_used"] == 4).all() and canvases["hit_cap"].all()  # early exit off


def test_guardrails_on_real_runs(runs):
    tokenizer, diffusion, autoregressive = runs
    check = guardrails.Blocklist(["cat", "dog"])
    canvas = guardrails.guard_run(diffusion[0], tokenizer, check)
    assert canvas.checks_run == 2 and canvas.shown_unchecked_tokens > 0
    token = guardrails.guard_run(autoregressive[0], tokenizer, check)
    assert token.checks_run == 32 and token.shown_unchecked_tokens == 0 and token.added_latency_share < 1
