"""Run one prompt through an autoregressive and a diffusion model and put the numbers side by side.

Used by `workbench compare`, the notebooks and the race widget's results table. The models run one
after the other (not at the same time) so that neither slows the other down. Ctrl-C during either
run ends the comparison there: the run after it never starts, and the interrupt reaches the caller.
Storing the runs is the caller's job, after showing them (a busy store must not hide results).
With `served=URL` a third run goes to an OpenAI-compatible server (vLLM, ...) with the shared
settings; its energy is spent on the server, so `measured_generate` runs it without a local meter
(its telemetry says so).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from workbench.engine.generator import check_prompt
from workbench.engine.result import GenerationResult
from workbench.engine.settings import SCHEDULE
from workbench.errors import InvalidSettingError, scrub
from workbench.loading.load import load
from workbench.measure.measurement import Measurement
from workbench.measure.telemetry.energy import measured_generate

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
    "text": "text",
}


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
) -> list[GenerationResult]:
    """Load both models (and connect to `served`; settings are checked before the first run) and
    generate with each under an energy meter. `progress` is told what starts. Raises
    KeyboardInterrupt if a run was interrupted."""
    check_prompt(prompt)  # before minutes of loading
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
    runs: list[tuple[Any, dict[str, Any]]] = [(ar_handle, shared), (diffusion_handle, {**shared, **only_diffusion})]
    if served_handle is not None:
        served_handle.settings(**shared)
        runs.append((served_handle, shared))
    results = []
    for handle, settings in runs:
        say(f"running {handle.name} ({handle.kind})")
        result = measured_generate(handle, prompt, **settings)
        if result.finish_reason == "interrupted":
            raise KeyboardInterrupt
        results.append(result)
    return results


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
        }
        rows.append({label: row[key] for key, label in TABLE_COLUMNS.items()})
    return pd.DataFrame(rows).round(3)


def energy_label(result: GenerationResult) -> str:
    """'0.123 J/token' when measured, else 'not measured: <reason>' (never a zero or a guess)."""
    return Measurement.from_result(result).energy_label()
