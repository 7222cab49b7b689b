"""The predict-then-measure check used by the workshop notebook."""

from __future__ import annotations

import math

import pytest

from workbench import InvalidSettingError
from workbench.tiny.exercises import check


def test_a_guess_within_tolerance_is_close_and_outside_is_not():
    assert check("passes", 30, 32).close is True  # 6% off
    far = check("passes", 8, 32)
    assert far.close is False and "4x your guess" in far.message
    assert check("passes", 8, 32, tolerance=4).close is True


def test_a_missing_guess_shows_the_answer_without_judging():
    verdict = check("tokens/s", None, 123.456)
    assert verdict.close is None and "123" in repr(verdict) and "guess" in verdict.message


def test_choices_match_ignoring_case_and_space():
    assert check("faster first token", " AR", "ar").close is True
    assert check("faster first token", "diffusion", "ar").close is False
    assert check("faster first token", None, "ar").close is None


def test_zero_measurement_compares_absolutely():
    assert check("errors", 0, 0).close is True
    assert check("errors", 1, 0).close is False


@pytest.mark.parametrize(
    ("predicted", "measured", "tolerance", "parameter"),
    [
        ("many", 3.0, 0.25, "predicted"),
        (3, "ar", 0.25, "predicted"),
        (math.nan, 3.0, 0.25, "predicted"),
        (3, math.inf, 0.25, "measured"),
        (3, 3.0, 0, "tolerance"),
    ],
)
def test_bad_input_names_the_parameter(predicted, measured, tolerance, parameter):
    with pytest.raises(InvalidSettingError) as error:
        check("q", predicted, measured, tolerance)
    assert error.value.parameter == parameter
