"""Speed/quality frontier of a diffusion model: sampler x steps x block size, against the AR model, from one run.

Each setting writes the same stories through the workbench engine at batch 1: by default the held-out
prompts and seeds of `workbench.tiny.stories.quality` (prompts cycled, seeds 1000, 1001, ...; the
defaults were tuned on "Once upon a time ," with seeds 0-39, so those would flatter them). Quality is
the story grammar's own checks, each share with its 95% interval (see `quality_with_intervals`); speed
is every new token over every second of those runs, after one untimed warm-up run per setting.
Printed per setting: share of grammatical sentences the model wrote, share of consistent stories,
tokens per forward pass, tokens/s, and tokens/s as a ratio to the reference setting (entropy-bound, 48
steps, block 32) and to the AR model, both measured in this same run so machine noise partly cancels in
the ratios (no interval on speed here). The targets the embedded model is held to are checked last,
on the point estimates. Left out: speed repeats and intervals (`workbench.experiments` has them).

    python benchmarks/diffusion_frontier.py                           # embedded tiny models, 100 stories
    python benchmarks/diffusion_frontier.py --main --stories 40       # the model card's main rows only
    python benchmarks/diffusion_frontier.py --diffusion /tmp/run/out --stories 40 --json frontier.json
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

import pandas as pd
import torch

import workbench
from workbench.errors import InvalidSettingError
from workbench.tiny.stories.quality import HELD_OUT_SEED, held_out, quality_with_intervals, with_interval

REFERENCE = {"sampler": "entropy-bound", "steps": 48, "block_size": 32}
GRID: list[dict[str, Any]] = [
    {"sampler": "entropy-bound", "steps": 48, "block_size": 32},
    {"sampler": "entropy-bound", "steps": 32, "block_size": 32},
    {"sampler": "entropy-bound", "steps": 16, "block_size": 32},
    {"sampler": "entropy-bound", "steps": 8, "block_size": 32},
    {"sampler": "entropy-bound", "steps": 32, "block_size": 64},
    {"sampler": "entropy-bound", "steps": 20, "block_size": 64},
    {"sampler": "entropy-bound", "steps": 16, "block_size": 64},
    {"sampler": "quota", "steps": 16, "block_size": 32, "threshold": 0.9},
    {"sampler": "confidence", "steps": 48, "block_size": 32, "threshold": 0.9},
    {"sampler": "confidence", "steps": 16, "block_size": 32, "threshold": 0.9},
    {"sampler": "confidence", "steps": 16, "block_size": 32, "threshold": 0.7},
    {"sampler": "confidence", "steps": 32, "block_size": 64, "threshold": 0.9},
]
QUICK = [GRID[i] for i in (0, 1, 2, 6, 7, 9)]  # reference, default, 16 steps, block 64, both locking samplers
MAIN = [GRID[i] for i in (0, 4, 6, 9)]  # reference, the defaults, the most parallel, the best locking sampler


def run_setting(
    handle: Any, stories: list[tuple[str, int]], max_new_tokens: int, settings: dict[str, Any]
) -> dict[str, Any]:
    """Quality (with 95% intervals) and speed of one setting over `stories` (prompt, seed) pairs."""
    texts, tokens, forwards, seconds = [], 0, 0, 0.0
    handle.generate(stories[0][0], max_new_tokens=16, seed=0, **settings)  # warm-up of this settings shape, untimed
    for prompt, seed in stories:
        started = time.perf_counter()
        result = handle.generate(prompt, max_new_tokens=max_new_tokens, seed=seed, **settings)
        seconds += time.perf_counter() - started
        texts.append(f"{prompt} {result.text}")
        tokens += result.new_tokens
        forwards += result.forward_passes or 0
    quality = quality_with_intervals(texts, [prompt for prompt, _ in stories])
    return {
        **{
            f"{short}{end}": quality[f"{name}{end}"]
            for short, name in (("grammatical", "valid_sentence_share"), ("consistent", "consistent_story_share"))
            for end in ("", "_low", "_high")
        },
        "stories": len(texts),
        "tokens_per_forward": tokens / forwards if forwards else float("nan"),
        "tokens_per_s": tokens / seconds,
    }


def frontier(
    grid: list[dict[str, Any]],
    diffusion: str,
    ar: str,
    stories: list[tuple[str, int]],
    max_new_tokens: int,
    progress: Callable[[str], None],
) -> pd.DataFrame:
    """One row per setting (the AR model last), with speed ratios to the reference setting and to AR."""
    rows = []
    handle = workbench.load(diffusion, device="cpu")
    chosen = handle.settings()
    defaults: dict[str, Any] = {"sampler": chosen.sampler, "steps": chosen.steps, "block_size": chosen.block_size}
    if chosen.sampler != "entropy-bound":  # the threshold only matters to the locking samplers
        defaults["threshold"] = chosen.threshold
    grid = grid if defaults in grid else [{**defaults}, *grid]
    for settings in grid:
        progress(f"{settings}")
        row = {**settings, **run_setting(handle, stories, max_new_tokens, settings)}
        row["default"] = settings == defaults
        rows.append(row)
    ar_handle = workbench.load(ar, device="cpu")
    progress(f"{ar} (defaults)")
    rows.append({"sampler": f"AR ({ar})", **run_setting(ar_handle, stories, max_new_tokens, {}), "default": True})
    table = pd.DataFrame(rows)
    reference = table[
        (table["sampler"] == REFERENCE["sampler"])
        & (table["steps"] == REFERENCE["steps"])
        & (table["block_size"] == REFERENCE["block_size"])
    ]
    table["vs_reference"] = table["tokens_per_s"] / float(reference["tokens_per_s"].iloc[0])
    table["vs_ar"] = table["tokens_per_s"] / float(table["tokens_per_s"].iloc[-1])
    return table


def targets(table: pd.DataFrame) -> list[tuple[str, bool]]:
    """The embedded diffusion model's targets (issue 16), each with whether this run meets it."""
    diffusion = table.iloc[:-1]
    default = diffusion[diffusion["default"]].iloc[0]
    parallel = diffusion[diffusion["tokens_per_forward"] >= 3]
    locking_16 = diffusion[diffusion["sampler"].isin(["quota", "confidence"]) & (diffusion["steps"] == 16)]
    return [
        (f"defaults >= 97% grammatical ({default['grammatical']:.0%})", default["grammatical"] >= 0.97),
        (f"defaults >= 40% consistent stories ({default['consistent']:.0%})", default["consistent"] >= 0.40),
        (
            f"some setting with >= 3 tokens/forward at >= 95% grammatical (best: {parallel['grammatical'].max() if len(parallel) else float('nan'):.0%})",
            bool(len(parallel)) and parallel["grammatical"].max() >= 0.95,
        ),
        (
            f"a locking sampler >= 90% grammatical at 16 steps (best: {locking_16['grammatical'].max():.0%})",
            locking_16["grammatical"].max() >= 0.90,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--diffusion", default="tiny-diffusion", help="registered name or model folder")
    parser.add_argument("--ar", default="tiny-ar", help="the autoregressive model to race against")
    parser.add_argument("--prompt", help="one prompt for every story (default: the held-out prompts, cycled)")
    parser.add_argument("--seed", type=int, default=HELD_OUT_SEED, help="seed of the first story (tuning read 0-39)")
    parser.add_argument("--stories", type=int, default=100, help="stories per setting")
    parser.add_argument("--max-new-tokens", type=int, default=160, help="enough for the grammar's longest story")
    parser.add_argument("--quick", action="store_true", help="six settings only, to compare training runs")
    parser.add_argument("--main", action="store_true", help="four settings only: the model card's main rows")
    parser.add_argument("--json", help="also write the table here")
    args = parser.parse_args()
    if args.stories < 1:
        raise InvalidSettingError("--stories", args.stories, "a whole number >= 1, e.g. 100")
    stories = [(args.prompt or prompt, seed - HELD_OUT_SEED + args.seed) for prompt, seed in held_out(args.stories)]
    started = time.perf_counter()
    table = frontier(
        QUICK if args.quick else MAIN if args.main else GRID,
        args.diffusion,
        args.ar,
        stories,
        args.max_new_tokens,
        lambda s: print("running", s, flush=True),
    )
    shown = table.drop(columns=["default"]).copy()
    shown[["steps", "block_size"]] = shown[["steps", "block_size"]].astype("Int64")
    for column in ("grammatical", "consistent"):
        shown[column] = [with_interval(r[column], r[f"{column}_low"], r[f"{column}_high"]) for _, r in table.iterrows()]
        shown = shown.drop(columns=[f"{column}_low", f"{column}_high"])
    print(shown.to_string(index=False, float_format="{:.2f}".format, na_rep=""))
    prompts = sorted({prompt for prompt, _ in stories})
    print(
        f"{args.stories} stories per setting (seeds {stories[0][1]}-{stories[-1][1]}; prompts: {prompts}); "
        f"95% intervals; {(time.perf_counter() - started) / 60:.1f} minutes with {torch.get_num_threads()} torch threads"
    )
    for text, met in targets(table):
        print(("MET     " if met else "NOT MET ") + text)
    if args.json:
        with open(args.json, "w") as f:
            # settings a row does not have (AR has no steps) are null, not NaN, so the file is valid JSON
            rows = table.astype(object).where(table.notna(), None).to_dict(orient="records")
            run = {"stories": args.stories, "seeds": [stories[0][1], stories[-1][1]], "prompts": prompts}
            run |= {"minutes": round((time.perf_counter() - started) / 60, 1), "threads": torch.get_num_threads()}
            json.dump({**run, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
