"""Energy under sustained load: back-to-back generations for a set time, as a timeline.

`soak(handle, prompt, duration_s=...)` generates again and again until the time is up (or `stop` is
set), each generation inside the existing `EnergyMeter`, so every row of the timeline has its window,
tokens, energy and power. Energy comes from the GPU's NVML counter, else the CPU package's RAPL
counter where readable, else it is missing with both reasons (never 0): the timeline then still has
time and tokens. Clocks and temperature come from NVML where it gives them. A run shorter than the
meter's 2 s window reads energy noisily (`short_window` column): read the moving average and the
sums over many runs, not one run.

From the data, not from a fixed count: *warm-up* is the leading runs slower per token than 1.25x
the median of the second half; *steady state* starts at the first run after warm-up where the moving
average of power (of seconds per token when energy is missing) has moved less than `drift` from the
previous window. J/token is reported for runs started in the first `first_window_s` (a minute by
default) and for the steady state. A run cut short by the deadline or Stop is counted in `cut_runs`
and left out of the timeline and the figures: it did not finish. Left out: idle-baseline subtraction
(pass `idle_power_w`, kept in each run's telemetry) and cooldown between configurations (run one
soak per configuration).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import pandas as pd
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from workbench.checks import check_float
from workbench.errors import InvalidSettingError
from workbench.measure.store import ResultsStore
from workbench.measure.telemetry.energy import measured_generate

MAX_DURATION_S = 7 * 24 * 3600.0  # a week: longer soaks are a lab's job (and threading.Timer overflows near 1e12 s)
WARM_UP_SLOWDOWN = 1.25  # a run this much slower per token than the settled median is still warming up


@dataclass
class SoakReport:
    timeline: pd.DataFrame  # one row per finished generation
    cut_runs: int  # generations stopped by the deadline or Stop, left out
    energy_source: str | None  # "gpu (NVML)", "cpu package (RAPL)" or None
    energy_missing: str | None
    warmup_runs: int
    steady_start: int | None  # first steady run (row index), None when it never settled
    steady_by: str  # what the steady-state test read: power, or seconds per token without energy
    steady_missing: str | None
    joules_per_token_first: float | None
    joules_per_token_steady: float | None
    tokens_per_second_first: float | None
    tokens_per_second_steady: float | None

    def summary(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "timeline"} | {"runs": len(self.timeline)}


def soak(
    handle: Any,
    prompt: str,
    *,
    duration_s: float,
    first_window_s: float = 60.0,
    window: int = 3,
    drift: float = 0.05,
    stop: threading.Event | None = None,
    progress: bool = True,
    idle_power_w: float | None = None,
    store: ResultsStore | None = None,
    tags: dict[str, Any] | None = None,
    **settings: Any,
) -> SoakReport:
    """Generate back to back for `duration_s` seconds (at most a week, MAX_DURATION_S); the generation
    running at the deadline is stopped.

    With a `store`, every generation is added to it, tagged {"source": "soak"} and `tags`.
    """
    duration_s = check_float("duration_s", duration_s, 0.0, MAX_DURATION_S, low_inclusive=False)
    first_window_s = check_float("first_window_s", first_window_s, 0.0, None, low_inclusive=False)
    drift = check_float("drift", drift, 0.0, None, low_inclusive=False)
    if not isinstance(window, int) or isinstance(window, bool) or window < 1:
        raise InvalidSettingError("window", window, "a whole number of runs >= 1")
    handle.settings(**settings)  # bad settings fail now, not at the first run
    deadline = threading.Event()  # set at the deadline or by the caller's stop: ends the current run too
    timer = threading.Timer(duration_s, deadline.set)
    relay = threading.Thread(target=_relay, args=(stop, deadline), daemon=True) if stop is not None else None
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    timer.start()
    if relay is not None:
        relay.start()
    try:
        with tqdm(total=round(duration_s), desc=f"soak {handle.name}", unit="s", disable=not progress) as bar:
            # The caller's stop is checked here too: the relay thread only polls it every 0.1 s.
            while not deadline.is_set() and not (stop is not None and stop.is_set()):
                begin = time.perf_counter() - started
                # Each run is one short window of a long soak: its short-window note goes into the row,
                # not a warning per run; the soak's figures add many windows up.
                result = measured_generate(
                    handle, prompt, idle_power_w=idle_power_w, warn=False, stop=deadline, **settings
                )
                rows.append(_row(result, begin, time.perf_counter() - started))
                if store is not None:
                    store.add(result, tags={"source": "soak", **(tags or {})})
                bar.update(min(round(rows[-1]["end_s"]), round(duration_s)) - bar.n)
    finally:
        timer.cancel()
        deadline.set()  # lets the relay thread end
    # Columns named even when a stop came before the first run: an empty soak is a report, not a crash.
    return analyse(
        pd.DataFrame(rows, columns=TIMELINE_COLUMNS), first_window_s=first_window_s, window=window, drift=drift
    )


def analyse(
    timeline: pd.DataFrame, *, first_window_s: float = 60.0, window: int = 3, drift: float = 0.05
) -> SoakReport:
    """Warm-up, steady state and J/token from a soak timeline (also usable on a saved one)."""
    needed = ("start_s", "window_s", "tokens", "finish_reason", "energy_source", "energy_missing", "power_w")
    absent = [name for name in needed if name not in getattr(timeline, "columns", ())]
    if not isinstance(timeline, pd.DataFrame) or absent:
        shown = f"a table lacking the columns {absent}" if isinstance(timeline, pd.DataFrame) else timeline
        raise InvalidSettingError("timeline", shown, "a soak timeline (SoakReport.timeline, or one saved from it)")
    cut = timeline["finish_reason"].isin(["stopped", "interrupted", "error"])
    complete = timeline[~cut].reset_index(drop=True)
    source = complete["energy_source"].dropna().iloc[0] if complete["energy_source"].notna().any() else None
    missing = None if source else str(complete["energy_missing"].iloc[0]) if len(complete) else "no runs"
    per_token = complete["window_s"] / complete["tokens"].where(complete["tokens"] > 0)
    settled = per_token.iloc[len(per_token) // 2 :].median()
    warmup = 0
    while warmup < len(per_token) - 1 and per_token.iloc[warmup] > WARM_UP_SLOWDOWN * settled:
        warmup += 1
    signal, steady_by = (complete["power_w"], "power") if source else (per_token, "seconds per token (no energy)")
    steady, steady_missing = _steady_start(signal, warmup, window, drift)
    first = complete[complete["start_s"] < first_window_s]
    steady_rows = complete.iloc[steady:] if steady is not None else complete.iloc[0:0]
    return SoakReport(
        timeline=complete,
        cut_runs=int(cut.sum()),
        energy_source=source,
        energy_missing=missing,
        warmup_runs=warmup,
        steady_start=steady,
        steady_by=steady_by,
        steady_missing=steady_missing,
        joules_per_token_first=_joules_per_token(first),
        joules_per_token_steady=_joules_per_token(steady_rows),
        tokens_per_second_first=_ratio(first["tokens"], first["window_s"]),
        tokens_per_second_steady=_ratio(steady_rows["tokens"], steady_rows["window_s"]),
    )


def plot_soak(report: SoakReport) -> Figure:
    """Power (or, without energy, tokens/s) per run against time, warm-up and steady state shaded."""
    line = report.timeline
    figure = Figure(figsize=(8, 4))
    ax = figure.subplots()
    middle = (line["start_s"] + line["end_s"]) / 2
    if report.energy_source:
        ax.plot(middle, line["power_w"], "o-", label=f"average power per run ({report.energy_source})")
        ax.set_ylabel("power (W)")
    else:
        ax.plot(middle, line["tokens"] / line["window_s"], "o-", label="tokens/s per run (energy missing)")
        ax.set_ylabel("tokens per second")
    if report.warmup_runs:
        ax.axvspan(0, line["end_s"].iloc[report.warmup_runs - 1], color="orange", alpha=0.2, label="warm-up (excluded)")
    if report.steady_start is not None:
        ax.axvspan(line["start_s"].iloc[report.steady_start], line["end_s"].iloc[-1], color="green", alpha=0.1,
                   label="steady state")  # fmt: skip
    ax.set_xlabel("time since the soak started (s)")
    ax.set_title("Sustained load: back-to-back generations")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return figure


def _relay(stop: threading.Event, deadline: threading.Event) -> None:
    while not deadline.wait(0.1):
        if stop.is_set():
            deadline.set()


TIMELINE_COLUMNS = [
    "start_s", "end_s", "window_s", "tokens", "finish_reason", "energy_j", "energy_source", "energy_missing",
    "power_w", "temperature_c", "sm_clock_mhz", "short_window",
]  # fmt: skip


def _row(result: Any, begin: float, end: float) -> dict[str, Any]:
    t = result.telemetry
    if t.get("gpu_energy_j") is not None:
        energy, source, missing = t["gpu_energy_j"], "gpu (NVML)", None
    elif t.get("cpu_energy_j") is not None:
        energy, source, missing = t["cpu_energy_j"], "cpu package (RAPL)", None
    else:
        energy, source = None, None
        missing = f"{t.get('gpu_energy_missing')}; {t.get('cpu_energy_missing')}"
    window = t.get("window_s") or (end - begin)
    return {
        "start_s": begin, "end_s": end, "window_s": window, "tokens": result.new_tokens,
        "finish_reason": result.finish_reason, "energy_j": energy, "energy_source": source, "energy_missing": missing,
        "power_w": energy / window if energy is not None and window > 0 else None,
        "temperature_c": t.get("temperature_c"), "sm_clock_mhz": t.get("sm_clock_mhz"),
        "short_window": t.get("short_window_warning") is not None,
    }  # fmt: skip


def _steady_start(signal: pd.Series, warmup: int, window: int, drift: float) -> tuple[int | None, str | None]:
    average = signal.iloc[warmup:].astype(float).rolling(window).mean()
    for index in range(warmup + 2 * window - 1, len(signal)):
        before, now = average.iloc[index - warmup - window], average.iloc[index - warmup]
        if before and abs(now - before) / abs(before) <= drift:
            return index - window + 1, None
    return None, (
        f"the {window}-run moving average still moved more than {drift:.0%} "
        f"(or too few runs: need {warmup + 2 * window})"
    )


def _joules_per_token(rows: pd.DataFrame) -> float | None:
    measured = rows[rows["energy_j"].notna()]  # a run without a reading must not count its tokens as free
    return _ratio(measured["energy_j"], measured["tokens"])


def _ratio(numerator: pd.Series, denominator: pd.Series) -> float | None:
    total = float(denominator.sum())
    return float(numerator.sum()) / total if total > 0 and len(numerator) else None
