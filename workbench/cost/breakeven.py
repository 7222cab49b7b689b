"""Local vs cloud: cost per million tokens, break-even monthly volume and payback time.

The local box costs a fixed amount each month whatever it produces (the purchase price, less resale,
spread over its lifetime, plus idle power around the clock) and a marginal amount per token (the
energy above idle while generating, priced over the hours it runs). The cloud costs a fixed price
per token. So the break-even volume is fixed / (cloud - marginal) per token; it is "never" when the
marginal local cost is already at or above the cloud price, or when that volume is more than the
box can generate in `hours_per_day`. Payback is the purchase price over the monthly saving
(cloud bill minus the local electricity bill) at a given volume.

Months are average calendar months (365.25 / 12 days). Left out: taxes, discounting (money now vs
later), price changes over the lifetime and the cost of a second box when one is not enough.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from workbench.checks import check_float
from workbench.cost import units
from workbench.cost.cloud import CloudOffer
from workbench.cost.local import LocalSetup
from workbench.errors import InvalidSettingError

DAYS_PER_MONTH = 365.25 / 12  # an average calendar month, leap years included
JOULES_PER_KWH = 3.6e6
_CLOUD_INPUTS = ("input_usd_per_m", "output_usd_per_m", "input_per_output")  # price list or typed: never measured


@dataclass(frozen=True)
class Comparison:
    """Everything `compare_costs()` works out; money in USD, volumes in generated tokens per month."""

    hardware: str
    cloud: str
    input_per_output: float
    capex_usd_per_month: float
    idle_energy_usd_per_month: float | None  # idle power around the clock; None when idle power is unknown
    marginal_usd_per_m_tokens: float  # energy above idle, per million generated tokens
    capacity_tokens_per_month: float
    local_usd_per_month_at_capacity: float
    local_usd_per_m_tokens_at_capacity: float
    cloud_usd_per_m_tokens: float
    breakeven_tokens_per_month: float | None  # None = never, see never_reason
    breakeven_utilisation: float | None  # share of capacity needed to break even
    never_reason: str | None
    monthly_tokens: float | None = None
    local_usd_per_month: float | None = None  # at monthly_tokens
    cloud_usd_per_month: float | None = None  # at monthly_tokens
    payback_months: float | None = None
    payback_note: str | None = None
    basis: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Every figure; the two explanations appear only when there is something to explain (a break-even
        that is never reached, a payback that is never or late), so a null always means a missing figure."""
        out = {**asdict(self), "notes": list(self.notes)}
        for reason in ("never_reason", "payback_note"):
            if out[reason] is None:
                del out[reason]
        return out


def capex_usd_per_month(local: LocalSetup) -> float:
    return local.price_usd * (1.0 - local.resale_fraction) / (local.lifetime_years * 12.0)


def idle_energy_usd_per_month(local: LocalSetup) -> float:
    kw = local.counted_idle_power_w * local.system_overhead_factor / 1000.0
    return kw * 24.0 * local.tariff.mean_usd_per_kwh(0.0, 24.0) * DAYS_PER_MONTH


def marginal_usd_per_token(local: LocalSetup) -> float:
    """Energy cost of one token above what the idle box draws anyway, at the hours it runs."""
    joules = (local.joules_per_token - local.counted_idle_power_w / local.tokens_per_s) * local.system_overhead_factor
    return joules / JOULES_PER_KWH * local.tariff.mean_usd_per_kwh(local.start_hour, local.hours_per_day)


def capacity_tokens_per_month(local: LocalSetup) -> float:
    return local.tokens_per_s * 3600.0 * local.hours_per_day * DAYS_PER_MONTH


def local_usd_per_month(local: LocalSetup, tokens_per_month: float | None = None) -> float:
    """All-in monthly cost at a volume (default: the full capacity)."""
    volume = capacity_tokens_per_month(local) if tokens_per_month is None else tokens_per_month
    return capex_usd_per_month(local) + idle_energy_usd_per_month(local) + marginal_usd_per_token(local) * volume


def local_usd_per_m_tokens(local: LocalSetup) -> float:
    """All-in cost of a million tokens when the box generates for its full `hours_per_day`."""
    return local_usd_per_month(local) / capacity_tokens_per_month(local) * 1e6


