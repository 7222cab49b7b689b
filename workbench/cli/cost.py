"""The `breakeven` and `roofline` subcommands, for the `workbench` command line to mount.

`register(subparsers)` adds both; each sets `func` to a handler that takes the parsed arguments,
prints a short summary (or JSON with `--json`) and returns an exit code. Bad input raises
`InvalidSettingError`, which the main CLI turns into one line. Every model input has an option;
`--data-dir` points at a folder of edited CSV files (any file missing there comes from the bundled
data). A measured run comes from a JSON file (`--run`, also the list `workbench compare --json`
prints, with `--run-kind`) or from a results store (`--store`, `--run-uuid`). A measured served run
(`--cloud-run`, e.g. from `workbench compare --served URL --json`) puts the endpoint's speed and
first-token latency beside the cloud price; the price alone still sets the cloud's cost per token,
because a hosted API bills tokens, not seconds. Left out: plots (they belong in a notebook) and
reading many runs at once.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from workbench.cost.breakeven import Comparison, compare_costs
from workbench.cost.cloud import CloudOffer, cloud_offer
from workbench.cost.local import DEFAULT_TARIFF, LocalSetup, local_setup
from workbench.cost.roofline import (
    BYTES_PER_PARAM,
    Roofline,
    percent_of_ceiling,
    roofline_for,
)
from workbench.cost.tariffs import tariff
from workbench.errors import InvalidSettingError
from workbench.hardware import hardware_profile
from workbench.measure.measurement import Measurement, flat_record
from workbench.tables import DATA_DIR

DEFAULT_CLOUD = "gemma-4-26b-a4b"  # the same model family, hosted: the like-for-like comparison
DEFAULT_ACTIVE_PARAMS_BILLION = 3.8  # DiffusionGemma 26B-A4B (model card)


# (flag, type, default, help) for the options that are plain numbers or names.
_LOCAL = (
    ("--run", Path, None, "JSON file of a measured run: one object, or the list `workbench compare --json` prints"),
    ("--run-kind", str, None, "which run of such a list: autoregressive or diffusion"),
    ("--store", Path, None, "results store file to take the run from (with --run-uuid)"),
    ("--run-uuid", str, None, "the stored run to price (the run_uuid column of the store)"),
    ("--price-usd", float, None, "purchase price in USD"),
    ("--tokens-per-s", float, None, "generation speed in tokens/s"),
    ("--joules-per-token", float, None, "energy per generated token in J"),
    ("--power-w", float, None, "power while generating in W (instead of --joules-per-token)"),
    ("--idle-power-w", float, None, "power while idle in W"),
    ("--lifetime-years", float, 3.0, "years the box is used"),
    ("--hours-per-day", float, 8.0, "hours generating per day, <= 24"),
    ("--start-hour", float, 9.0, "hour the daily use starts (matters for time-of-use tariffs)"),
    ("--resale-fraction", float, 0.0, "share of the price recovered at the end"),
    ("--system-overhead", float, 1.0, "factor >= 1 on every watt, for the rest of the box"),
)
_ELECTRICITY = (
    ("--tariff", str, None, f"tariff name; {DEFAULT_TARIFF} unless --usd-per-kwh is given"),
    ("--usd-per-kwh", float, None, "flat electricity price in USD/kWh"),
    ("--usd-per-eur", float, None, "exchange rate for tariffs priced in EUR"),
)
_CLOUD = (
    ("--cloud", str, None, f"hosted API name; {DEFAULT_CLOUD} unless prices are given"),
    ("--input-usd-per-m", float, None, "input price in USD per million tokens"),
    ("--output-usd-per-m", float, None, "output price in USD per million tokens"),
    ("--batch-discount", float, 0.0, "batch API discount as a fraction (e.g. 0.5)"),
    ("--input-per-output", float, 1.0, "input tokens read per generated token"),
    ("--monthly-tokens", float, None, "generated tokens per month, for the payback time"),
    (
        "--cloud-run",
        Path,
        None,
        (
            "JSON file with a measured served run (workbench compare --served URL --json): "
            "its speed and latency are reported beside the price"
        ),
    ),
)
_ROOFLINE = (
    ("--bandwidth-gb-s", float, None, "memory bandwidth in GB/s"),
    ("--tflops", float, None, "dense tensor TFLOPS at the compute precision"),
    ("--active-params-billion", float, DEFAULT_ACTIVE_PARAMS_BILLION, "active parameters in billions"),
    ("--weights-read-billion", float, None, "weights read per multi-position forward (MoE: up to the total)"),
    ("--kv-gb-per-forward", float, 0.0, "KV cache read per forward in GB"),
    ("--canvas-tokens", int, 256, "block-diffusion canvas length"),
    # 16 fixed steps is the vLLM H100 benchmark's setting; the model card's 15-20 tokens per forward is close.
    ("--steps-per-canvas", float, 16.0, "denoising forwards per canvas"),
    ("--tokens-per-s", float, None, "a measured speed to compare with its ceiling"),
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `breakeven` and `roofline` to a `workbench` command line."""
    breakeven = subparsers.add_parser("breakeven", help="local vs cloud: cost per million tokens, break-even, payback")
    _common(breakeven)
    _add(breakeven.add_argument_group("local box (explicit values win over --run, which wins over --hardware)"), _LOCAL)
    _add(breakeven.add_argument_group("electricity"), _ELECTRICITY)
    _add(breakeven.add_argument_group("cloud"), _CLOUD)
    breakeven.set_defaults(func=breakeven_command)

    ceiling = subparsers.add_parser("roofline", help="bandwidth and compute ceilings on decode speed")
    _common(ceiling)
    _add(ceiling, _ROOFLINE)
    choose = ceiling.add_argument
    choose("--precision", choices=sorted(BYTES_PER_PARAM), default="fp4", help="weight precision (default fp4)")
    choose("--compute-precision", choices=("bf16", "fp8", "fp4"), help="tensor precision to take TFLOPS at")
    choose("--kind", choices=("ar", "diffusion"), default="diffusion", help="ceiling --tokens-per-s is held to")
    ceiling.set_defaults(func=roofline_command)


