"""`workbench evaluate NAME`: run one registered evaluation of block generation from the shell.

    workbench evaluate --list                                  # the evaluations and what each needs
    workbench evaluate convergence --stories 8 --steps 16      # generate, then evaluate, as a table
    workbench evaluate seams --block-size 16 --json            # diffusion and AR runs, same seeds

It generates `--stories` runs per model the evaluation needs (seeds 0..N-1, the same for both
kinds), with a progress line on stderr, and prints the evaluation's table. The runs are not stored:
they exist to be evaluated (`workbench compare` stores runs). Left out: evaluating stored runs (the
store keeps no traces) and the soak, which is a long run rather than an evaluation of results.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from workbench.errors import InvalidSettingError

if TYPE_CHECKING:
    from workbench.engine.generator import Generator
    from workbench.engine.result import GenerationResult


def register(commands: argparse._SubParsersAction) -> None:
    evaluate = commands.add_parser("evaluate", help="generate runs and evaluate them by name (seams, convergence, ...)")
    evaluate.add_argument("name", nargs="?", help="the evaluation (see --list)")
    evaluate.add_argument("--list", action="store_true", help="list the evaluations and what each needs")
    evaluate.add_argument("--prompt", default="Once upon a time ,")
    evaluate.add_argument("--stories", type=int, default=8, help="runs per model (default 8)")
    evaluate.add_argument("--ar", default="tiny-ar", help="autoregressive model (default: tiny-ar)")
    evaluate.add_argument("--diffusion", default="tiny-diffusion", help="diffusion model (default: tiny-diffusion)")
    evaluate.add_argument("--reference", default="gemma-3-270m", help="perplexity's scoring model")
    evaluate.add_argument("--max-new-tokens", type=int, default=48)
    evaluate.add_argument("--steps", type=int, help="diffusion: maximum denoising steps per canvas")
    evaluate.add_argument("--block-size", type=int, help="diffusion: canvas length")
    evaluate.add_argument("--sampler", help="diffusion sampler (default: the model's own)")
    evaluate.add_argument("--blocklist", nargs="*", default=(), help="guardrails: words that must never be shown")
    evaluate.add_argument("--device", default="auto")
    evaluate.add_argument("--json", action="store_true", help="print the table as JSON records")
    evaluate.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.evaluation import evaluation_table, evaluations, run_evaluation
    from workbench.loading.load import load

    if args.list:
        print(evaluation_table().to_string(index=False))
        return 0
    known = evaluations()
    if args.name not in known:
        raise InvalidSettingError("NAME", args.name, f"one of {sorted(known)} (see `workbench evaluate --list`)")
    if isinstance(args.stories, bool) or args.stories < 1:
        raise InvalidSettingError("--stories", args.stories, "a whole number >= 1")
    needs = known[args.name].needs
    diffusion = load(args.diffusion, device=args.device)
    knobs = {"steps": args.steps, "block_size": args.block_size, "sampler": args.sampler}
    runs = _generate(diffusion, args, {k: v for k, v in knobs.items() if v is not None})
    if "both kinds" in needs or args.name in ("guardrails", "perplexity"):
        runs += _generate(load(args.ar, device=args.device), args, {})
    reference = load(args.reference, device=args.device) if "reference" in needs else None
    options = {"blocklist": args.blocklist} if args.name == "guardrails" and args.blocklist else {}
    table = run_evaluation(
        args.name, runs, tokenizer=getattr(diffusion, "tokenizer", None), reference=reference, **options
    )
    print(table.to_json(orient="records", indent=2) if args.json else table.round(4).to_string(index=False))
    return 0


def _generate(handle: Generator, args: argparse.Namespace, knobs: dict[str, Any]) -> list[GenerationResult]:
    settings = handle.settings(max_new_tokens=args.max_new_tokens, **knobs)  # checked before the first run
    runs = []
    for seed in range(args.stories):
        print(f"\rworkbench: {handle.name}: run {seed + 1}/{args.stories}", end="", file=sys.stderr, flush=True)
        runs.append(handle.generate(args.prompt, settings=replace(settings, seed=seed)))
    print(file=sys.stderr)
    return runs
