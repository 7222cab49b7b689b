"""Seams: do errors cluster where one canvas ends and the next begins?

A block-diffusion model writes canvas k+1 reading canvas k only through the KV cache, after k is
final; inside a canvas every position sees every other at every step. A *seam* is the boundary
before each canvas (the first one borders the prompt, which the encoder reads the same way).

`seam_units(result, tokenizer)` turns one story into *units* the exact story checks can score:
- every sentence (error: the grammar rejects it); it *crosses* a seam when its new words come from
  more than one canvas, or from the prompt and a canvas;
- every pronoun and every name used after its introduction (error: a pronoun that disagrees with the
  hero's gender, a name never introduced); it *crosses* when the fact it must agree with (the name's
  introduction, or the hero's for pronouns and unknown names) lies in an earlier canvas or the prompt.
Each unit also gets its distance in tokens to the nearest seam (0 = touches one). A last sentence cut
off by max_new_tokens is not judged: it never had the chance to finish.

An autoregressive result cut at the same positions is the baseline: it has no seams, so any
crossing-vs-inside difference it shows comes from the units themselves (long sentences cross more
often and fail more often), not from canvases. `seam_penalty` is the difference in differences,
with a bootstrap interval over stories. Left out: sub-sentence location of grammar errors, and
meaning (a story that contradicts itself grammatically and consistently is not caught).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from workbench.engine.result import GenerationResult
from workbench.errors import InvalidSettingError
from workbench.evaluation.positions import PROMPT, Word, canvas_size, story_words
from workbench.evaluation.registry import Inputs, register_evaluation
from workbench.tiny.stories.grammar import NAME_GENDER, PRONOUNS, parse_sentence

Check = Literal["grammar", "consistency"]
_ENDERS = (".", "!")
_PRONOUN_GENDERS: dict[str, set[str]] = {}
for _gender, _forms in PRONOUNS.items():
    for _form in _forms.values():
        _PRONOUN_GENDERS.setdefault(_form, set()).add(_gender)


def seam_units(result: GenerationResult, tokenizer: Any, block_size: int | None = None) -> pd.DataFrame:
    """One row per checkable unit of a story: check, first/last position, crosses, distance, error."""
    size = canvas_size(result, block_size)
    words = story_words(result, tokenizer, size)
    length = len(result.token_ids)
    rows = _sentence_units(words, size, length) + _consistency_units(words, size, length)
    frame = pd.DataFrame(rows, columns=["check", "unit", "first", "last", "crosses", "distance", "error"])
    frame["block_size"] = size
    return frame


def seam_table(results: Sequence[GenerationResult], tokenizer: Any, block_size: int | None = None) -> pd.DataFrame:
    """`seam_units` of many stories, with `story` (index), `kind` and `block_size` columns."""
    frames = []
    for index, result in enumerate(results):
        units = seam_units(result, tokenizer, block_size)
        units.insert(0, "story", index)
        units.insert(1, "kind", result.kind)
        frames.append(units)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def error_by_distance(units: pd.DataFrame, check: Check = "grammar", max_distance: int = 8) -> pd.DataFrame:
    """Error rate and unit count by distance to the nearest seam (distances above the cap pooled)."""
    chosen = _checked_units(units)[units["check"] == _check(check)].copy()
    chosen["distance"] = chosen["distance"].clip(upper=max_distance)
    return chosen.groupby(["kind", "distance"])["error"].agg(error_rate="mean", units="count").reset_index()


@dataclass(frozen=True)
class SeamPenalty:
    """Diffusion's (crossing - inside) error rate minus the same for AR, with a bootstrap interval."""

    check: str
    block_size: int
    estimate: float | None  # None when a group has no units (the reason is in `missing`)
    low: float | None
    high: float | None
    confidence: float
    diffusion_crossing: float | None
    diffusion_inside: float | None
    ar_crossing: float | None
    ar_inside: float | None
    stories: tuple[int, int]  # (diffusion, AR) stories resampled
    missing: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "stories_diffusion": self.stories[0], "stories_ar": self.stories[1]}