def breakeven_command(args: argparse.Namespace) -> int:
    served = _served_figures(args.cloud_run) if args.cloud_run else None
    _check_names(args, "hardware", "tariff", "cloud", "run_kind", "run_uuid")
    profile = hardware_profile(args.hardware, _table(args, "hardware.csv")) if args.hardware else None
    tariff_name = args.tariff or (None if args.usd_per_kwh is not None else DEFAULT_TARIFF)
    chosen_tariff = None
    if tariff_name:
        flat, tou = _table(args, "tariffs.csv"), _table(args, "tou_tariffs.csv")
        chosen_tariff = tariff(tariff_name, flat=flat, tou=tou, usd_per_eur=args.usd_per_eur)
    local = local_setup(
        profile,
        _measured_run(args),
        price_usd=args.price_usd,
        tokens_per_s=args.tokens_per_s,
        joules_per_token=args.joules_per_token,
        power_w=args.power_w,
        idle_power_w=args.idle_power_w,
        tariff=chosen_tariff,
        usd_per_kwh=args.usd_per_kwh,
        lifetime_years=args.lifetime_years,
        hours_per_day=args.hours_per_day,
        start_hour=args.start_hour,
        resale_fraction=args.resale_fraction,
        system_overhead_factor=args.system_overhead,
    )
    offer = _cloud(args)
    result = compare_costs(local, offer, input_per_output=args.input_per_output, monthly_tokens=args.monthly_tokens)
    if args.json:
        report = {
            "comparison": result.to_dict(),
            "local": local.to_dict(),
            "cloud": offer.to_dict(),
            "cloud_measured": served,
        }
        print(json.dumps(finite_report(report), indent=2, allow_nan=False))
    else:
        _print_breakeven(result, local, served)
    return 0


def roofline_command(args: argparse.Namespace) -> int:
    _check_names(args, "hardware")
    profile = hardware_profile(args.hardware, _table(args, "hardware.csv")) if args.hardware else None
    roof = roofline_for(
        profile,
        precision=args.precision,
        active_params_billion=args.active_params_billion,
        weights_read_billion=args.weights_read_billion,
        kv_gb_per_forward=args.kv_gb_per_forward,
        bandwidth_gb_s=args.bandwidth_gb_s,
        tflops=args.tflops,
        compute_precision=args.compute_precision,
    )
    report: dict[str, Any] = {
        "roofline": roof.to_dict(),
        "canvas_tokens": args.canvas_tokens,
        "steps_per_canvas": args.steps_per_canvas,
        "diffusion_tokens_per_s": roof.diffusion_tokens_per_s(args.canvas_tokens, args.steps_per_canvas),
        "diffusion_bound": roof.bound(args.canvas_tokens),
    }
    if args.tokens_per_s is not None:
        ceiling = report["diffusion_tokens_per_s"] if args.kind == "diffusion" else roof.ar_tokens_per_s()
        percent = percent_of_ceiling(args.tokens_per_s, ceiling)
        report["measured"] = {"tokens_per_s": args.tokens_per_s, "kind": args.kind, "percent_of_ceiling": percent}
    if args.json:
        print(json.dumps(finite_report(report), indent=2, allow_nan=False))
    else:
        _print_roofline(roof, report)
    return 0


