"""Command line: `python -m workbench.tiny.train --model tiny-diffusion|tiny-ar --minutes M --out DIR`.

Thin wrapper over `workbench.tiny.train.loop.train`; see there for what a run writes. Hyper-parameters
live in `configs.py`; `--set FIELD=VALUE` changes one for a run (an experiment, or an earlier stage of
a shipped model that its card names), e.g. `--set canvas_lengths=32,64 --set ordered_rate=0.5`.
Left out: any option not needed to reproduce the shipped models.
"""

from __future__ import annotations

import os

# On a shared CPU, OpenMP threads that spin while waiting for a descheduled sibling made steps 5-10x
# slower (measured here: 1.5 s vs 8-17 s per step with one other busy process); set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
from dataclasses import fields  # noqa: E402
from typing import Any  # noqa: E402

from workbench.tiny.train.configs import MODEL_NAMES, TrainSettings  # noqa: E402
from workbench.tiny.train.loop import train, with_overrides  # noqa: E402

SETTABLE = {f.name: str(f.type) for f in fields(TrainSettings) if f.name != "default_settings"}
SHARES = (
    "self_conditioning_rate",
    "ordered_rate",
    "high_noise_rate",
    "pure_noise_rate",
    "min_lr_ratio",
)  # fractions: 0 to 1
SIZES = ("batch_size", "canvas_lengths", "checkpoint_every", "corpus_stories")  # counts: from 1


def parse_setting(text: str) -> tuple[str, Any]:
    """`FIELD=VALUE` -> (field, typed value); argparse turns a refusal into a one-line usage error."""
    name, _, value = text.partition("=")
    if name not in SETTABLE or not value:
        raise argparse.ArgumentTypeError(f"{text!r}: expected FIELD=VALUE with FIELD one of {sorted(SETTABLE)}")
    cast = float if "float" in SETTABLE[name] else int
    try:
        parsed = tuple(cast(v) for v in value.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{name}={value!r}: not {cast.__name__} values") from None
    low, high = (1, float("inf")) if name in SIZES else (0, 1 if name in SHARES else float("inf"))
    if not all(low <= v <= high for v in parsed):
        raise argparse.ArgumentTypeError(f"{name}={value!r}: allowed are values from {low} to {high}")
    return name, parsed if "tuple" in SETTABLE[name] else parsed[0]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m workbench.tiny.train", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, choices=MODEL_NAMES)
    budget = parser.add_mutually_exclusive_group(required=True)
    budget.add_argument("--minutes", type=float, help="train for about this long (step count fixed after 25 steps)")
    budget.add_argument("--steps", type=int, help="train exactly this many steps (reproducible across machines)")
    parser.add_argument("--out", required=True, help="folder for checkpoint.pt and the exported model")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    parser.add_argument("--init-from", help="start from the weights of this exported model folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--set", type=parse_setting, action="append", default=[], metavar="FIELD=VALUE", help="change one setting"
    )
    parser.add_argument("--device", default="auto", help="auto (GPU when there is one), cpu, cuda, cuda:1, ...")
    args = parser.parse_args(argv)
    summary = train(
        args.model,
        args.out,
        minutes=args.minutes,
        steps=args.steps,
        resume=args.resume,
        init_from=args.init_from,
        seed=args.seed,
        device=args.device,
        settings=with_overrides(args.model, **dict(args.set)) if args.set else None,
    )
    print(json.dumps({k: summary[k] for k in ("steps", "seconds", "final_loss", "parameters")}))


if __name__ == "__main__":
    main()
