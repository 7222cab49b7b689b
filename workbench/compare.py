"""Run one prompt through an autoregressive and a diffusion model and put the numbers side by side.

Used by `workbench compare`, the notebooks and the race widget's results table. The models run one
after the other (not at the same time) so that neither slows the other down. With `served=URL` a
third run goes to an OpenAI-compatible server (vLLM, ...) with the shared settings; its energy is
spent on the server, so `measured_generate` runs it without a local meter (its telemetry says so).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from workbench.loading import load
from workbench.result import GenerationResult
from workbench.store import ResultsStore
from workbench.telemetry.energy import measured_generate

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
    store: ResultsStore | None = None,
    served: str | None = None,
    served_model: str | None = None,
) -> list[GenerationResult]:
    """Load both models (and connect to `served`; settings are checked before the first run),
    generate with each under an energy meter, and add every run to `store` when one is given."""
    shared = {k: v for k, v in (shared_settings or {}).items() if v is not None}
    only_diffusion = {k: v for k, v in (diffusion_settings or {}).items() if v is not None}
    served_handle = load(served, model=served_model) if served is not None else None  # first: fails in seconds
    ar_handle, diffusion_handle = load(ar, device=device), load(diffusion, device=device)
    ar_handle.settings(**shared)
    diffusion_handle.settings(**shared, **only_diffusion)
    if served_handle is not None:
        served_handle.settings(**shared)
    results = [
        measured_generate(ar_handle, prompt, **shared),
        measured_generate(diffusion_handle, prompt, **shared, **only_diffusion),
    ]
    if served_handle is not None:
        results.append(measured_generate(served_handle, prompt, **shared))
    if store is not None:
        for result in results:
            store.add(result, tags={"source": "compare"})
    return results


def comparison_table(results: list[GenerationResult]) -> pd.DataFrame:
    """One row per run with the numbers that matter for the comparison (None = not measured)."""
    rows = []
    for result in results:
        row = {**result.metrics(), "model": result.model, "kind": result.kind, "device": result.device,
               "text": result.text, "energy": energy_label(result)}
        rows.append({label: row[key] for key, label in TABLE_COLUMNS.items()})
    return pd.DataFrame(rows).round(3)


def energy_label(result: GenerationResult) -> str:
    """'0.123 J/token' when measured, else 'not measured: <reason>' (never a zero or a guess)."""
    joules = result.telemetry.get("joules_per_token")
    if joules is not None:
        return f"{joules:.3g} J/token"
    reason = result.telemetry.get("joules_per_token_missing") or "no energy meter was attached"
    return f"not measured: {reason}"