def _print_breakeven(result: Comparison, local: LocalSetup, served: dict[str, Any] | None = None) -> None:
    print(f"{result.hardware} vs {result.cloud} (input:output {result.input_per_output:g}, tariff {local.tariff.name})")
    capacity, monthly = result.capacity_tokens_per_month / 1e6, result.local_usd_per_month_at_capacity
    print(
        f"  local: ${_show(result.local_usd_per_m_tokens_at_capacity)}/M tokens at {local.hours_per_day:g} h/day "
        f"(up to {_show(capacity)}M tokens for ${_show(monthly, ',.2f')} a month)"
    )
    print(f"  cloud: ${_show(result.cloud_usd_per_m_tokens)}/M tokens")
    if served is not None:
        rate, first = served["tokens_per_second"], served["time_to_first_token_s"]
        print(
            f"  cloud measured at {served['endpoint']}: "
            f"{f'{rate:.4g} tok/s' if rate is not None else 'tok/s not measured'}, "
            f"{f'first token {first:.3g} s' if first is not None else 'no first token'} (one user)"
        )
    if result.breakeven_tokens_per_month is None:
        print(f"  break-even: {result.never_reason}")
    else:
        volume, share = result.breakeven_tokens_per_month / 1e6, result.breakeven_utilisation
        assert share is not None  # set together with the break-even volume
        print(f"  break-even: {_show(volume)}M tokens/month ({_show(share, '.0%')} of capacity)")
    if result.monthly_tokens is not None:
        payback = "never" if result.payback_months is None else f"{_show(result.payback_months, '.1f')} months"
        print(f"  payback at {_show(result.monthly_tokens / 1e6)}M tokens/month: {payback}", end="")
        print(f" ({result.payback_note})" if result.payback_note else "")
    measured = [name for name, basis in result.basis.items() if basis == "measured"]
    given = [name for name, basis in result.basis.items() if basis == "given" and name in local.basis]
    print(f"  measured inputs: {', '.join(measured) or 'none'}")
    print(f"  given inputs: {', '.join(given) or 'none'}")
    for note in result.notes:
        print(f"  note: {note}")


def _print_roofline(roof: Roofline, report: dict[str, Any]) -> None:
    tflops = f"{roof.tflops:g}" if roof.tflops is not None else "unpublished"
    print(f"{roof.hardware}: {roof.bandwidth_gb_s:g} GB/s, {tflops} TFLOPS, {roof.precision} weights")
    print(f"  batch-1 AR ceiling: {_show(roof.ar_tokens_per_s(), 'rate')} tok/s ({roof.bound(1)}-bound)")
    print(
        f"  block diffusion ({report['canvas_tokens']} tokens, {report['steps_per_canvas']:g} steps): "
        f"{_show(report['diffusion_tokens_per_s'], 'rate')} tok/s ({report['diffusion_bound']}-bound)"
    )
    crossover = roof.crossover_positions_per_forward
    if crossover is None:
        print("  compute roof unknown (no TFLOPS figure)")
    else:
        print(f"  compute-bound from {_show(crossover, 'rate')} positions per forward")
    if "measured" in report:
        measured = report["measured"]
        print(
            f"  measured {measured['tokens_per_s']:g} tok/s = {_show(measured['percent_of_ceiling'], '.3g')}% "
            f"of the {measured['kind']} ceiling"
        )


NOT_COMPUTABLE = "not computable: the inputs overflow a floating-point number"


def _show(value: float, spec: str = ",.4g") -> str:
    """A figure for the text report; never 'nan' or 'inf'. spec "rate": whole numbers from 100 up,
    three significant digits below, so a small rate is never rounded to 0."""
    if not math.isfinite(value):
        return f"[{NOT_COMPUTABLE}]"
    if spec == "rate":
        spec = ",.0f" if abs(value) >= 100 else ".3g"
    return f"{value:{spec}}"


