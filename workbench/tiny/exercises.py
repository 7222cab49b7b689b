"""Predict, then measure: the check behind every workshop exercise (notebook 05).

A participant writes down a guess before running a measurement; `check()` compares the two and
says, in one line, how close the guess was and what the measurement was. Numbers count as close
within a relative tolerance (25% by default: these are order-of-magnitude lessons on a noisy
machine); choices ("ar" / "diffusion", "memory" / "compute") must match exactly, ignoring case.
A missing guess is not an error: the check shows the answer and asks for a guess next time.
Left out: scores, grading and storing answers - the point is the surprise, not the mark.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from workbench.checks import check_float
from workbench.errors import InvalidSettingError

Answer = float | int | str


@dataclass(frozen=True)
class Verdict:
    """What was guessed, what was measured, and whether they agree (None = no guess was made)."""

    question: str
    predicted: Answer | None
    measured: Answer
    close: bool | None
    message: str

    def __repr__(self) -> str:  # a notebook cell ending in check(...) shows just the sentence
        return self.message


def check(question: str, predicted: Answer | None, measured: Answer, tolerance: float = 0.25) -> Verdict:
    """Compare a guess with a measurement; numbers within `tolerance` (relative) count as close."""
    tolerance = check_float("tolerance", tolerance, 0.0, None, low_inclusive=False)
    if isinstance(measured, str):
        return _check_choice(question, predicted, measured)
    measured = check_float("measured", measured, -math.inf, None)
    if predicted is None:
        return Verdict(
            question,
            None,
            measured,
            None,
            f"{question}: measured {measured:.3g}. Write your guess in the cell first next time.",
        )
    if isinstance(predicted, str):
        raise InvalidSettingError("predicted", predicted, "a number")
    predicted = check_float("predicted", predicted, -math.inf, None)
    error = abs(predicted - measured) / abs(measured) if measured else abs(predicted)
    close = error <= tolerance
    if close:
        how = f"within {tolerance:.0%}"
    elif predicted and measured and predicted * measured > 0:
        ratio = measured / predicted
        how = (
            f"the measurement is {ratio:.2g}x your guess"
            if ratio >= 1
            else f"your guess is {1 / ratio:.2g}x the measurement"
        )
    else:
        how = "off"
    verdict = "close" if close else "not close"
    return Verdict(
        question,
        predicted,
        measured,
        close,
        f"{question}: you guessed {predicted:.3g}, measured {measured:.3g} - {verdict} ({how}).",
    )


def _check_choice(question: str, predicted: Answer | None, measured: str) -> Verdict:
    if predicted is None:
        return Verdict(
            question,
            None,
            measured,
            None,
            f"{question}: the answer is {measured!r}. Write your guess in the cell first next time.",
        )
    if not isinstance(predicted, str):
        raise InvalidSettingError("predicted", predicted, f"a word such as {measured!r}")
    close = predicted.strip().lower() == measured.strip().lower()
    outcome = "right" if close else f"the measurement says {measured!r}"
    return Verdict(question, predicted, measured, close, f"{question}: you said {predicted!r} - {outcome}.")
