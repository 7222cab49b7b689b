"""A cost-of-ownership report a shop can hand to a customer: one self-contained HTML file.

`report(path, store=..., hardware=..., tariff=..., cloud=..., ...)` reads what the results store
measured on one machine, prices it against the hosted APIs at the customer's tariff, usage and
lifetime, and writes one HTML file with inline CSS and the project's matplotlib figures inlined as
PNG (nothing is fetched when it is opened; the browser's Print gives the PDF). It holds: the machine
and what was measured on it (warm medians with their spread, cold load time, energy per token, each
labelled measured / given / projected / claim with its source), AR vs diffusion on that machine, the
served endpoints measured from it, break-even and payback, time of use, the sensitivity chart, every
cloud price with its date and source, the assumptions, every data file's dates and the command that
rebuilds the report. The figures come from `compare_costs()` with the same inputs `workbench
breakeven` takes, so the two agree to the last digit (each figure also carries its raw value in a
`data-value` attribute).

The page is rendered by Jinja2 from `templates/report.html.j2` (package data); the file is written to
a temporary file beside `path` and renamed over it, so an error never leaves half a report.
Left out: a PDF written directly (no maintained offline HTML-to-PDF library is a dependency; any
browser prints this page), the served concurrency curve (the store keeps single runs, not load sweeps),
and edited data folders (the report prices the bundled tables).
"""

from __future__ import annotations

import base64
import io
import os
import shlex
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from matplotlib.figure import Figure

from workbench import __version__
from workbench.cost import plots, units
from workbench.cost.breakeven import Comparison, compare_costs
from workbench.cost.cloud import CloudOffer, cloud_offer, load_cloud_prices
from workbench.cost.local import DEFAULT_TARIFF, LocalSetup, local_setup
from workbench.cost.measured import StoredRun, devices, machine_runs, newest_run, run_summary
from workbench.cost.sensitivity import LABELS, readable_sensitivity, sensitivity_table
from workbench.cost.tariffs import Tariff, load_tou_tariffs, tariff
from workbench.errors import InvalidSettingError
from workbench.hardware import hardware_profile
from workbench.measure.store import default_store_path
from workbench.tables import DATA_DIR

TEMPLATE = Path(__file__).parent / "templates" / "report.html.j2"
DEFAULT_CLOUD = "gemma-4-26b-a4b"  # the hosted AR twin of DiffusionGemma: the like-for-like price


def report(
    path: str | Path,
    *,
    store: str | Path | None = None,
    hardware: str | None = None,
    tariff_name: str | None = None,
    cloud: str = DEFAULT_CLOUD,
    price_usd: float | None = None,
    power_w: float | None = None,
    joules_per_token: float | None = None,
    idle_power_w: float | None = None,
    usd_per_eur: float | None = None,
    lifetime_years: float = 3.0,
    hours_per_day: float = 8.0,
    start_hour: float = 9.0,
    monthly_tokens: float | None = None,
    input_per_output: float = 1.0,
    run_kind: str | None = None,
    template: str | Path | None = None,
) -> Path:
    """Write the report to `path` (an .html file) and return its path; see the module docstring."""
    target = Path(path)
    store_path = Path(store) if store is not None else default_store_path()
    options = dict(
        store=store_path, hardware=hardware, tariff=tariff_name, cloud=cloud, price_usd=price_usd, power_w=power_w,
        joules_per_token=joules_per_token, idle_power_w=idle_power_w, usd_per_eur=usd_per_eur,
        lifetime_years=lifetime_years, hours_per_day=hours_per_day, start_hour=start_hour,
        monthly_tokens=monthly_tokens, input_per_output=input_per_output, run_kind=run_kind,
    )  # fmt: skip
    page = _render(_context(target, options), Path(template) if template is not None else TEMPLATE)
    _write_atomically(target, page)
    return target


# Options left out of the rebuild command when they hold the command line's own default.
_DEFAULTS = {
    ("cloud", DEFAULT_CLOUD),
    ("lifetime_years", 3.0),
    ("hours_per_day", 8.0),
    ("start_hour", 9.0),
    ("input_per_output", 1.0),
}


def reproduce_command(path: Path, options: dict[str, Any]) -> str:
    """The `workbench report` command line that rebuilds this report."""
    argv = ["workbench", "report", "--out", str(path)]
    for name, value in options.items():
        if value is None or (name, value) in _DEFAULTS:
            continue
        argv += [f"--{name.replace('_', '-')}", _argument(value)]
    return shlex.join(argv)