def finite_report(value: Any, path: str = "") -> Any:
    """`value` with every NaN or infinity replaced by None and a `<key>_missing` reason beside it,
    so `--json` is always valid JSON and never shows a made-up 0."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out[key] = finite_report(item, f"{path}.{key}")
            if isinstance(item, float) and not math.isfinite(item):
                out[f"{key}_missing"] = NOT_COMPUTABLE
        return out
    if isinstance(value, (list, tuple)):
        return [finite_report(item, path) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _add(parser: argparse.ArgumentParser | argparse._ArgumentGroup, options: tuple) -> None:
    for flag, kind, default, text in options:
        shown = " (default %(default)s)" if default is not None else ""
        parser.add_argument(flag, type=kind, default=default, help=text + shown)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hardware", help="hardware profile name, e.g. rtx-5090 (listed in data/hardware.csv)")
    parser.add_argument("--data-dir", type=Path, help=f"folder of edited CSV files replacing those in {DATA_DIR}")
    parser.add_argument("--json", action="store_true", help="print the full result as JSON")


def _check_names(args: argparse.Namespace, *names: str) -> None:
    """An empty or blank name is a slip, never a request for the default."""
    for name in names:
        value = getattr(args, name)
        if value is not None and not value.strip():
            raise InvalidSettingError(name, value, "a non-empty name (leave the option out for the default)")
    if args.data_dir is not None and not args.data_dir.is_dir():
        raise InvalidSettingError("data_dir", str(args.data_dir), "an existing folder of edited CSV files")


def _table(args: argparse.Namespace, filename: str) -> Path | None:
    if args.data_dir is None:
        return None
    path = args.data_dir / filename
    return path if path.exists() else None


def _cloud(args: argparse.Namespace) -> CloudOffer:
    prices = (args.input_usd_per_m, args.output_usd_per_m)
    if any(p is not None for p in prices):
        if args.cloud is not None:
            raise InvalidSettingError("cloud", args.cloud, "either --cloud or --input-usd-per-m/--output-usd-per-m")
        if None in prices:
            missing = "output_usd_per_m" if prices[1] is None else "input_usd_per_m"
            raise InvalidSettingError(missing, None, "both token prices, in USD per million")
        return CloudOffer("custom", prices[0], prices[1], args.batch_discount)
    return cloud_offer(args.cloud or DEFAULT_CLOUD, _table(args, "cloud_prices.csv"), args.batch_discount)


def _measured_run(args: argparse.Namespace) -> Measurement | None:
    """The run given by --run (a file) or by --store/--run-uuid; None if neither."""
    if args.run and args.run_uuid:
        raise InvalidSettingError("run_uuid", args.run_uuid, "not together with --run: give one source of the run")
    if args.run_uuid:
        from workbench.measure.store import ResultsStore, default_store_path

        if not (args.store or default_store_path()).is_file():
            raise InvalidSettingError(
                "store", str(args.store or default_store_path()), "an existing results store file"
            )
        rows = ResultsStore(args.store).to_dataframe(run_uuid=args.run_uuid)
        if rows.empty:
            raise InvalidSettingError("run_uuid", args.run_uuid, "the run_uuid of a run in the store")
        run = flat_record(rows.iloc[0].to_dict())
        if run.get("served"):
            raise InvalidSettingError(
                "run_uuid", args.run_uuid, "a run measured on this box (this one was served: use it with --cloud-run)"
            )
        return Measurement.from_record(run)
    if args.store:
        raise InvalidSettingError("store", str(args.store), "only together with --run-uuid")
    return Measurement.from_record(_read_run(args.run, args.run_kind, served=False)) if args.run else None


def _served_figures(path: Path) -> dict[str, Any]:
    """What a measured served run says about the cloud side: speed and latency for one user."""
    run = _read_run(path, None, served=True, parameter="cloud_run")
    keys = (
        "endpoint",
        "server_model",
        "server_version",
        "tokens_per_second",
        "time_to_first_token_s",
        "total_s",
        "new_tokens",
    )
    return {key: run.get(key) for key in keys}


def _read_run(path: Path, kind: str | None, served: bool, parameter: str = "run") -> dict[str, Any]:
    """One run from a file: a single object, or the one run of `kind` in a `compare --json` list
    (runs on this box for --run, the served run for --cloud-run)."""
    try:
        runs = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise InvalidSettingError(parameter, str(path), f"a readable JSON file ({error})") from None
    if isinstance(runs, dict) and isinstance(runs.get("median_runs"), list):  # `compare --json`: one run per model
        runs = runs["median_runs"]
    if isinstance(runs, list):
        flat = [flat_record(run) for run in runs if isinstance(run, dict)]
        candidates = [run for run in flat if bool(run.get("served")) == served]
        kinds = [str(run.get("kind")) for run in candidates]
        chosen = [run for run in candidates if kind is None or run.get("kind") == kind]
        if len(chosen) != 1:
            what = "served run" if served else "run measured on this box"
            raise InvalidSettingError(
                "run_kind" if parameter == "run" else parameter,
                kind if parameter == "run" else str(path),
                f"a file with exactly one such {what}, or the kind of one: " + (", ".join(kinds) or "none in the file"),
            )
        runs = chosen[0]
    if not isinstance(runs, dict):
        raise InvalidSettingError(parameter, str(path), "a JSON object with tokens_per_second, joules_per_token, ...")
    run = flat_record(runs)
    if bool(run.get("served")) != served:
        allowed = (
            "a served run (workbench compare --served URL --json)"
            if served
            else "a run measured on this box (a served run goes to --cloud-run)"
        )
        raise InvalidSettingError(parameter, str(path), allowed)
    return run
