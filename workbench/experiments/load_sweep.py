"""Load on a served model: many users at once, and what each level does to speed and latency.

    frame = load_sweep(handle, "Once upon a time", levels=(1, 2, 4, 8), max_new_tokens=64)
    plot_load(frame)

For each concurrency level N, N streams run at the same time (threads, one request each, or
`requests_per_level` requests with N in flight), with a tqdm progress bar. One row per level:
aggregate tokens/s (all tokens / the level's wall time: what the server delivers, the number a
cost per million tokens at N users needs), per-user tokens/s (median over requests: what each user
feels) and TTFT p50/p95. Every level is bounded in count and in time (`timeout_s`): when it runs
out, the runs still going are stopped and counted as unfinished, never waited on. Runs may be
added to a `ResultsStore`, tagged with their level. One unmeasured warm-up request goes first
(`warmup=False` skips it), under the same `timeout_s` (it is stopped when that runs out): a server's
first request pays for lazy set-up, which would make level 1 look slow and every later level look
like a speed-up. So the whole sweep waits at most `timeout_s` x (levels + 1), plus each served
handle's own deadlines (`handle.deadlines`) for a stream already cut. Left out: open-loop arrival rates (Poisson
traffic); `vllm bench serve` does those.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from tqdm.auto import tqdm

from workbench.checks import check_float, check_int
from workbench.engine.generator import Generator
from workbench.engine.result import GenerationResult
from workbench.errors import InvalidSettingError, WorkbenchError
from workbench.measure.store import ResultsStore

MAX_LEVEL = 256  # more simultaneous streams than this is a load generator's job, not a notebook's


def load_sweep(
    handle: Generator,
    prompt: str,
    levels: Sequence[int] = (1, 2, 4, 8),
    *,
    requests_per_level: int | None = None,
    timeout_s: float = 300.0,
    store: ResultsStore | None = None,
    warmup: bool = True,
    **settings: Any,
) -> pd.DataFrame:
    """One row per level (see the module docstring); settings are checked before the first request."""
    if not isinstance(handle, Generator) or not handle.is_served:
        raise InvalidSettingError("handle", handle, "a served model: workbench.load('http://HOST:PORT/v1')")
    if isinstance(levels, (str, bytes)) or not levels:
        raise InvalidSettingError("levels", levels, f"a non-empty list of integers from 1 to {MAX_LEVEL}")
    levels = [check_int("levels", level, 1, MAX_LEVEL) for level in levels]
    if requests_per_level is not None:
        requests_per_level = check_int("requests_per_level", requests_per_level, max(levels), 4 * MAX_LEVEL)
    timeout_s = check_float(
        "timeout_s", timeout_s, 0.0, 86_400.0, low_inclusive=False
    )  # a day: Timer overflows near 1e12 s
    handle.settings(**settings)
    if warmup:
        _warm_up(handle, prompt, timeout_s, settings)
    rows = []
    with tqdm(total=sum(requests_per_level or level for level in levels), desc="load sweep", unit="request") as bar:
        for level in levels:
            results, wall_s = _run_level(handle, prompt, level, requests_per_level or level, timeout_s, settings, bar)
            if store is not None:
                for result in (outcome for outcome in results if isinstance(outcome, GenerationResult)):
                    store.add(result, tags={"source": "load_sweep", "concurrency": level})
            rows.append(_row(level, results, wall_s))
    return pd.DataFrame(rows)


def _warm_up(handle: Generator, prompt: str, timeout_s: float, settings: dict[str, Any]) -> None:
    stop = threading.Event()
    timer = threading.Timer(timeout_s, stop.set)  # the warm-up gets the same budget as a level
    timer.start()
    try:
        handle.generate(prompt, stop=stop, **settings)
    finally:
        timer.cancel()


def _run_level(
    handle: Generator,
    prompt: str,
    level: int,
    requests: int,
    timeout_s: float,
    settings: dict[str, Any],
    bar: tqdm,
) -> tuple[list[GenerationResult | str], float]:
    stop = threading.Event()
    timer = threading.Timer(
        timeout_s, stop.set
    )  # the level's time budget: running streams stop, queued ones do not start
    outcomes: list[GenerationResult | str] = []
    started = time.perf_counter()
    timer.start()
    try:
        with ThreadPoolExecutor(max_workers=level, thread_name_prefix="workbench-load") as pool:
            futures = [pool.submit(handle.generate, prompt, stop=stop, **settings) for _ in range(requests)]
            for future in as_completed(futures):
                try:
                    outcomes.append(future.result())
                except WorkbenchError as error:  # unreachable mid-sweep, refused: a failed request, not a crash
                    outcomes.append(str(error))
                bar.update(1)
    except KeyboardInterrupt:
        stop.set()
        raise
    finally:
        timer.cancel()
    return outcomes, time.perf_counter() - started


def _row(level: int, outcomes: list[GenerationResult | str], wall_s: float) -> dict[str, Any]:
    results = [outcome for outcome in outcomes if isinstance(outcome, GenerationResult)]
    finished = [result for result in results if result.finish_reason in ("eos", "length")]
    problems = [outcome for outcome in outcomes if isinstance(outcome, str)]
    problems += [result.telemetry.get("error") or "" for result in results if result.finish_reason == "error"]
    tokens = sum(result.new_tokens for result in results)
    per_user = [result.tokens_per_second for result in finished if result.tokens_per_second is not None]
    first = [result.time_to_first_token_s for result in finished if result.time_to_first_token_s is not None]
    return {
        "concurrency": level,
        "requests": len(outcomes),
        "finished": len(finished),
        "unfinished": sum(result.stopped for result in results),
        "failed": len(problems),
        "wall_s": wall_s,
        "tokens": tokens,
        "aggregate_tokens_per_second": tokens / wall_s if tokens and wall_s > 0 else None,
        "per_user_tokens_per_second": float(np.median(per_user)) if per_user else None,
        "ttft_p50_s": float(np.percentile(first, 50)) if first else None,
        "ttft_p95_s": float(np.percentile(first, 95)) if first else None,
        "first_failure": problems[0] if problems else None,
    }


def plot_load(frame: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Aggregate and per-user tokens/s against concurrency: where sharing stops paying off."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    ax.plot(frame["concurrency"], frame["aggregate_tokens_per_second"], marker="o", label="all users together")
    ax.plot(frame["concurrency"], frame["per_user_tokens_per_second"], marker="s", label="each user (median)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("simultaneous streams")
    ax.set_ylabel("tokens per second")
    ax.legend()
    return ax