def _argument(value: Any) -> str:
    """A value as typed on a command line: 3000000 rather than 3e+06, 0.35 as it is."""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def _context(target: Path, options: dict[str, Any]) -> dict[str, Any]:
    """Everything the template shows, worked out before anything is written."""
    profile = hardware_profile(options["hardware"]) if options["hardware"] else None
    chosen_tariff = tariff(options["tariff"] or DEFAULT_TARIFF, usd_per_eur=options["usd_per_eur"])
    offer = cloud_offer(options["cloud"])
    runs = machine_runs(options["store"], profile)
    if runs.empty:
        held = ", ".join(f"{n} on {d}" for d, n in devices(machine_runs(options["store"], None)).items()) or "none"
        where = f"a run measured on a {profile.device}" if profile is not None else "a run measured on this box"
        fix = "drop --hardware to report on the machine the runs came from, or " if profile is not None else ""
        allowed = f"a store holding {where} (its runs: {held}); {fix}run `workbench compare PROMPT` on it first"
        raise InvalidSettingError(
            "--hardware" if profile is not None else "--store", options["hardware"] or str(options["store"]), allowed
        )
    kinds = sorted(set(runs["kind"].dropna().astype(str)))
    if options["run_kind"] is not None and options["run_kind"] not in kinds:
        allowed = "the kind of a run in the store on this machine: " + ", ".join(kinds)
        raise InvalidSettingError("--run-kind", options["run_kind"], allowed)
    priced = {}
    for kind in kinds:
        stored = newest_run(options["store"], profile, kind)
        local = _local(profile, stored, chosen_tariff, options)
        result = compare_costs(
            local, offer, input_per_output=options["input_per_output"], monthly_tokens=options["monthly_tokens"]
        )
        priced[kind] = (stored, local, result)
    stored, local, main = priced[options["run_kind"] or str(runs["kind"].iloc[-1])]
    volume = options["monthly_tokens"] or main.capacity_tokens_per_month / 2
    clouds = [cloud_offer(name) for name in load_cloud_prices()["name"]]
    table = sensitivity_table(local, offer, input_per_output=options["input_per_output"])
    figures = {
        "cumulative": _png(plots.plot_cumulative_cost(local, clouds, min(volume, main.capacity_tokens_per_month),
                                                      input_per_output=options["input_per_output"])),
        "utilisation": _png(plots.plot_cost_vs_utilisation(local, clouds, input_per_output=options["input_per_output"])),
        "tornado": _png(plots.plot_tornado(table, top=8)),
    }  # fmt: skip
    return {
        "title": f"Local AI box vs cloud API: {profile.device if profile else 'this machine'}",
        "made": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "version": __version__,
        "machine": _machine(profile, runs),
        "measured": _measured_rows(run_summary(runs)),
        "served": _served_rows(options["store"]),
        "kinds": [_kind_row(kind, *priced[kind]) for kind in priced],
        "primary": _kind_row(stored.kind, stored, local, main),
        "cloud_name": offer.name,
        "hours_text": f"{local.hours_per_day:g} h/day",
        "inputs": _input_rows(local, stored),
        "clouds": [_cloud_row(local, cloud, options) for cloud in clouds],
        "time_of_use": _time_of_use(local, offer, chosen_tariff, options),
        "sensitivity": readable_sensitivity(table).head(8).to_dict(orient="records"),
        "figures": figures,
        "notes": list(local.notes),
        "assumptions": _assumptions(local, offer, options, volume),
        "data_files": _data_files(),
        "command": reproduce_command(target, options),
        "labels": LABELS,
    }


def _local(profile: Any, stored: StoredRun, chosen: Tariff, options: dict[str, Any]) -> LocalSetup:
    return local_setup(
        profile,
        stored.measurement,
        price_usd=options["price_usd"],
        joules_per_token=options["joules_per_token"],
        power_w=options["power_w"],
        idle_power_w=options["idle_power_w"],
        tariff=chosen,
        lifetime_years=options["lifetime_years"],
        hours_per_day=options["hours_per_day"],
        start_hour=options["start_hour"],
    )


def _figure(key: str, value: float | None, text: str) -> dict[str, Any]:
    """A figure as shown (`text`) with its raw value kept for checking (`data-value`)."""
    return {"key": key, "value": "" if value is None else repr(float(value)), "text": text}


