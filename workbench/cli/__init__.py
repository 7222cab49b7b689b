"""The `workbench` command line: the headless twin of the notebooks.

    workbench compare "Once upon a time"        # AR vs diffusion on the embedded models, as a table
    workbench compare "Once upon a time" --json # medians with intervals, cold start, busy, verdicts, every run
    workbench compare "Once upon a time" --served http://127.0.0.1:8000/v1 --json   # and a served model
    workbench models                            # what can be loaded, and whether offline
    workbench doctor                            # versions in use, and whether each is a tested one
    workbench breakeven --hardware rtx-5090 --tariff san-diego --json
    workbench roofline --hardware dgx-spark --precision fp4 --json
    workbench plan diffusiongemma-26b-a4b --hardware rtx-5090 --precision bf16   # will it fit? before any download
    workbench evaluate seams --stories 8        # generate, then run an evaluation by name (--list: all of them)

Errors a user can fix (a bad setting, a missing model, a mistyped option) are printed as one line
without a traceback and the exit status is 2. Ctrl-C, at any moment, ends the command with one line
and exit status 130; nothing half-done is stored. Heavy libraries load inside the subcommand that
needs them, so `--help` and `--version` answer at once.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from workbench import __version__
from workbench.errors import InvalidSettingError, WorkbenchError


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a mistake is one line (the full usage is one `--help` away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


class RegistryHelp(argparse.HelpFormatter):
    """Fills `{samplers}` in a help text with the registered samplers when help is printed, not
    when the parser is built: reading the registry imports torch, which `--version` must not pay for."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = super()._get_help_string(action)
        if text and "{samplers}" in text:
            from workbench.engine.diffusion.samplers import sampler_choices

            text = text.replace("{samplers}", ", ".join(sampler_choices()))
        return text


def _number(text: str) -> float | str:
    """--temperature takes a number or the word 'schedule'; the engine checks the range."""
    try:
        return float(text)
    except ValueError:
        return text


def build_parser() -> argparse.ArgumentParser:
    from workbench.cli.cost import register as register_cost_commands
    from workbench.cli.evaluate import register as register_evaluate_command

    parser = OneLineParser(prog="workbench", description="Watch and measure AR vs block-diffusion generation.")
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    compare = commands.add_parser(
        "compare", help="run one prompt through an AR and a diffusion model", formatter_class=RegistryHelp
    )
    compare.add_argument("prompt")
    compare.add_argument("--ar", default="tiny-ar", help="autoregressive model (default: tiny-ar)")
    compare.add_argument("--diffusion", default="tiny-diffusion", help="diffusion model (default: tiny-diffusion)")
    compare.add_argument("--max-new-tokens", type=int)
    compare.add_argument(
        "--temperature",
        type=_number,
        help="a number (0 = argmax) for both, or 'schedule': the diffusion model's own (AR keeps its default)",
    )
    compare.add_argument("--steps", type=int, help="diffusion: maximum denoising steps per canvas")
    compare.add_argument("--block-size", type=int, help="diffusion: canvas length")
    compare.add_argument("--sampler", help="diffusion: one of {samplers}")
    compare.add_argument("--no-early-exit", action="store_true", help="diffusion: always run every step")
    compare.add_argument(
        "--served",
        metavar="URL",
        help="also run an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1 (API key: $WORKBENCH_API_KEY)",
    )
    compare.add_argument(
        "--served-model", metavar="NAME", help="which model the server should run (default: the first it lists)"
    )
    compare.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="warm runs per model after one cold run each (default: 6, the fewest for a 95%% interval)",
    )
    compare.add_argument("--seed", type=int, default=0)
    compare.add_argument("--device", default="auto")
    compare.add_argument("--json", action="store_true", help="print the runs as JSON")
    compare.add_argument("--store", help="results store file (default: $WORKBENCH_STORE or your data folder)")
    compare.add_argument("--no-store", action="store_true", help="do not record the runs")
    compare.set_defaults(func=_run_compare)

    listing = commands.add_parser("models", help="list the models workbench can load")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_run_models)

    doctor = commands.add_parser("doctor", help="print the versions in use and whether each is inside the tested range")
    doctor.add_argument("--json", action="store_true")
    doctor.set_defaults(func=_run_doctor)

    memory = commands.add_parser(
        "plan", help="memory a run needs (weights, KV cache, logits, activations) and whether it fits (exit 1 if not)"
    )
    memory.add_argument("model", help="registered name, model folder or cached hub id")
    memory.add_argument(
        "--hardware",
        default="attached",
        help="profile name (see workbench/data/hardware.csv), 'attached' (the GPU's free memory) or 'cpu'",
    )
    memory.add_argument("--precision", default="bf16", help="fp32, bf16, fp16, fp8, int8, int4, nf4 or fp4")
    memory.add_argument("--block-size", type=int, help="diffusion: canvas length (default: the model's own)")
    memory.add_argument(
        "--context-tokens", type=int, help="prompt plus generated tokens (default: 4096 or the model's context)"
    )
    memory.add_argument("--json", action="store_true")
    memory.set_defaults(func=_run_plan)

    register_cost_commands(commands)  # breakeven, roofline
    register_evaluate_command(commands)
    return parser


