"""Story-quality shares with 95% intervals, on prompts and seeds held out from tuning.

The tiny models' defaults were tuned by reading stories written from "Once upon a time ," with seeds
0-39, so figures measured there flatter them. `HELD_OUT_PROMPTS` and `HELD_OUT_SEED` name prompts and
seeds never looked at while tuning; the model card, `benchmarks/diffusion_frontier.py` and notebook 02
report quality on them. `quality_with_intervals` scores stories with the exact checks and gives each
share a 95% interval: Wilson's score interval for the story shares (each story is one independent
yes/no) and, for the share of grammatical sentences, a percentile bootstrap over stories (sentences of
one story are not independent, so Wilson over sentences would be too narrow). Left out: intervals on
speed (see `workbench.measure`) and any correction for comparing many settings at once.
"""

from __future__ import annotations

import math
import random
from typing import Any

from workbench.tiny.stories.checks import check_stories, check_story, split_sentences

HELD_OUT_PROMPTS = (
    "Once upon a time , there was a curious girl named Emma .",
    "Once upon a time , in a little house near the lake , there lived an old fox named Ben .",
    "Once upon a time , there was a happy boy named Leo . Leo liked to swim in the river .",
)
HELD_OUT_SEED = 1000  # story i uses seed HELD_OUT_SEED + i (tuning read seeds 0-39)
Z_95 = 1.959964  # two-sided 95% point of the standard normal


def held_out(stories: int) -> list[tuple[str, int]]:
    """(prompt, seed) for each of `stories` held-out stories: prompts cycled, seeds from HELD_OUT_SEED."""
    return [(HELD_OUT_PROMPTS[i % len(HELD_OUT_PROMPTS)], HELD_OUT_SEED + i) for i in range(stories)]


def wilson(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for a proportion (stays inside [0, 1] and is sane at 0 or n successes)."""
    if n <= 0:
        return (math.nan, math.nan)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def _bootstrap_ratio(pairs: list[tuple[int, int]], resamples: int, seed: int) -> tuple[float, float]:
    """95% percentile interval of sum(a) / sum(b) with whole stories (pairs) resampled."""
    rng = random.Random(seed)
    estimates = []
    for _ in range(resamples):
        drawn = rng.choices(pairs, k=len(pairs))
        total = sum(b for _, b in drawn)
        estimates.append(sum(a for a, _ in drawn) / total if total else 0.0)
    estimates.sort()
    return (estimates[int(0.025 * (resamples - 1))], estimates[int(math.ceil(0.975 * (resamples - 1)))])


def _given(prompt: str) -> tuple[int, int]:
    """(valid, all) finished sentences of a prompt: the model did not write them."""
    finished = [s for s in split_sentences(prompt) if s[-1] in (".", "!")]
    check = check_story(" ".join(" ".join(s) for s in finished))
    return (check.valid_sentences, check.sentences) if finished else (0, 0)


def quality_with_intervals(
    texts: list[str], prompts: list[str] | None = None, resamples: int = 2000, seed: int = 0
) -> dict[str, Any]:
    """Shares of grammatical sentences, consistent and fully valid stories, each with `<name>_low/_high`.

    `texts` are whole stories (prompt included: consistency needs the hero the prompt introduced).
    With `prompts` (one per text) the grammatical share counts only sentences the model wrote.
    """
    report = check_stories(texts)
    n = len(report.stories)
    result: dict[str, Any] = {**report.as_dict()}
    given = [_given(p) for p in prompts] if prompts is not None else [(0, 0)] * n
    pairs = [(c.valid_sentences - g[0], c.sentences - g[1]) for c, g in zip(report.stories, given, strict=True)]
    total = sum(b for _, b in pairs)
    result["valid_sentence_share"] = sum(a for a, _ in pairs) / total if total else math.nan
    low, high = _bootstrap_ratio(pairs, resamples, seed) if n else (math.nan, math.nan)
    result |= {"valid_sentence_share_low": low, "valid_sentence_share_high": high}
    for name, count in (
        ("consistent_story_share", sum(c.consistent for c in report.stories)),
        ("fully_valid_story_share", sum(c.fully_valid for c in report.stories)),
    ):
        result[f"{name}_low"], result[f"{name}_high"] = wilson(count, n)
    return result


def with_interval(share: float, low: float, high: float) -> str:
    """'96% [94-98%]': a share and its interval, as the card and the notebooks print them."""
    if math.isnan(share):
        return "none to score"
    return f"{share:.0%} [{low:.0%}-{high:.0%}]"