def _kind_row(kind: str, stored: StoredRun, local: LocalSetup, result: Comparison) -> dict[str, Any]:
    never = result.breakeven_tokens_per_month is None
    payback = result.payback_months
    return {
        "kind": kind,
        "run": stored.describe(),
        "run_uuid": stored.run_uuid,
        "tokens_per_s": _figure("tokens_per_s", local.tokens_per_s, f"{units.plain(local.tokens_per_s)} tok/s"),
        "basis": dict(local.basis),
        "local_per_m": _figure("local_usd_per_m_tokens_at_capacity", result.local_usd_per_m_tokens_at_capacity,
                               units.usd(result.local_usd_per_m_tokens_at_capacity)),
        "cloud_per_m": _figure("cloud_usd_per_m_tokens", result.cloud_usd_per_m_tokens,
                               units.usd(result.cloud_usd_per_m_tokens)),
        "capacity": _figure("capacity_tokens_per_month", result.capacity_tokens_per_month,
                            units.tokens(result.capacity_tokens_per_month, "month")),
        "breakeven": _figure("breakeven_tokens_per_month", result.breakeven_tokens_per_month,
                             "never" if never else units.tokens(result.breakeven_tokens_per_month, "month")),
        "breakeven_reason": (result.never_reason or "").removeprefix("never: "),
        "payback": _figure("payback_months", payback, "never" if payback is None else units.months(payback)),
        "payback_note": (result.payback_note or "").removeprefix("never: "),
        "monthly_tokens": result.monthly_tokens,
        "monthly_text": units.tokens(result.monthly_tokens, "month") if result.monthly_tokens else None,
    }  # fmt: skip


def _machine(profile: Any, runs: pd.DataFrame) -> dict[str, Any]:
    newest = runs.iloc[-1] if not runs.empty else None
    return {
        "profile": profile.to_dict() if profile is not None else None,
        "device": (newest["device_name"] or newest["device"]) if newest is not None else "none",
        "cpu": newest["cpu"] if newest is not None else "",
        "platform": newest["platform"] if newest is not None else "",
        "software": f"torch {newest['torch_version']}, transformers {newest['transformers_version']}" if newest is not None else "",
        "runs": len(runs),
    }  # fmt: skip


