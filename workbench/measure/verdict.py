"""Verdicts in words, given only when the numbers are past the noise of this machine.

    v = speed_verdict(diffusion_tokens_per_s, ar_tokens_per_s)   # samples from alternated runs
    print(v.words)   # "diffusion is faster here (1.8x, 95% interval 1.6x to 2.1x, 8 pairs)"

The figure compared is the ratio of the two models (first over second). Its interval is:
- for paired samples (equal counts, taken in alternation, as `compare` takes them): the
  distribution-free order-statistics interval of the median of the per-pair ratios (the binomial
  interval for a median: no assumption about the shape of the noise, and drift over time cancels
  within a pair);
- for unpaired samples: a percentile bootstrap of the ratio of medians (2,000 resamples, fixed seed,
  so the same numbers always give the same words).
"Faster"/"slower" is said only when the interval excludes 1 (parity); otherwise "within the noise
of this machine". With fewer samples than the interval needs (6 pairs for a 95% order-statistics
interval of a median: with 5, even min..max covers only 94%) it says "too few samples to judge" and
how many it needs. A verdict on a busy machine is withheld whatever the numbers say.
Left out: effect sizes below which a real difference is "not worth mentioning" (that is a judgement
for the reader, with the interval in front of them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from workbench.errors import InvalidSettingError

Outcome = Literal["faster", "slower", "noise", "too_few", "withheld"]
CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 2000


@dataclass(frozen=True)
class Verdict:
    """A comparison's outcome, its ratio with interval (first / second) and the sentence to print."""

    outcome: Outcome
    words: str
    ratio: float | None = None
    low: float | None = None
    high: float | None = None
    confidence: float | None = None  # what the interval actually covers (order statistics: >= the asked level)
    samples: int = 0
    needed: int | None = None  # samples the interval needs, when there were too few
    method: str | None = None

    @property
    def judged(self) -> bool:
        """True when the words say one side is faster (the interval excludes parity)."""
        return self.outcome in ("faster", "slower")


def samples_needed(confidence: float = CONFIDENCE) -> int:
    """The fewest samples whose min..max interval covers the median with at least `confidence`."""
    n = 1
    while 1 - 2 * 0.5**n < confidence:
        n += 1
    return n


def median_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float, float] | None:
    """(low, high, coverage): the narrowest order-statistics interval of the median with coverage
    >= `confidence`, or None with too few values. Coverage is exact for any continuous distribution."""
    data = sorted(values)
    n = len(data)
    if n < samples_needed(confidence):
        return None
    # Widen from the middle: the interval [x_(k), x_(n-k+1)] (1-based) covers with 1 - 2 * P(Bin(n, 1/2) < k).
    best = 1
    for k in range(1, n // 2 + 1):
        if 1 - 2 * _below(k, n) >= confidence:
            best = k
        else:
            break
    coverage = 1 - 2 * _below(best, n)
    return data[best - 1], data[n - best], coverage


def compare_samples(
    first: Sequence[float],
    second: Sequence[float],
    *,
    names: tuple[str, str] = ("diffusion", "autoregressive"),
    higher_is_better: bool = True,
    busy: bool | None = False,
    paired: bool = True,
    confidence: float = CONFIDENCE,
) -> Verdict:
    """Is `first` faster or slower than `second`, past the noise? (samples of one figure each:
    tokens/s with `higher_is_better`, seconds without)."""
    a, b = _clean("first", first), _clean("second", second)
    needed = samples_needed(confidence)
    if busy:
        return Verdict(
            "withheld",
            "no verdict: the machine was busy during these runs (see the busy note)",
            samples=min(len(a), len(b)),
        )
    if paired and len(a) == len(b):
        if len(a) < needed:
            return _too_few(len(a), needed, "pairs")
        ratios = [x / y for x, y in zip(a, b, strict=True)]
        low, high, coverage = median_interval(ratios, confidence) or (math.nan, math.nan, math.nan)
        ratio, method, unit = (
            float(np.median(ratios)),
            "order-statistics interval of the median per-pair ratio",
            "pairs",
        )
    else:
        if min(len(a), len(b)) < needed:
            return _too_few(min(len(a), len(b)), needed, "runs of each")
        ratio = float(np.median(a) / np.median(b))
        low, high = bootstrap_ratio_interval(a, b, confidence)
        coverage, method, unit = confidence, "percentile bootstrap of the ratio of medians", "runs of each"
    return ratio_verdict(
        ratio, low, high, names=names, higher_is_better=higher_is_better, busy=False, confidence=coverage,
        samples=min(len(a), len(b)), method=method, unit=unit,
    )  # fmt: skip


def ratio_verdict(
    ratio: float,
    low: float,
    high: float,
    *,
    names: tuple[str, str] = ("diffusion", "autoregressive"),
    higher_is_better: bool = True,
    busy: bool | None = False,
    confidence: float = CONFIDENCE,
    samples: int = 0,
    method: str = "given interval",
    unit: str = "samples",
) -> Verdict:
    """The verdict for a ratio (first / second) whose interval is already known."""
    for name, value in (("ratio", ratio), ("low", low), ("high", high)):
        if not math.isfinite(value) or value <= 0:
            raise InvalidSettingError(name, value, "a positive finite ratio")
    if low > high:
        raise InvalidSettingError("low", low, f"at most high ({high})")
    if busy:
        return Verdict(
            "withheld", "no verdict: the machine was busy during these runs (see the busy note)", samples=samples
        )
    figures = f"{ratio:.2f}x, {confidence:.0%} interval {low:.2f}x to {high:.2f}x, {samples} {unit}"
    common = {"ratio": ratio, "low": low, "high": high, "confidence": confidence, "samples": samples, "method": method}
    if low <= 1.0 <= high:
        return Verdict("noise", f"within the noise of this machine ({figures})", **common)  # type: ignore[arg-type]
    first_higher = low > 1.0
    outcome: Outcome = "faster" if first_higher == higher_is_better else "slower"
    return Verdict(outcome, f"{names[0]} is {outcome} here ({figures})", **common)  # type: ignore[arg-type]


def bootstrap_ratio_interval(
    first: Sequence[float], second: Sequence[float], confidence: float = CONFIDENCE, seed: int = 0
) -> tuple[float, float]:
    """Percentile-bootstrap interval of median(first) / median(second), reproducible (fixed seed)."""
    rng = np.random.default_rng(seed)
    a, b = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    ratios = np.median(rng.choice(a, (BOOTSTRAP_RESAMPLES, a.size)), axis=1) / np.median(
        rng.choice(b, (BOOTSTRAP_RESAMPLES, b.size)), axis=1
    )
    tail = (1 - confidence) / 2
    return float(np.quantile(ratios, tail)), float(np.quantile(ratios, 1 - tail))


def _below(k: int, n: int) -> float:
    """P(Binomial(n, 1/2) < k): the chance that fewer than k of n samples fall below the median."""
    return sum(math.comb(n, i) for i in range(k)) / 2**n


def _too_few(have: int, needed: int, unit: str) -> Verdict:
    return Verdict(
        "too_few",
        f"too few samples to judge: need {needed} {unit} for a {CONFIDENCE:.0%} interval, have {have}",
        samples=have,
        needed=needed,
    )


def _clean(name: str, values: Sequence[float]) -> list[float]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise InvalidSettingError(name, values, "a list of measured values")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise InvalidSettingError(
                name, value, "positive finite measurements (a run without the figure has no place here)"
            )
    return [float(value) for value in values]