def breakeven_volume(local: LocalSetup, cloud: CloudOffer, input_per_output: float = 1.0) -> float:
    """Tokens per month at which local and cloud cost the same, ignoring capacity; inf if never."""
    cloud_per_token = cloud.usd_per_m_output_tokens(input_per_output) / 1e6
    margin = cloud_per_token - marginal_usd_per_token(local)
    if margin <= 0:
        return math.inf
    return (capex_usd_per_month(local) + idle_energy_usd_per_month(local)) / margin


def payback_months(local: LocalSetup, cloud: CloudOffer, monthly_tokens: float, input_per_output: float = 1.0) -> float:
    """Months until the purchase price is saved back at `monthly_tokens`; inf if never."""
    bill = _cloud_usd_per_month(cloud, monthly_tokens, input_per_output)
    saving = bill - _energy_usd_per_month(local, monthly_tokens)
    return local.price_usd / saving if saving > 0 else math.inf


def compare_costs(
    local: LocalSetup, cloud: CloudOffer, *, input_per_output: float = 1.0, monthly_tokens: float | None = None
) -> Comparison:
    """Work out the whole comparison; `monthly_tokens` adds the payback and monthly bills."""
    check_float("input_per_output", input_per_output, 0.0, None)
    capacity = capacity_tokens_per_month(local)
    cloud_per_m = cloud.usd_per_m_output_tokens(input_per_output)
    marginal_per_m = marginal_usd_per_token(local) * 1e6
    volume = breakeven_volume(local, cloud, input_per_output)
    never = None
    if math.isinf(volume):
        never = (
            f"never: the local energy per million tokens ({units.usd(marginal_per_m)}) is at or above "
            f"the cloud price ({units.usd(cloud_per_m)})"
        )
    elif volume > capacity:
        never = (
            f"never: break-even needs {units.tokens(volume, 'month')} but the box makes at most "
            f"{units.tokens(capacity, 'month')} at {units.plain(local.tokens_per_s)} tok/s for {local.hours_per_day:g} h/day"
        )
    reached = never is None
    result: dict[str, Any] = dict(
        hardware=local.hardware,
        cloud=cloud.name,
        input_per_output=input_per_output,
        capex_usd_per_month=capex_usd_per_month(local),
        idle_energy_usd_per_month=None if local.idle_power_w is None else idle_energy_usd_per_month(local),
        marginal_usd_per_m_tokens=marginal_per_m,
        capacity_tokens_per_month=capacity,
        local_usd_per_month_at_capacity=local_usd_per_month(local),
        local_usd_per_m_tokens_at_capacity=local_usd_per_m_tokens(local),
        cloud_usd_per_m_tokens=cloud_per_m,
        breakeven_tokens_per_month=volume if reached else None,
        breakeven_utilisation=volume / capacity if reached else None,
        never_reason=never,
        basis={**local.basis, **dict.fromkeys(_CLOUD_INPUTS, "given")},
        notes=local.notes,
    )
    if monthly_tokens is not None:
        result.update(_at_volume(local, cloud, monthly_tokens, input_per_output))
    return Comparison(**result)


def _at_volume(local: LocalSetup, cloud: CloudOffer, monthly_tokens: float, input_per_output: float) -> dict[str, Any]:
    volume = check_float("monthly_tokens", monthly_tokens, 0.0, None, low_inclusive=False)
    capacity = capacity_tokens_per_month(local)
    if volume > capacity:
        allowed = f"at most the local capacity, {units.tokens(capacity, 'month')} at {local.hours_per_day:g} h/day"
        raise InvalidSettingError("monthly_tokens", monthly_tokens, allowed)
    months = payback_months(local, cloud, volume, input_per_output)
    note = None
    if math.isinf(months):
        note = "never: at this volume the cloud bill is no more than the local electricity bill"
    elif months > local.lifetime_years * 12:
        note = f"longer than the {local.lifetime_years:g}-year lifetime"
    return dict(
        monthly_tokens=volume,
        local_usd_per_month=local_usd_per_month(local, volume),
        cloud_usd_per_month=_cloud_usd_per_month(cloud, volume, input_per_output),
        payback_months=None if math.isinf(months) else months,
        payback_note=note,
    )


def _cloud_usd_per_month(cloud: CloudOffer, tokens: float, input_per_output: float) -> float:
    return cloud.usd_per_m_output_tokens(input_per_output) * tokens / 1e6


def _energy_usd_per_month(local: LocalSetup, tokens: float) -> float:
    return idle_energy_usd_per_month(local) + marginal_usd_per_token(local) * tokens