def _measured_rows(summary: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for _, row in summary.iterrows():
        median, low, high = row["tokens_per_s_median"], row["tokens_per_s_low"], row["tokens_per_s_high"]
        spread = f"{units.plain(low)} to {units.plain(high)}" if pd.notna(low) else "one run: no spread"
        energy = row["joules_per_token_median"]
        rows.append(
            {
                "model": row["model"],
                "kind": row["kind"],
                "runs": int(row["runs"]),
                "speed": f"{units.plain(median)} tok/s" if pd.notna(median) else "not measured",
                "spread": spread,
                "load": f"{units.plain(row['load_s_median'])} s" if pd.notna(row["load_s_median"]) else "not measured",
                "energy": f"{units.plain(energy)} J/token (measured)" if pd.notna(energy)
                else f"not measured: {row['energy_missing'] or 'no energy meter'}",
                "newest": row["newest"][:16].replace("T", " "),
            }
        )  # fmt: skip
    return rows


def _served_rows(store: Path) -> list[dict[str, Any]]:
    from workbench.measure.store import ResultsStore

    rows = ResultsStore(store).to_dataframe()
    served = rows[rows["device"] == "served"]
    out = []
    for model, group in served.groupby("model", sort=False):
        speed, first = group["tokens_per_second"].dropna(), group["time_to_first_token_s"].dropna()
        out.append(
            {
                "model": model,
                "runs": len(group),
                "speed": f"{units.plain(speed.median())} tok/s" if not speed.empty else "not measured",
                "first_token": f"{units.plain(first.median())} s" if not first.empty else "not measured",
            }
        )
    return out


def _input_rows(local: LocalSetup, stored: StoredRun) -> list[dict[str, str]]:
    values = {
        "price_usd": units.usd(local.price_usd),
        "tokens_per_s": f"{units.plain(local.tokens_per_s)} tok/s",
        "joules_per_token": f"{units.plain(local.joules_per_token)} J",
        "idle_power_w": "unknown" if local.idle_power_w is None else f"{units.plain(local.idle_power_w)} W",
        "usd_per_kwh": f"{units.usd(local.tariff.mean_usd_per_kwh(local.start_hour, local.hours_per_day))}/kWh "
        f"({local.tariff.name})",
        "lifetime_years": f"{local.lifetime_years:g} years",
        "hours_per_day": f"{local.hours_per_day:g} h from {local.start_hour:g}:00",
    }
    sources = {
        "measured": f"{stored.describe()}",
        "given": "typed by the user",
        "projected": "profile figure or planning assumption (see the notes)",
        "missing": "not measured and not published: left out of the cost",
        "claim": "vendor claim",
    }
    return [
        {"input": LABELS.get(name, name), "value": text, "basis": local.basis.get(name, "given"),
         "source": local.tariff.source if name == "usd_per_kwh" and local.tariff.source
         else sources[local.basis.get(name, "given")]}
        for name, text in values.items()
    ]  # fmt: skip


def _cloud_row(local: LocalSetup, cloud: CloudOffer, options: dict[str, Any]) -> dict[str, Any]:
    result = compare_costs(local, cloud, input_per_output=options["input_per_output"])
    breakeven = result.breakeven_tokens_per_month
    return {
        "name": cloud.name,
        "price": units.usd(result.cloud_usd_per_m_tokens),
        "local": units.usd(result.local_usd_per_m_tokens_at_capacity),
        "breakeven": units.tokens(breakeven, "month") if breakeven is not None else "never",
        "date": cloud.date,
        "source": cloud.source,
    }


def _time_of_use(local: LocalSetup, offer: CloudOffer, chosen: Tariff, options: dict[str, Any]) -> list[dict[str, Any]]:
    """The chosen tariff beside every time-of-use tariff, at the hours the box runs."""
    names = list(dict.fromkeys(load_tou_tariffs()["name"]))
    rows = []
    for candidate in [chosen, *(tariff(name) for name in names if name != chosen.name)]:
        moved = replace(local, tariff=candidate)
        result = compare_costs(moved, offer, input_per_output=options["input_per_output"])
        rows.append(
            {
                "tariff": candidate.name,
                "kind": "time of use" if candidate.time_of_use else "flat",
                "price": units.usd(candidate.mean_usd_per_kwh(local.start_hour, local.hours_per_day)) + "/kWh",
                "energy_per_m": units.usd(result.marginal_usd_per_m_tokens),
                "local_per_m": units.usd(result.local_usd_per_m_tokens_at_capacity),
                "date": candidate.date,
            }
        )
    return rows


def _assumptions(local: LocalSetup, offer: CloudOffer, options: dict[str, Any], volume: float) -> list[str]:
    said = [
        f"The box is used {local.hours_per_day:g} hours a day from {local.start_hour:g}:00 and idle the rest, "
        f"for {local.lifetime_years:g} years, with no resale value.",
        f"Each generated token reads {options['input_per_output']:g} input tokens at the cloud's input price.",
        f"The cloud compared first is {offer.name} at its list price ({offer.date}, {offer.source}).",
        "Months are average calendar months; no taxes, financing, cooling or maintenance are counted.",
    ]
    if not options["monthly_tokens"]:
        said.append(f"The cumulative-cost chart assumes {units.tokens(volume, 'month')} (half the capacity); "
                    "pass --monthly-tokens for the customer's volume.")  # fmt: skip
    return said


def _data_files() -> list[dict[str, Any]]:
    """Every bundled data file with the dates its rows carry (each row is dated and sourced)."""
    files = []
    for path in sorted(DATA_DIR.glob("*.csv")):
        try:
            table = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (OSError, pd.errors.ParserError, UnicodeDecodeError) as error:
            raise InvalidSettingError(str(path), "unreadable", f"a readable CSV file ({error})") from None
        dates = sorted({*table.get("date", []), *table.get("fx_date", [])} - {""})
        span = f"{dates[0]} to {dates[-1]}" if len(dates) > 1 else (dates[0] if dates else "undated")
        files.append({"file": path.name, "rows": len(table), "dates": span})
    return files


def _png(figure: Figure) -> str:
    """A figure as base64 PNG for an inline <img>."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _render(context: dict[str, Any], template: Path) -> str:
    try:
        environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader(template.parent),
            autoescape=True,
            undefined=jinja2.StrictUndefined,  # a misspelt field fails here, not as an empty cell
        )
        return environment.get_template(template.name).render(**context)
    except (jinja2.TemplateError, OSError, UnicodeDecodeError) as error:
        raise InvalidSettingError("template", str(template), f"a readable Jinja2 template ({error})") from None


def _write_atomically(target: Path, page: str) -> None:
    """Write to a temporary file beside `target`, then rename it over `target` in one step."""
    if target.suffix.lower() not in (".html", ".htm"):
        raise InvalidSettingError("--out", str(target), "a file name ending in .html")
    try:
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as error:
        raise InvalidSettingError(
            "--out", str(target), f"a path in a folder that exists and can be written ({error.strerror})"
        ) from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(page)
        os.replace(temporary, target)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise InvalidSettingError("--out", str(target), f"a path that can be written ({error.strerror})") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
