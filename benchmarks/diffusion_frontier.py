"""Speed/quality frontier of a diffusion model: sampler x steps x block size, against the AR model, from one run.

Each setting writes the same stories (same prompt, seeds 0..N-1) through the workbench engine at
batch 1; quality is the story grammar's own checks (`workbench.tiny.stories`), speed is every new token
over every second of those runs. Printed per setting: share of grammatical sentences, share of
consistent stories, tokens per forward pass, tokens/s, and tokens/s as a ratio to the reference
setting (entropy-bound, 48 steps, block 32) and to the AR model, both measured in this same run so
machine noise cancels in the ratios. The targets the embedded model is held to are checked last.

    python benchmarks/diffusion_frontier.py                           # embedded tiny models, 40 stories
    python benchmarks/diffusion_frontier.py --diffusion /tmp/run/out --stories 100 --json frontier.json
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

import pandas as pd

import workbench
from workbench.tiny.stories import check_stories

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


def run_setting(
    handle: Any, prompt: str, stories: int, max_new_tokens: int, settings: dict[str, Any]
) -> dict[str, Any]:
    """Quality and speed of `stories` runs at one setting (seeds 0..stories-1)."""
    texts, tokens, forwards, seconds = [], 0, 0, 0.0
    for seed in range(stories):
        started = time.perf_counter()
        result = handle.generate(prompt, max_new_tokens=max_new_tokens, seed=seed, **settings)
        seconds += time.perf_counter() - started
        texts.append(f"{prompt} {result.text}")
        tokens += result.new_tokens
        forwards += result.forward_passes or 0
    quality = check_stories(texts)
    return {
        "grammatical": quality.valid_sentence_share,
        "consistent": quality.consistent_story_share,
        "tokens_per_forward": tokens / forwards if forwards else float("nan"),
        "tokens_per_s": tokens / seconds,
    }


def frontier(
    grid: list[dict[str, Any]],
    diffusion: str,
    ar: str,
    prompt: str,
    stories: int,
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
    handle.generate(prompt, max_new_tokens=16, seed=0)  # warm-up: first-call allocations are not the model's speed
    for settings in grid:
        progress(f"{settings}")
        row = {**settings, **run_setting(handle, prompt, stories, max_new_tokens, settings)}
        row["default"] = settings == defaults
        rows.append(row)
    ar_handle = workbench.load(ar, device="cpu")
    ar_handle.generate(prompt, max_new_tokens=16, seed=0)
    progress(f"{ar} (defaults)")
    rows.append(
        {"sampler": f"AR ({ar})", **run_setting(ar_handle, prompt, stories, max_new_tokens, {}), "default": True}
    )
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
    parser.add_argument("--prompt", default="Once upon a time ,")
    parser.add_argument("--stories", type=int, default=40, help="stories per setting")
    parser.add_argument("--max-new-tokens", type=int, default=160, help="enough for the grammar's longest story")
    parser.add_argument("--quick", action="store_true", help="five settings only, to compare training runs")
    parser.add_argument("--json", help="also write the table here")
    args = parser.parse_args()
    table = frontier(
        QUICK if args.quick else GRID,
        args.diffusion,
        args.ar,
        args.prompt,
        args.stories,
        args.max_new_tokens,
        lambda s: print("running", s, flush=True),
    )
    shown = table.drop(columns=["default"]).copy()
    shown[["steps", "block_size"]] = shown[["steps", "block_size"]].astype("Int64")
    for column in ("grammatical", "consistent"):
        shown[column] = shown[column].map("{:.0%}".format)
    print(shown.to_string(index=False, float_format="{:.2f}".format, na_rep=""))
    for text, met in targets(table):
        print(("MET     " if met else "NOT MET ") + text)
    if args.json:
        with open(args.json, "w") as f:
            # settings a row does not have (AR has no steps) are null, not NaN, so the file is valid JSON
            json.dump(table.astype(object).where(table.notna(), None).to_dict(orient="records"), f, indent=2)


if __name__ == "__main__":
    main()
