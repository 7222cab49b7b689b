"""Figures as a person reads them: "291 M tokens/month", "$1,999", "8.2 months", never 2.912e+08.

Used by the command line's summaries, the plots' labels and the HTML report; JSON output keeps the
raw numbers. Each function returns a short string and says "not computable" for a NaN or infinity
instead of printing one. Left out: locales (the separators are English) and currencies other than USD.
"""

from __future__ import annotations

import math

NOT_COMPUTABLE = "not computable"
# (threshold, divisor, suffix) from the largest: the suffix a reader sees on a token count.
_SCALES = ((1e12, 1e12, " T"), (1e9, 1e9, " B"), (1e6, 1e6, " M"), (1e3, 1e3, " k"))


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def plain(value: float | None, digits: int = 3) -> str:
    """A number with `digits` significant figures, thousands grouped, no exponent: 1,234 or 0.0123."""
    if not _finite(value):
        return NOT_COMPUTABLE
    assert value is not None
    if value == 0:
        return "0"
    if abs(value) < 1e-6:  # more zeros than anyone reads; still no exponent
        return "less than 0.000001" if value > 0 else "more than -0.000001"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    text = f"{round(value, decimals):,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def count(value: float | None, digits: int = 3) -> str:
    """A large count with a scale word: 291 M, 1.2 B, 950 (below a thousand as it is)."""
    if not _finite(value):
        return NOT_COMPUTABLE
    assert value is not None
    for threshold, divisor, suffix in _SCALES:
        if abs(value) >= threshold:
            return plain(value / divisor, digits) + suffix
    return plain(value, digits)


def tokens(value: float | None, per: str = "") -> str:
    """'291 M tokens' (or '291 M tokens/month' with per='month')."""
    return f"{count(value)} tokens" + (f"/{per}" if per else "") if _finite(value) else NOT_COMPUTABLE


def usd(value: float | None) -> str:
    """'$1,999', '$12.50', '$0.0123': whole dollars from $1,000, cents below, 3 figures under $1."""
    if not _finite(value):
        return NOT_COMPUTABLE
    assert value is not None
    sign, value = ("-" if value < 0 else ""), abs(value)
    if value >= 1000:
        return f"{sign}${value:,.0f}"
    if value >= 1:
        return f"{sign}${value:,.2f}"
    return f"{sign}${plain(value)}"


def months(value: float | None) -> str:
    """'8.2 months' (one decimal), '1.0 month' only when exactly one."""
    if not _finite(value):
        return NOT_COMPUTABLE
    assert value is not None
    return f"{value:,.1f} month" + ("" if round(value, 1) == 1.0 else "s")


def percent(share: float | None) -> str:
    """A share of 1 as a percentage: 0.426 -> '43%' (one decimal under 10%)."""
    if not _finite(share):
        return NOT_COMPUTABLE
    assert share is not None
    return f"{share * 100:.1f}%" if abs(share) < 0.1 else f"{share * 100:.0f}%"
