"""Verdicts in words only past the noise: synthetic samples with known answers."""

from __future__ import annotations

import pytest

from workbench.errors import InvalidSettingError
from workbench.measure.verdict import (
    compare_samples,
    median_interval,
    ratio_verdict,
    samples_needed,
)

QUIET_AR = [100.0, 104.0, 98.0, 101.0, 99.0, 103.0, 97.0, 102.0]


def test_six_samples_are_the_fewest_for_a_95_percent_median_interval():
    assert samples_needed(0.95) == 6  # 1 - 2/2^5 = 93.75% < 95% <= 1 - 2/2^6
    assert median_interval([3.0, 1.0, 2.0, 5.0, 4.0]) is None
    low, high, coverage = median_interval([6.0, 1.0, 2.0, 3.0, 4.0, 5.0])  # type: ignore[misc]
    assert (low, high) == (1.0, 6.0) and coverage == pytest.approx(1 - 2 / 64)
    low, high, coverage = median_interval([float(v) for v in range(20)])  # type: ignore[misc]
    assert (low, high) == (5.0, 14.0) and coverage >= 0.95  # narrower than min..max once there are enough


def test_clearly_faster_and_slower_are_said():
    faster = compare_samples([2 * x for x in QUIET_AR], QUIET_AR)
    assert faster.outcome == "faster" and faster.words.startswith("diffusion is faster here")
    assert faster.low is not None and faster.low > 1.0 and faster.judged
    slower = compare_samples([x / 2 for x in QUIET_AR], QUIET_AR)
    assert slower.outcome == "slower" and slower.words.startswith("diffusion is slower here")


def test_lower_is_better_for_times():
    times = compare_samples([0.5] * 6, [0.25] * 6, higher_is_better=False)
    assert times.outcome == "slower"  # twice the time to first token


def test_overlapping_samples_are_within_the_noise():
    verdict = compare_samples(list(reversed(QUIET_AR)), QUIET_AR)
    assert verdict.outcome == "noise" and verdict.words.startswith("within the noise of this machine")
    assert verdict.low is not None and verdict.high is not None and verdict.low <= 1.0 <= verdict.high
    assert not verdict.judged


def test_too_few_samples_say_how_many_are_needed():
    verdict = compare_samples([200.0, 210.0, 190.0], [100.0, 101.0, 99.0])
    assert verdict.outcome == "too_few" and verdict.needed == 6
    assert "too few samples to judge: need 6" in verdict.words and "have 3" in verdict.words


def test_a_busy_machine_gets_no_verdict_even_for_a_clear_difference():
    verdict = compare_samples([2 * x for x in QUIET_AR], QUIET_AR, busy=True)
    assert verdict.outcome == "withheld" and "busy" in verdict.words and not verdict.judged
    assert "faster" not in verdict.words


def test_unpaired_samples_use_a_reproducible_bootstrap():
    first = compare_samples([2 * x for x in QUIET_AR], QUIET_AR[:6], paired=False)
    again = compare_samples([2 * x for x in QUIET_AR], QUIET_AR[:6], paired=False)
    assert first == again and first.outcome == "faster" and "bootstrap" in (first.method or "")


def test_a_given_ratio_interval():
    assert ratio_verdict(1.3, 1.1, 1.5).outcome == "faster"
    assert ratio_verdict(1.3, 0.9, 1.5).outcome == "noise"
    with pytest.raises(InvalidSettingError, match="low"):
        ratio_verdict(1.0, 1.2, 1.1)


@pytest.mark.parametrize("bad", [[0.0] * 6, [float("nan")] * 6, "fast", [True] * 6])
def test_bad_samples_are_refused_with_the_parameter_named(bad):
    with pytest.raises(InvalidSettingError, match="first"):
        compare_samples(bad, QUIET_AR[:6])