def seam_penalty(
    units: pd.DataFrame, check: Check = "grammar", *, resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> SeamPenalty:
    """The seam penalty of one block size from a `seam_table` holding diffusion and AR stories.

    Stories (not units) are resampled, because units of one story are not independent.
    """
    if not 0 < confidence < 1:
        raise InvalidSettingError("confidence", confidence, "a number between 0 and 1, e.g. 0.95")
    if not isinstance(resamples, int) or isinstance(resamples, bool) or resamples < 1:
        raise InvalidSettingError("resamples", resamples, "a whole number >= 1, e.g. 2000")
    chosen = _checked_units(units)[units["check"] == _check(check)]
    sizes = sorted(chosen["block_size"].unique()) if len(chosen) else []
    if len(sizes) > 1:
        raise InvalidSettingError("units", f"block sizes {sizes}", "one block size (see penalty_by_block_size)")
    size = int(sizes[0]) if sizes else 0
    groups = {kind: _story_counts(chosen[chosen["kind"] == kind]) for kind in ("diffusion", "autoregressive")}
    point = {kind: _rates(counts.sum(axis=0)) for kind, counts in groups.items()}
    empty = [f"{kind} {where}" for kind, (cross, inside) in point.items()
             for where, rate in (("crossing", cross), ("inside", inside)) if rate is None]  # fmt: skip
    common: dict[str, Any] = dict(check=check, block_size=size, confidence=confidence,
                  diffusion_crossing=point["diffusion"][0], diffusion_inside=point["diffusion"][1],
                  ar_crossing=point["autoregressive"][0], ar_inside=point["autoregressive"][1],
                  stories=(len(groups["diffusion"]), len(groups["autoregressive"])))  # fmt: skip
    if empty:
        return SeamPenalty(estimate=None, low=None, high=None, missing="no units: " + ", ".join(empty), **common)
    rng = np.random.default_rng(seed)
    draws = np.array([_difference(groups["diffusion"], rng) - _difference(groups["autoregressive"], rng)
                      for _ in range(resamples)])  # fmt: skip
    draws = draws[np.isfinite(draws)]  # a resample without crossing (or inside) units has no rate
    tail = (1 - confidence) / 2
    (d_cross, d_inside), (a_cross, a_inside) = point["diffusion"], point["autoregressive"]
    estimate = float((d_cross - d_inside) - (a_cross - a_inside))  # type: ignore[operator]
    if draws.size == 0:
        return SeamPenalty(estimate=estimate, low=None, high=None, missing="no resample had every group", **common)
    return SeamPenalty(estimate=estimate, low=float(np.quantile(draws, tail)),
                       high=float(np.quantile(draws, 1 - tail)), **common)  # fmt: skip


MIN_STORIES = 20  # fewer stories than this and a bootstrap over stories shows too little of their spread


@dataclass(frozen=True)
class PenaltyVerdict:
    """What a seam penalty says, in words: an effect only when its interval excludes 0 over enough stories."""

    outcome: Literal["effect", "noise", "too_few", "missing"]
    words: str
    needed: int | None = None  # stories a verdict would need, when there are too few


def penalty_verdict(
    estimate: float | None,
    low: float | None,
    high: float | None,
    stories: int,
    missing: str | None = None,
    min_stories: int = MIN_STORIES,
) -> PenaltyVerdict:
    """The verdict rule for a seam penalty (a difference of rates): past 0 and over `min_stories` stories.

    With too few stories, or an interval that includes 0, it says how many stories would be needed: at
    least `min_stories`, and enough that the interval (narrowing as 1/sqrt(stories)) would shrink below the
    estimate's size.
    """
    if estimate is None or low is None or high is None or not all(map(np.isfinite, (estimate, low, high))):
        return PenaltyVerdict("missing", f"no verdict: {missing or 'no estimate'}")
    figures = f"{100 * estimate:+.1f} pp [{100 * low:+.1f}, {100 * high:+.1f}] over {stories} stories"
    half = (high - low) / 2
    scaled = int(np.ceil(stories * (half / abs(estimate)) ** 2)) if estimate else None
    needed = max(min_stories, scaled) if scaled is not None else None
    more = f"about {needed} stories to tell it from 0" if needed is not None else "the estimate is 0: no effect shown"
    if stories < min_stories:
        return PenaltyVerdict(
            "too_few", f"too few stories to judge ({figures}): need at least {max(min_stories, needed or 0)}", needed
        )
    if low <= 0 <= high:
        return PenaltyVerdict("noise", f"within the noise: the interval includes 0 ({figures}); {more}", needed)
    direction = "more" if estimate > 0 else "fewer"
    return PenaltyVerdict("effect", f"a seam effect: {direction} errors across seams than inside ({figures})")


def penalty_by_block_size(units: pd.DataFrame, check: Check = "grammar", **options: Any) -> pd.DataFrame:
    """`seam_penalty` for each block size in a `seam_table` (AR cut at each size too), as a table."""
    _checked_units(units)
    rows = [seam_penalty(units[units["block_size"] == size], check, **options).as_dict()
            for size in sorted(units["block_size"].unique())]  # fmt: skip
    return pd.DataFrame(rows).drop(columns="stories")


def plot_penalty(table: pd.DataFrame) -> Figure:
    """Seam penalty (percentage points) against block size, with its interval."""
    figure = Figure(figsize=(7, 4))
    ax = figure.subplots()
    shown = table.dropna(subset=["estimate"])
    for check, rows in shown.groupby("check"):
        x, y = rows["block_size"], 100 * rows["estimate"]
        ax.errorbar(x, y, yerr=[y - 100 * rows["low"], 100 * rows["high"] - y], marker="o", capsize=4, label=check)
    ax.axhline(0, color="grey", linewidth=1)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("block size (tokens per canvas)")
    ax.set_ylabel("seam penalty (percentage points)")
    ax.set_title("Seam penalty: extra error rate of units crossing a seam, diffusion vs AR")
    ax.legend(title="check")
    ax.grid(alpha=0.3)
    return figure


UNIT_COLUMNS = ("story", "kind", "check", "unit", "first", "last", "crosses", "distance", "error", "block_size")


def _checked_units(units: Any) -> pd.DataFrame:
    """`units` if it is a `seam_table` with stories in it; else InvalidSettingError saying what is wrong."""
    if not isinstance(units, pd.DataFrame):
        raise InvalidSettingError("units", units, "a table from seam_table(results, tokenizer)")
    missing = [name for name in UNIT_COLUMNS if name not in units.columns]
    if missing or units.empty:
        problem = f"it lacks the columns {missing}" if missing else "it has no units"
        raise InvalidSettingError(
            "units", f"a table of {len(units)} rows", f"a seam_table of one or more stories ({problem})"
        )
    return units


def _check(check: str) -> str:
    if check not in ("grammar", "consistency"):
        raise InvalidSettingError("check", check, "'grammar' or 'consistency'")
    return check


def _distance(first: int, last: int, size: int, length: int) -> int:
    """Tokens between a unit spanning positions first..last and the nearest seam (0 = touches one).

    The end of the last canvas is no seam: nothing was written after it.
    """
    if first // size != last // size or first % size == 0:
        return 0
    to_next = size - 1 - last % size if last // size < (length - 1) // size else size
    return min(first % size, to_next)


def _sentence_units(words: list[Word], size: int, length: int) -> list[dict[str, Any]]:
    rows = []
    for sentence in sorted({w.sentence for w in words}):
        members = [w for w in words if w.sentence == sentence]
        new = [w.position for w in members if w.position != PROMPT]
        if not new or members[-1].text not in _ENDERS:  # all prompt, or cut off by max_new_tokens: nothing to judge
            continue
        canvases = {w.canvas for w in members}
        crosses = len(canvases) > 1
        distance = 0 if crosses else _distance(min(new), max(new), size, length)
        rows.append({"check": "grammar", "unit": " ".join(w.text for w in members), "first": min(new),
                     "last": max(new), "crosses": crosses, "distance": distance,
                     "error": not parse_sentence([w.text for w in members])})  # fmt: skip
    return rows


def _consistency_units(words: list[Word], size: int, length: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    introduced: dict[str, Word] = {}
    hero: Word | None = None
    for index, word in enumerate(words):
        if word.text in NAME_GENDER and index > 0 and words[index - 1].text == "named":
            introduced.setdefault(word.text, word)
            hero = hero or word
            continue
        if word.position == PROMPT or hero is None:  # not written by the model, or nothing to agree with yet
            continue
        if word.text in _PRONOUN_GENDERS:
            referent, error = hero, NAME_GENDER[hero.text] not in _PRONOUN_GENDERS[word.text]
        elif word.text in NAME_GENDER:
            referent, error = introduced.get(word.text, hero), word.text not in introduced
        else:
            continue
        rows.append({"check": "consistency", "unit": f"{word.text} (refers to {referent.text})",
                     "first": word.position, "last": word.position, "crosses": referent.canvas != word.canvas,
                     "distance": _distance(word.position, word.position, size, length), "error": error})  # fmt: skip
    return rows


def _story_counts(units: pd.DataFrame) -> np.ndarray:
    """Per story: [errors crossing, units crossing, errors inside, units inside]."""
    if units.empty:
        return np.zeros((0, 4))
    grouped = units.groupby(["story", "crosses"])["error"].agg(["sum", "count"]).unstack(fill_value=0)
    columns = [grouped.get((stat, flag), pd.Series(0, index=grouped.index))
               for flag in (True, False) for stat in ("sum", "count")]  # fmt: skip
    return np.column_stack(columns).astype(float)


def _rates(totals: np.ndarray) -> tuple[float | None, float | None]:
    if totals.size == 0:
        return None, None
    return (totals[0] / totals[1] if totals[1] else None), (totals[2] / totals[3] if totals[3] else None)


def _difference(counts: np.ndarray, rng: np.random.Generator) -> float:
    totals = counts[rng.integers(0, len(counts), len(counts))].sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(totals[0] / totals[1] - totals[2] / totals[3])


@register_evaluation(
    "seams",
    needs=("tokenizer", "both kinds"),
    help="errors in sentences crossing a canvas seam vs inside one, diffusion minus AR cut at the same places, "
    "with a bootstrap interval, per block size",
)
def seams_evaluation(
    inputs: Inputs, checks: Sequence[Check] = ("grammar", "consistency"), resamples: int = 2000
) -> pd.DataFrame:
    by_size: dict[int, list[GenerationResult]] = {}
    for result in inputs.results:
        if result.kind == "diffusion":
            by_size.setdefault(canvas_size(result), []).append(result)
    autoregressive = [r for r in inputs.results if r.kind == "autoregressive"]
    units = pd.concat(
        [seam_table(runs, inputs.tokenizer) for runs in by_size.values()]
        + [seam_table(autoregressive, inputs.tokenizer, block_size=size) for size in by_size],
        ignore_index=True,
    )
    return pd.concat([penalty_by_block_size(units, check, resamples=resamples) for check in checks], ignore_index=True)
