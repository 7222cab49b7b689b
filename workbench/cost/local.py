"""The local side of the comparison: one box, its price, speed, power and electricity tariff.

`local_setup()` gathers the inputs from up to three places, in this order of precedence: values
passed explicitly, a measured run (a `workbench.measure.measurement.Measurement`, or anything it is built
from: a `GenerationResult`, a results-store row, a `compare --json` object), and a hardware profile. Every input is labelled in
`basis` as "measured" (read from the run), "given" (typed by the user) or "projected" (a profile
figure or a default assumption); whenever a figure is filled in from somewhere other than the
user's measurement, `notes` says so in words. A run is only "measured" for the device it ran on:
pricing a run from one device as another device's is refused.

The box is assumed on 24 hours a day: generating for `hours_per_day` starting at `start_hour` (which
matters under a time-of-use tariff) and idle the rest. `system_overhead_factor` scales every watt to
account for the rest of the box (CPU, fans, power-supply losses) when the power figures are the
GPU's alone. Left out: cooling, maintenance, financing costs, and the time spent on prefill beyond
what the measured tokens/s already includes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from workbench.checks import check_float
from workbench.cost.tariffs import Tariff, flat_tariff
from workbench.cost.tariffs import tariff as named_tariff
from workbench.engine.result import GenerationResult
from workbench.errors import InvalidSettingError
from workbench.hardware import HardwareProfile, hardware_profile
from workbench.measure.measurement import Measurement

Basis = Literal["measured", "given", "projected", "missing", "claim"]  # claim: a vendor's published speed
DEFAULT_TARIFF = "us-residential"
# Beyond these no single box goes: a larger figure is a slip (wrong unit, a pasted exponent) and is
# refused, so it can never overflow into a made-up cost.
MIN_TOKENS_PER_S, MAX_TOKENS_PER_S = 0.001, 10_000_000.0  # below the minimum a month's output rounds to 0
MIN_HOURS_PER_DAY = 0.01  # less than a minute a day of use is no use to price
MAX_JOULES_PER_TOKEN = 10_000.0
MAX_WATTS = 100_000.0


@dataclass(frozen=True)
class LocalSetup:
    """A checked set of local inputs; `power_w` (while generating) is joules_per_token x tokens_per_s."""

    hardware: str
    price_usd: float
    tokens_per_s: float
    joules_per_token: float
    idle_power_w: float | None  # None: unknown, and idle hours are left out of every cost (never priced as 0 W)
    tariff: Tariff
    lifetime_years: float = 3.0
    hours_per_day: float = 8.0
    start_hour: float = 9.0
    resale_fraction: float = 0.0
    system_overhead_factor: float = 1.0
    basis: Mapping[str, Basis] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        positive = ("price_usd", "joules_per_token")
        for name in positive:
            check_float(name, getattr(self, name), 0.0, None, low_inclusive=False)
        check_float("tokens_per_s", self.tokens_per_s, MIN_TOKENS_PER_S, MAX_TOKENS_PER_S)
        check_float("lifetime_years", self.lifetime_years, 0.01, 50.0)  # from days to decades
        if self.idle_power_w is not None:
            check_float("idle_power_w", self.idle_power_w, 0.0, None)
        try:
            check_float("hours_per_day", self.hours_per_day, MIN_HOURS_PER_DAY, 24.0)
        except InvalidSettingError:
            allowed = f"hours of generation per day, >= {MIN_HOURS_PER_DAY} and <= 24 (utilisation cannot pass 100%)"
            raise InvalidSettingError("hours_per_day", self.hours_per_day, allowed) from None
        if check_float("start_hour", self.start_hour, 0.0, 24.0) == 24.0:
            raise InvalidSettingError("start_hour", self.start_hour, "an hour of the day, >= 0 and < 24")
        check_float("resale_fraction", self.resale_fraction, 0.0, 0.99)
        check_float("system_overhead_factor", self.system_overhead_factor, 1.0, None)
        if self.idle_power_w is not None and self.idle_power_w > self.power_w:
            raise InvalidSettingError(
                "idle_power_w", self.idle_power_w, f"at most the power while generating ({self.power_w:.4g} W)"
            )

    @property
    def power_w(self) -> float:
        return self.joules_per_token * self.tokens_per_s

    @property
    def counted_idle_power_w(self) -> float:
        """Idle watts the arithmetic uses: the figure, or nothing when unknown (the basis says "missing")."""
        return self.idle_power_w if self.idle_power_w is not None else 0.0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(tariff=self.tariff.to_dict(), basis=dict(self.basis), notes=list(self.notes), power_w=self.power_w)
        return out


def local_setup(
    hardware: str | HardwareProfile | None = None,
    run: Measurement | Mapping[str, Any] | GenerationResult | None = None,
    *,
    price_usd: float | None = None,
    tokens_per_s: float | None = None,
    joules_per_token: float | None = None,
    power_w: float | None = None,
    idle_power_w: float | None = None,
    tariff: str | Tariff | None = None,
    usd_per_kwh: float | None = None,
    usd_per_eur: float | None = None,
    lifetime_years: float = 3.0,
    hours_per_day: float = 8.0,
    start_hour: float = 9.0,
    resale_fraction: float = 0.0,
    system_overhead_factor: float = 1.0,
) -> LocalSetup:
    """Resolve every local input (explicit > measured run > hardware profile) and label its basis."""
    run = _measurement(run)
    profile = hardware_profile(hardware) if isinstance(hardware, str) else hardware
    label = profile.name if profile is not None else "custom"
    basis: dict[str, Basis] = {}
    notes: list[str] = []
    if profile is not None and run is not None and (tokens_per_s is None or joules_per_token is None):
        notes += _same_device(run, profile)

    if price_usd is None:
        if profile is None or profile.price_usd is None:
            why = f"{label} has no published price" if profile is not None else "no hardware profile given"
            raise InvalidSettingError("price_usd", None, f"a price in USD > 0 ({why})")
        price_usd = profile.price_usd
        notes.append(f"price_usd {price_usd:g} is the {label} profile price ({profile.date}).")
        basis["price_usd"] = "projected"
    else:
        basis["price_usd"] = "given"

    speed, basis["tokens_per_s"] = _speed(tokens_per_s, run)
    energy, basis["joules_per_token"], energy_note = _energy(joules_per_token, power_w, speed, run, profile)
    idle, basis["idle_power_w"], idle_note = _idle(idle_power_w, run, profile)
    notes += [n for n in (energy_note, idle_note) if n]

    if tariff is not None and usd_per_kwh is not None:
        raise InvalidSettingError("usd_per_kwh", usd_per_kwh, "either a tariff or usd_per_kwh, not both")
    if usd_per_kwh is not None:
        chosen = flat_tariff(usd_per_kwh)
    elif isinstance(tariff, Tariff):
        chosen = tariff
    else:
        if tariff is None:
            notes.append(f"No tariff given: the {DEFAULT_TARIFF} price is used.")
        chosen = named_tariff(tariff or DEFAULT_TARIFF, usd_per_eur=usd_per_eur)
    basis["usd_per_kwh"] = "given" if usd_per_kwh is not None else "projected"
    for name in ("lifetime_years", "hours_per_day", "resale_fraction", "system_overhead_factor"):
        basis[name] = "projected"  # planning assumptions, defaults or typed: never measurements

    return LocalSetup(
        hardware=label,
        price_usd=price_usd,
        tokens_per_s=speed,
        joules_per_token=energy,
        idle_power_w=idle,
        tariff=chosen,
        lifetime_years=lifetime_years,
        hours_per_day=hours_per_day,
        start_hour=start_hour,
        resale_fraction=resale_fraction,
        system_overhead_factor=system_overhead_factor,
        basis=basis,
        notes=tuple(notes),
    )


def _speed(given: float | None, run: Measurement | None) -> tuple[float, Basis]:
    if given is not None:
        return check_float("tokens_per_s", given, MIN_TOKENS_PER_S, MAX_TOKENS_PER_S), "given"
    if run is None or run.tokens_per_s is None:
        raise InvalidSettingError("tokens_per_s", None, "a speed > 0 in tokens/s, given or from a measured run")
    return check_float("run tokens_per_second", run.tokens_per_s, MIN_TOKENS_PER_S, MAX_TOKENS_PER_S), "measured"


def _energy(
    given: float | None,
    power_w: float | None,
    speed: float,
    run: Measurement | None,
    profile: HardwareProfile | None,
) -> tuple[float, Basis, str]:
    if given is not None:
        return check_float("joules_per_token", given, 0.0, MAX_JOULES_PER_TOKEN, low_inclusive=False), "given", ""
    if power_w is not None:
        watts = check_float("power_w", power_w, 0.0, MAX_WATTS, low_inclusive=False)
        return watts / speed, "given", f"joules_per_token is power_w {watts:g} W / {speed:g} tok/s."
    if run is not None and run.joules_per_token is not None:
        joules = check_float(
            "run joules_per_token", run.joules_per_token, 0.0, MAX_JOULES_PER_TOKEN, low_inclusive=False
        )
        return joules, "measured", ""
    reason = (run.joules_per_token_missing or "no reason given") if run is not None else "no measured run"
    if profile is None or profile.board_power_w is None:
        where = f"{profile.name} publishes no board power" if profile is not None else "no hardware profile given"
        allowed = f"a measured or given figure (not measured: {reason}; {where}); pass joules_per_token or power_w"
        raise InvalidSettingError("joules_per_token", None, allowed)
    note = (
        f"joules_per_token not measured ({reason}): projected as the {profile.name} board power "
        f"{profile.board_power_w:g} W / {speed:g} tok/s; board power is a ceiling, real draw is usually lower."
    )
    if run is not None and run.avg_power_w is not None:
        note += f" The run's avg_power_w ({run.avg_power_w:g} W) is not used: the run reports its energy as missing."
    return profile.board_power_w / speed, "projected", note


def _idle(
    given: float | None, run: Measurement | None, profile: HardwareProfile | None
) -> tuple[float | None, Basis, str]:
    if given is not None:
        return check_float("idle_power_w", given, 0.0, MAX_WATTS), "given", ""
    if run is not None and run.idle_power_w is not None:
        # Only an idle figure measure_idle_power() took is "measured"; one typed into the meter is "given".
        basis: Basis = "measured" if run.idle_power_basis == "measured" else "given"
        return check_float("run idle_power_w", run.idle_power_w, 0.0, MAX_WATTS), basis, ""
    if profile is not None and profile.idle_power_w is not None:
        note = f"idle_power_w {profile.idle_power_w:g} W is the {profile.name} profile figure."
        return profile.idle_power_w, "projected", note
    owner = f"none published for {profile.name}" if profile is not None else "no hardware profile given"
    return (
        None,
        "missing",
        (
            f"Idle power unknown (not measured, {owner}): the idle hours are left out of every cost "
            "here, which flatters the box; pass idle_power_w."
        ),
    )


def _measurement(run: Measurement | Mapping[str, Any] | GenerationResult | None) -> Measurement | None:
    if run is None or isinstance(run, Measurement):
        return run
    if isinstance(run, GenerationResult):
        return Measurement.from_result(run)
    return Measurement.from_record(run)


def _same_device(run: Measurement, profile: HardwareProfile) -> list[str]:
    """Refuse a run measured on another device than `profile`; note when the run cannot tell."""
    fix = (
        f"drop --hardware to price the machine it ran on (with --price-usd), or type {profile.name}'s own "
        "--tokens-per-s and --joules-per-token"
    )
    if run.device.startswith("cpu") or run.served:
        raise InvalidSettingError("run", f"measured on {run.device}", f"a run measured on a {profile.device}; {fix}")
    if run.device_name and _simple(profile.device) not in _simple(run.device_name):
        raise InvalidSettingError(
            "run", f"measured on {run.device_name}", f"a run measured on a {profile.device}; {fix}"
        )
    if not run.device_name:
        return [
            f"The run does not record which device it ran on ({run.device or 'unknown'}); its figures are taken "
            f"as the {profile.name}'s."
        ]
    return []


def _simple(text: str) -> str:
    return "".join(character for character in text.lower() if character.isalnum())