def _run_compare(args: argparse.Namespace) -> int:
    from workbench.experiments.compare import DEFAULT_REPEATS, compare_runs
    from workbench.measure.store import ResultsStore

    diffusion_settings = {
        "steps": args.steps,
        "block_size": args.block_size,
        "sampler": args.sampler,
        "early_exit": False if args.no_early_exit else None,
    }
    shared = {"max_new_tokens": args.max_new_tokens, "temperature": args.temperature, "seed": args.seed}
    if args.served_model is not None and args.served is None:
        raise InvalidSettingError("--served-model", args.served_model, "only together with --served URL")
    store = None if args.no_store else ResultsStore(args.store)  # a bad path fails before any run
    comparison = compare_runs(
        args.prompt,
        ar=args.ar,
        diffusion=args.diffusion,
        device=args.device,
        shared_settings=shared,
        diffusion_settings=diffusion_settings,
        progress=_say,
        served=args.served,
        served_model=args.served_model,
        repeats=DEFAULT_REPEATS if args.repeats is None else args.repeats,
    )
    if args.json:
        print(json.dumps(comparison.to_dict(), indent=2))
    else:
        print(_comparison_text(comparison))
    sys.stdout.flush()  # the results are out before the store is touched
    for failure in comparison.failures:
        _say(f"{failure.model} ({failure.kind}) failed: {failure.error}; the runs that finished are shown and stored")
    results = comparison.results
    if store is not None and results:
        phases = [{"phase": "cold"}] * len(comparison.cold) + [{"phase": "warm"}] * len(comparison.warm)
        kept_in = store.add_all(results, tags={"source": "compare"}, run_tags=phases)
        if kept_in is None:
            _say(f"{len(results)} runs added to {store.path}")
        else:
            _say(
                f"the results store {store.path} stayed busy (another process is writing); the {len(results)} "
                f"runs are kept in {kept_in}: add them later with ResultsStore().import_({str(kept_in)!r})"
            )
    return 1 if comparison.failures else 0


def _comparison_text(comparison: Any) -> str:
    """The human form: cold start, warm medians with intervals, the verdicts, and the median runs."""
    import pandas as pd

    from workbench.experiments.compare import comparison_table

    summary = comparison.summary()

    def spread(figure: str, digits: int) -> pd.Series:
        return summary.apply(
            lambda row: (
                "n/a"
                if pd.isna(row[f"{figure}_median"])
                else f"{row[f'{figure}_median']:.{digits}f}"
                + (
                    f" [{row[f'{figure}_low']:.{digits}f}, {row[f'{figure}_high']:.{digits}f}]"
                    if pd.notna(row[f"{figure}_low"])
                    else " [too few runs for an interval]"
                )
            ),
            axis=1,
        )

    cold = summary[["model", "kind", "load_s", "cold_first_token_s", "cold_total_s"]].round(3)
    cold.columns = ["model", "kind", "load (s)", "first token (s)", "first run total (s)"]
    warm = pd.DataFrame(
        {
            "model": summary["model"],
            "warm runs": summary["warm_runs"],
            "tokens/s": spread("tokens_per_second", 1),
            "first token (s)": spread("time_to_first_token_s", 3),
            "busy": summary["busy"].map(lambda busy: "busy" if busy else ""),
            "torch threads": summary["torch_threads"],
        }
    )
    lines = [
        "Cold start (after loading, the first run; not part of the comparison):",
        cold.to_string(index=False),
        "",
        "Warm (median [95% interval: order statistics of the median]):",
        warm.to_string(index=False),
        "",
        f"tokens/s: {comparison.verdict('tokens_per_second').words}",
        f"first token: {comparison.verdict('time_to_first_token_s').words}",
    ]
    if comparison.busy:
        lines.append(comparison.busy_note())
    median_runs = comparison.median_runs()
    if median_runs:
        table = comparison_table(median_runs)
        table["text"] = table["text"].map(lambda text: text if len(text) <= 60 else text[:59] + "\u2026")
        with pd.option_context("display.width", 250):
            lines += ["", "The median warm run of each model:", table.to_string()]
    return "\n".join(lines)


def _say(message: str) -> None:
    print(f"workbench: {message}", file=sys.stderr, flush=True)


def _run_models(args: argparse.Namespace) -> int:
    from workbench.loading.registry import models

    table = models()
    print(
        table.to_json(orient="records", indent=2)
        if args.json
        else table.drop(columns=["location"]).to_string(index=False)
    )
    return 0


def _run_plan(args: argparse.Namespace) -> int:
    from workbench.loading.memory import plan

    result = plan(
        args.model,
        hardware=args.hardware,
        precision=args.precision,
        block_size=args.block_size,
        context_tokens=args.context_tokens,
    )
    print(json.dumps(result.to_dict(), indent=2) if args.json else result)
    return 0 if result.fits else 1


def _run_doctor(args: argparse.Namespace) -> int:
    import platform

    import torch

    from workbench.loading.versions import dependency_report

    report = dependency_report()
    build = f"CUDA {torch.version.cuda} build" if torch.version.cuda else "CPU-only build"
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none visible to torch"
    outside = report.loc[~report["ok"], "package"].tolist()
    if args.json:
        print(
            json.dumps(
                {
                    "workbench": __version__,
                    "python": platform.python_version(),
                    "torch_build": build,
                    "gpu": gpu,
                    "dependencies": report.to_dict(orient="records"),
                    "all_tested": not outside,
                },
                indent=2,
            )
        )
    else:
        print(f"workbench {__version__}, Python {platform.python_version()}, torch {build}, GPU: {gpu}")
        print(report.to_string(index=False))
        print("all inside the declared ranges" if not outside else f"outside the declared ranges: {', '.join(outside)}")
    return 0 if not outside else 1


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        from transformers.utils import logging as transformers_logging

        # Weight-loading bars and library notices would bury the table (and the one-line errors):
        # torchao (when the [quant] extra is installed) reports kernels this machine cannot load.
        transformers_logging.disable_progress_bar()
        transformers_logging.set_verbosity_error()
        for noisy in ("torchao", "torch.utils._pytree"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
        return args.func(args)
    except WorkbenchError as error:
        print(f"workbench: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("workbench: interrupted; nothing more was run or stored", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `workbench ... | head`: the reader has gone, which is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
