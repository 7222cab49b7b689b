"""Command line: `python -m workbench.train --model tiny-diffusion|tiny-ar --minutes M --out DIR`.

Thin wrapper over `workbench.train.loop.train`; see there for what a run writes. Left out: any
option not needed to reproduce the shipped models (hyper-parameters live in `configs.py`).
"""

from __future__ import annotations

import os

# On a shared CPU, OpenMP threads that spin while waiting for a descheduled sibling made steps 5-10x
# slower (measured here: 1.5 s vs 8-17 s per step with one other busy process); set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402

from workbench.train.configs import MODEL_NAMES  # noqa: E402
from workbench.train.loop import train  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m workbench.train", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, choices=MODEL_NAMES)
    budget = parser.add_mutually_exclusive_group(required=True)
    budget.add_argument("--minutes", type=float, help="train for about this long (step count fixed after 25 steps)")
    budget.add_argument("--steps", type=int, help="train exactly this many steps (reproducible across machines)")
    parser.add_argument("--out", required=True, help="folder for checkpoint.pt and the exported model")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    parser.add_argument("--init-from", help="start from the weights of this exported model folder")
    parser.add_argument("--seed", type=int, default=0)
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
    )
    print(json.dumps({k: summary[k] for k in ("steps", "seconds", "final_loss", "parameters")}))


if __name__ == "__main__":
    main()
