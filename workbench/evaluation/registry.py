"""Evaluations by name, with one signature, as lm-evaluation-harness registers its tasks.

    @register_evaluation("convergence", needs=("traces",), help="steps per canvas ...")
    def convergence_evaluation(inputs: Inputs, **options) -> pd.DataFrame: ...

    run_evaluation("convergence", results)                       # a table
    run_evaluation("seams", dg_runs + ar_runs, tokenizer=tok)    # refused, naming what is missing, without it

Each evaluation declares what it needs besides results: "tokenizer" (to read the text back as
words), "traces" (every diffusion result carries its per-step trace), "both kinds" (diffusion and AR
results, compared at the same positions), "reference" (a model that scores the text). The modules
of this package register their own on first look-up. Left out: the soak, which runs a model for
minutes rather than reading results (`workbench.evaluation.soak`).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from workbench.engine.generator import Generator
from workbench.engine.result import GenerationResult
from workbench.errors import InvalidSettingError

Need = Literal["tokenizer", "traces", "both kinds", "reference"]
NEEDS: tuple[Need, ...] = ("tokenizer", "traces", "both kinds", "reference")


@dataclass(frozen=True)
class Inputs:
    """Everything an evaluation may read; `run_evaluation` checks it holds what the evaluation needs."""

    results: Sequence[GenerationResult]
    tokenizer: Any | None = None
    reference: Generator | None = None


@dataclass(frozen=True)
class Evaluation:
    name: str
    help: str
    needs: tuple[Need, ...]
    run: Callable[..., pd.DataFrame]  # (inputs: Inputs, **options) -> table


_REGISTRY: dict[str, Evaluation] = {}
_discovered = False


def register_evaluation(name: str, *, needs: tuple[Need, ...], help: str) -> Callable[[Callable], Callable]:
    """Function decorator: make `run(inputs, **options) -> DataFrame` available by `name`."""
    unknown = [need for need in needs if need not in NEEDS]
    if unknown:
        raise ValueError(f"evaluation {name!r} needs {unknown}, not among {NEEDS}")

    def register(run: Callable) -> Callable:
        _REGISTRY[name] = Evaluation(name, help, needs, run)
        return run

    return register


def evaluations() -> dict[str, Evaluation]:
    global _discovered
    if not _discovered:
        package = __name__.rpartition(".")[0]
        for module in pkgutil.iter_modules(importlib.import_module(package).__path__):
            importlib.import_module(f"{package}.{module.name}")
        _discovered = True
    return dict(_REGISTRY)


def evaluation_table() -> pd.DataFrame:
    """Name, what it needs and what it measures, one row per registered evaluation."""
    rows = [
        {"name": e.name, "needs": ", ".join(e.needs) or "results", "measures": e.help} for e in evaluations().values()
    ]
    return pd.DataFrame(rows)


def run_evaluation(
    name: str,
    results: Sequence[GenerationResult],
    *,
    tokenizer: Any | None = None,
    reference: Generator | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Run the evaluation `name` over `results`; refuse at once what it cannot measure."""
    known = evaluations()
    if name not in known:
        raise InvalidSettingError("name", name, f"one of the evaluations {sorted(known)}")
    evaluation = known[name]
    if (
        isinstance(results, GenerationResult)
        or not all(isinstance(r, GenerationResult) for r in results)
        or not results
    ):
        raise InvalidSettingError("results", results, "a non-empty list of GenerationResults")
    kinds = {result.kind for result in results}
    if "tokenizer" in evaluation.needs and tokenizer is None:
        raise InvalidSettingError("tokenizer", None, f"the models' tokenizer: {name!r} reads the text back as words")
    if "reference" in evaluation.needs and not isinstance(reference, Generator):
        raise InvalidSettingError("reference", reference, f"a loaded model that scores text, for {name!r}")
    if "both kinds" in evaluation.needs and kinds != {"diffusion", "autoregressive"}:
        raise InvalidSettingError(
            "results", f"kinds {sorted(kinds)}", f"diffusion and autoregressive results for {name!r}"
        )
    if "traces" in evaluation.needs:
        untraced = [i for i, r in enumerate(results) if r.kind == "diffusion" and not r.trace]
        if untraced or "diffusion" not in kinds:
            where = f"results {untraced[:5]} have none" if untraced else "no diffusion result was given"
            raise InvalidSettingError("results", where, f"diffusion results with their per-step traces, for {name!r}")
    return evaluation.run(Inputs(results=results, tokenizer=tokenizer, reference=reference), **options)
