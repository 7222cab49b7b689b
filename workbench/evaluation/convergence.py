"""Steps to converge: how many denoising steps each canvas used, and how many ran into the cap.

Per canvas of a diffusion result: steps used (forward passes), whether it used every step allowed
(`steps`, the cap), and final tokens per forward pass. Summaries by sampler, block size and
temperature give the mean, median, share of canvases at the cap, and the share of all steps spent in
capped canvases, next to the only published distribution (`PUBLISHED`, DiffusionGemma 26B-A4B).

A canvas "at the cap" may have converged on its last step: the trace cannot tell that apart from
one cut off unfinished, so the share at the cap is an upper bound on unconverged canvases. The quota
sampler always runs to the cap by construction (its quota completes at the last step). Left out:
the last canvas of a stopped run (it never finished).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from matplotlib.figure import Figure

from workbench.engine.result import GenerationResult
from workbench.errors import InvalidSettingError
from workbench.evaluation.positions import canvas_size, diffusion_trace
from workbench.evaluation.registry import Inputs, register_evaluation

# Read 2026-12-03: one hardware vendor's measurement of DiffusionGemma
# 26B-A4B over 2,115 canvases of 256 tokens, step cap 48.
PUBLISHED = {
    "source": "hardware vendor's DiffusionGemma 26B-A4B measurement, 2,115 canvases (third-party report, 2026)",
    "read": "2026-12-03",
    "canvases": 2115,
    "cap": 48,
    "mean_steps": 26.6,
    "median_steps": 23.0,
    "share_at_cap": 0.21,
    "share_of_steps_in_capped": 0.39,
}
GROUPS = ("sampler", "block_size", "temperature")


def canvas_steps(result: GenerationResult) -> pd.DataFrame:
    """One row per finished canvas: steps used, the cap, whether it hit the cap, tokens per forward."""
    diffusion_trace(result)
    size, cap = canvas_size(result), int(result.settings["steps"])
    canvases = sorted({s.canvas for s in result.trace})
    if result.stopped and canvases:  # the last canvas of a stopped run was never finished
        canvases = canvases[:-1]
    rows = []
    for canvas in canvases:
        used = sum(1 for s in result.trace if s.canvas == canvas)
        kept = len(result.token_ids[canvas * size : (canvas + 1) * size])
        rows.append({"canvas": canvas, "steps_used": used, "cap": cap, "hit_cap": used >= cap,
                     "tokens": kept, "tokens_per_forward": kept / used,
                     **{name: str(result.settings.get(name)) for name in GROUPS}})  # fmt: skip
    return pd.DataFrame(rows)


def convergence_table(results: Sequence[GenerationResult]) -> pd.DataFrame:
    """`canvas_steps` of many runs in one table, with a `run` column."""
    if not results:
        raise InvalidSettingError("results", results, "one or more diffusion results with traces")
    return pd.concat([canvas_steps(r).assign(run=i) for i, r in enumerate(results)], ignore_index=True)


def summarise(canvases: pd.DataFrame, by: Sequence[str] = GROUPS) -> pd.DataFrame:
    """Mean, median, share at the cap, share of steps in capped canvases, per group; PUBLISHED alongside."""

    def one(group: pd.DataFrame) -> pd.Series:
        steps = group["steps_used"]
        return pd.Series({
            "canvases": len(group),
            "cap": int(group["cap"].max()),
            "mean_steps": steps.mean(),
            "median_steps": steps.median(),
            "share_at_cap": group["hit_cap"].mean(),
            "share_of_steps_in_capped": steps[group["hit_cap"]].sum() / steps.sum(),
            "tokens_per_forward": group["tokens"].sum() / steps.sum(),
        })  # fmt: skip

    table = canvases.groupby(list(by)).apply(one, include_groups=False).reset_index()
    published = {name: PUBLISHED[name] for name in ("canvases", "cap", "mean_steps", "median_steps",
                                                   "share_at_cap", "share_of_steps_in_capped")}  # fmt: skip
    reference = pd.DataFrame([{**{name: "DiffusionGemma 26B-A4B (published)" if name == by[0] else "" for name in by},
                               **published}])  # fmt: skip
    return pd.concat([table, reference], ignore_index=True)


def plot_steps(canvases: pd.DataFrame, by: str = "sampler") -> Figure:
    """Histogram of steps used per canvas, one colour per value of `by`, the published mean marked."""
    figure = Figure(figsize=(7, 4))
    ax = figure.subplots()
    top = int(canvases["cap"].max())
    bins = [edge + 0.5 for edge in range(top + 1)]  # one bar per whole number of steps, centred on it
    for value, group in canvases.groupby(by):
        ax.hist(group["steps_used"], bins=bins, alpha=0.6, label=f"{by}={value}")
    ax.axvline(top, color="black", linestyle=":", label=f"step cap ({top})")
    ax.set_xlabel("denoising steps used by a canvas (forward passes)")
    ax.set_ylabel("canvases")
    ax.set_title("Steps to converge per canvas")
    ax.text(0.01, 0.97, f"published DiffusionGemma: mean {PUBLISHED['mean_steps']}, median "
            f"{PUBLISHED['median_steps']:.0f}, {PUBLISHED['share_at_cap']:.0%} at its cap of {PUBLISHED['cap']}",
            transform=ax.transAxes, ha="left", va="top", fontsize=8)  # fmt: skip
    ax.legend(fontsize=8, loc="center left")
    return figure


@register_evaluation(
    "convergence",
    needs=("traces",),
    help="steps per canvas, the share of canvases at the step cap and the steps they used, beside the published figure",
)
def convergence_evaluation(inputs: Inputs) -> pd.DataFrame:
    return summarise(convergence_table([r for r in inputs.results if r.kind == "diffusion"]))
