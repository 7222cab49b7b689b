"""Run one prompt through an autoregressive and a diffusion model and put the numbers side by side.

    comparison = compare_runs("Once upon a time", repeats=6)
    comparison.summary()        # per model: warm medians with intervals, cold-start figures, busy
    comparison.verdict().words  # "diffusion is faster here (...)" only past the noise

Used by `workbench compare`, the notebooks and the race widget's results table. Method:
1. Load each model (its load time is the first cold figure).
2. Run each model once, untimed for the comparison: its cold start (first-run latency, first token)
   is kept and shown as its own labelled numbers, never mixed into the warm ones.
3. `repeats` rounds in which the models run one after the other (never at the same time, so neither
   slows the other; alternating run by run so slow drift of the machine hits both alike).
4. Per model and figure (tokens/s, time to first token): the median of the warm runs, with the
   distribution-free order-statistics interval of the median (`workbench.measure.verdict`).
5. A verdict in words from `workbench.measure.verdict` on the paired warm runs, withheld when any
   warm run was busy (other processes took CPU; `workbench.measure.conditions`).
A lane that fails with an unexpected error is reported as failed and stops being repeated; every run
that finished, in any lane, is still returned (so the CLI prints and stores it). Ctrl-C ends the
comparison there: the interrupt reaches the caller. Storing the runs is the caller's job, after
showing them (a busy store must not hide results). With `served=URL` a third lane goes to an
OpenAI-compatible server (vLLM, ...) with the shared settings; its energy is spent on the server.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from workbench.engine.generator import Generator, check_prompt
from workbench.engine.result import GenerationResult
from workbench.engine.settings import SCHEDULE
from workbench.errors import InvalidSettingError, scrub
from workbench.loading.load import load
from workbench.measure.conditions import BUSY_CORE_SHARE
from workbench.measure.measurement import Measurement
from workbench.measure.telemetry.energy import measured_generate
from workbench.measure.telemetry.reasons import describe
from workbench.measure.verdict import CONFIDENCE, Verdict, compare_samples, median_interval, samples_needed

# Six warm pairs: the fewest whose order-statistics interval of the median reaches 95% (see
# `workbench.measure.verdict`); on the embedded models that is a few seconds after loading.
DEFAULT_REPEATS = samples_needed(CONFIDENCE)
MAX_REPEATS = 100  # a typo (1000000) must not hold the machine for a day
TIMED_FIGURES = ("tokens_per_second", "time_to_first_token_s")
UNUSABLE = ("error", "stopped", "interrupted")  # a run that ended this way has no speed to compare
TABLE_COLUMNS = {
    "model": "model",
    "kind": "kind",
    "device": "device",
    "new_tokens": "tokens",
    "time_to_first_token_s": "first token (s)",
    "total_s": "total (s)",
    "tokens_per_second": "tokens/s",
    "forward_passes": "forward passes",
    "tokens_per_forward": "tokens/forward",
    "energy": "energy",
    "busy": "busy",
    "text": "text",
}


@dataclass(frozen=True)
class LaneFailure:
    """A model whose run raised: what it was and why (its earlier runs stay in the comparison)."""

    model: str
    kind: str
    error: str


@dataclass
class Comparison:
    """Every run of one comparison: the cold (first) run per model, then the warm repeats."""

    prompt: str
    repeats: int
    cold: list[GenerationResult]
    warm: list[GenerationResult]
    failures: list[LaneFailure]

    @property
    def results(self) -> list[GenerationResult]:
        """Every run that finished, cold first, in the order it ran (what the CLI stores)."""
        return [*self.cold, *self.warm]

    @property
    def busy(self) -> bool:
        """True when any warm run was made while other processes took CPU (see `busy_note`)."""
        return any(Measurement.from_result(result).busy for result in self.warm)

    def busy_note(self) -> str:
        """Why the comparison is labelled busy, or '' (the busiest warm run speaks for it)."""
        notes = [Measurement.from_result(result) for result in self.warm]
        busiest = max(
            (m.conditions for m in notes if m.conditions is not None),
            key=lambda c: c.other_core_share or 0.0,
            default=None,
        )
        if busiest is None or not busiest.busy:
            return ""
        busy_runs = sum(bool(m.busy) for m in notes)
        return (
            f"machine was busy in {busy_runs} of {len(notes)} warm runs: other processes used up to "
            f"{busiest.other_core_share or 0.0:.0%} of a core (threshold {BUSY_CORE_SHARE:.0%}); no verdict is given"
        )

    def samples(self, lane: str | GenerationResult, figure: str = "tokens_per_second") -> list[float]:
        """The warm values of one figure for one lane (a model's name, or its cold run when a served
        model shares the local one's name), in run order, unusable runs left out."""
        values = [getattr(r, figure) for r in self._lane(lane) if r.finish_reason not in UNUSABLE]
        return [float(value) for value in values if value is not None]

    def _lane(self, lane: str | GenerationResult) -> list[GenerationResult]:
        if isinstance(lane, str):
            return [r for r in self.warm if r.model == lane]
        return [r for r in self.warm if (r.model, r.kind, r.device) == (lane.model, lane.kind, lane.device)]

    def verdict(self, figure: str = "tokens_per_second") -> Verdict:
        """Diffusion against autoregressive on one warm figure, in words only past the noise."""
        if figure not in TIMED_FIGURES:
            raise InvalidSettingError("figure", figure, ", ".join(TIMED_FIGURES))
        # The local pair: a served lane (which may share the AR model's name) is not part of this verdict.
        by_kind = {result.kind: result for result in self.cold if not Measurement.from_result(result).served}
        if "diffusion" not in by_kind or "autoregressive" not in by_kind:
            return Verdict("too_few", "no verdict: one of the two models has no runs", needed=DEFAULT_REPEATS)
        diffusion, ar = self.samples(by_kind["diffusion"], figure), self.samples(by_kind["autoregressive"], figure)
        return compare_samples(
            diffusion, ar, names=("diffusion", "autoregressive"),
            higher_is_better=figure == "tokens_per_second", busy=self.busy,
        )  # fmt: skip

    def summary(self) -> pd.DataFrame:
        """One row per model: cold figures, warm medians with their intervals, and busy."""
        rows = []
        for cold in self.cold:
            row: dict[str, Any] = {"model": cold.model, "kind": cold.kind, "device": cold.device, "load_s": cold.load_s}
            row["cold_first_token_s"] = cold.time_to_first_token_s
            row["cold_total_s"] = cold.total_s
            warm = self._lane(cold)
            row["warm_runs"] = len(self.samples(cold))
            for figure in TIMED_FIGURES:
                row.update(_median_with_interval(figure, self.samples(cold, figure)))
            row["busy"] = any(Measurement.from_result(r).busy for r in warm)
            row["torch_threads"] = _threads(cold)
            rows.append(row)
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """What `workbench compare --json` prints: the summary, verdicts, failures and every run."""
        summary = self.summary().astype(object)
        return {
            "prompt": self.prompt,
            "repeats": self.repeats,
            "interval": f"order-statistics interval of the median, at least {CONFIDENCE:.0%} coverage",
            "busy": self.busy,
            "busy_note": self.busy_note() or None,
            "models": summary.where(summary.notna(), None).to_dict(orient="records"),
            "verdicts": {figure: asdict(self.verdict(figure)) for figure in TIMED_FIGURES},
            "failures": [asdict(failure) for failure in self.failures],
            "median_runs": [result.to_dict() for result in self.median_runs()],
            "runs": [
                {**result.to_dict(), "phase": phase}
                for phase, results in (("cold", self.cold), ("warm", self.warm))
                for result in results
            ],
        }

    def median_runs(self) -> list[GenerationResult]:
        """Per model, the warm run whose tokens/s is the median one (a real run standing for the set,
        e.g. for the cost commands); a model without usable warm runs is left out."""
        chosen = []
        for cold in self.cold:
            usable = [r for r in self._lane(cold) if r.tokens_per_second is not None]
            usable = [r for r in usable if r.finish_reason not in UNUSABLE]
            if usable:
                ordered = sorted(usable, key=lambda r: r.tokens_per_second or 0.0)
                chosen.append(ordered[(len(ordered) - 1) // 2])
        return chosen


def compare_runs(
    prompt: str,
    *,
    ar: str = "tiny-ar",
    diffusion: str = "tiny-diffusion",
    device: str = "auto",
    shared_settings: dict[str, Any] | None = None,
    diffusion_settings: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
    served: str | None = None,
    served_model: str | None = None,
    repeats: int = DEFAULT_REPEATS,
) -> Comparison:
    """Load both models (and connect to `served`; settings are checked before the first run), run
    each once cold, then `repeats` warm rounds, each run under an energy meter. `progress` is told
    what starts. Raises KeyboardInterrupt if a run was interrupted."""
    check_prompt(prompt)  # before minutes of loading
    if isinstance(repeats, bool) or not isinstance(repeats, int) or not 1 <= repeats <= MAX_REPEATS:
        raise InvalidSettingError(
            "repeats", repeats, f"a whole number from 1 to {MAX_REPEATS} (a verdict needs {DEFAULT_REPEATS})"
        )
    say = progress or (lambda message: None)
    shared = {k: v for k, v in (shared_settings or {}).items() if v is not None}
    only_diffusion = {k: v for k, v in (diffusion_settings or {}).items() if v is not None}
    if served is not None:
        say(f"connecting to {scrub(served)}")  # a URL may carry user:password, refused by load()
    served_handle = load(served, model=served_model) if served is not None else None  # first: fails in seconds
    say(f"loading {ar} and {diffusion}")
    ar_handle, diffusion_handle = load(ar, device=device), load(diffusion, device=device)
    for parameter, handle, wanted in (
        ("ar", ar_handle, "autoregressive"),
        ("diffusion", diffusion_handle, "diffusion"),
    ):
        if handle.kind != wanted:
            raise InvalidSettingError(
                parameter, handle.name, f"a model of kind {wanted!r}; {handle.name!r} is {handle.kind}"
            )
    if shared.get("temperature") == SCHEDULE:  # the diffusion model's own schedule; AR keeps its default
        only_diffusion["temperature"] = shared.pop("temperature")
    ar_handle.settings(**shared)
    diffusion_handle.settings(**shared, **only_diffusion)
    lanes: list[tuple[Generator, dict[str, Any]]] = [
        (ar_handle, shared),
        (diffusion_handle, {**shared, **only_diffusion}),
    ]
    if served_handle is not None:
        served_handle.settings(**shared)
        lanes.append((served_handle, shared))
    comparison = Comparison(prompt=prompt, repeats=repeats, cold=[], warm=[], failures=[])
    failed: set[int] = set()
    for round_ in range(repeats + 1):  # round 0 is the cold run (the warm-up of each model and shape)
        for index, (handle, settings) in enumerate(lanes):
            if index in failed:
                continue
            phase = "cold (first run)" if round_ == 0 else f"warm {round_}/{repeats}"
            say(f"running {handle.name} ({handle.kind}), {phase}")
            try:
                result = measured_generate(handle, prompt, **settings)
            except Exception as error:  # one lane's fault must not lose the others' finished runs
                if not comparison.results:
                    raise  # nothing finished yet, so nothing to keep: the error is the whole answer
                failed.add(index)
                comparison.failures.append(LaneFailure(handle.name, handle.kind, describe(error)))
                continue
            if result.finish_reason == "interrupted":
                raise KeyboardInterrupt
            (comparison.cold if round_ == 0 else comparison.warm).append(result)
            if result.finish_reason == "error":  # kept and shown; repeating a broken lane only repeats the error
                failed.add(index)
                why = str(result.telemetry.get("error") or "the run ended with an error")
                comparison.failures.append(LaneFailure(handle.name, handle.kind, why))
    return comparison


def _median_with_interval(figure: str, values: list[float]) -> dict[str, float | None]:
    interval = median_interval(values)
    return {
        f"{figure}_median": float(np.median(values)) if values else None,
        f"{figure}_low": interval[0] if interval else None,
        f"{figure}_high": interval[1] if interval else None,
    }


def _threads(result: GenerationResult) -> int | None:
    conditions = Measurement.from_result(result).conditions
    return conditions.torch_threads if conditions is not None else None


def comparison_table(results: list[GenerationResult]) -> pd.DataFrame:
    """One row per run with the numbers that matter for the comparison (None = not measured)."""
    rows = []
    for result in results:
        row = {
            **result.metrics(),
            "model": result.model,
            "kind": result.kind,
            "device": result.device,
            "text": result.text,
            "energy": energy_label(result),
            "busy": busy_label(result),
        }
        rows.append({label: row[key] for key, label in TABLE_COLUMNS.items()})
    return pd.DataFrame(rows).round(3)


def energy_label(result: GenerationResult) -> str:
    """'0.123 J/token' when measured, else 'not measured: <reason>' (never a zero or a guess)."""
    return Measurement.from_result(result).energy_label()


def busy_label(result: GenerationResult) -> str:
    """'busy' when other processes took CPU during the run, '' when quiet, 'unknown' when unmeasured."""
    busy = Measurement.from_result(result).busy
    return "unknown" if busy is None else ("busy" if busy else "")
