"""Error propagation inside a canvas, read from the denoising trace.

For every final token: the step its position first held an accepted token, how often that accepted
token was *revised* (replaced by a different accepted token at a later step), how often it was
dropped back to noise, whether the first token accepted there was wrong in the end (differs from the
final token), and whether the final token is wrong by the story checks (it belongs to a sentence the
grammar rejects or is a consistency break, from `seams.seam_units`; every token of a rejected
sentence counts, so this is an upper bound on the tokens actually at fault).

Samplers differ in what they allow: entropy-bound locks nothing and may revise; quota and confidence
commit tokens for good. *Wrong and kept*: the final token is wrong by the story checks and was never
revised after its first acceptance (for the locking samplers: wrong and locked). The neighbour
measure asks whether one first-accepted-wrong position raises the chance its neighbours in the same
canvas were first accepted wrong, against the canvas-wide rate. Left out: canvases of a stopped run
(never final) and positions after EOS (cut from the output).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from workbench.engine.result import GenerationResult
from workbench.errors import InvalidSettingError
from workbench.evaluation.positions import canvas_size, diffusion_trace
from workbench.evaluation.registry import Inputs, register_evaluation
from workbench.evaluation.seams import seam_units


def token_history(result: GenerationResult, tokenizer: Any | None = None) -> pd.DataFrame:
    """One row per final token of a diffusion result: canvas, offset, first accepted step, revisions, ...

    With a `tokenizer`, `wrong_by_checks` says whether the story checks fault the final token.
    """
    diffusion_trace(result)
    size = canvas_size(result)
    wrong = _wrong_positions(result, tokenizer) if tokenizer is not None else None
    rows = []
    for canvas in sorted({s.canvas for s in result.trace}):
        steps = sorted((s for s in result.trace if s.canvas == canvas), key=lambda s: s.step)
        final = result.token_ids[canvas * size : (canvas + 1) * size]
        for offset, token in enumerate(final):
            rows.append({"canvas": canvas, "offset": offset, "position": canvas * size + offset, "token": token,
                         **_history(steps, offset, token), "steps": len(steps),
                         "wrong_by_checks": None if wrong is None else canvas * size + offset in wrong})  # fmt: skip
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame["kept_from_first"] = frame["revisions"] == 0
        frame["sampler"] = result.settings.get("sampler")
    return frame


def revision_summary(results: Sequence[GenerationResult], tokenizer: Any) -> pd.DataFrame:
    """Per sampler: tokens, revision rate, first-accepted-wrong rate, wrong-and-kept rate, neighbour lift."""
    if not results:
        raise InvalidSettingError("results", results, "one or more diffusion results with traces")
    histories = [token_history(r, tokenizer).assign(run=i) for i, r in enumerate(results)]
    frame = pd.concat(histories, ignore_index=True)
    rows = []
    for sampler, tokens in frame.groupby("sampler"):
        neighbour, base = neighbour_error_rate(tokens)
        rows.append({
            "sampler": sampler,
            "tokens": len(tokens),
            "revised_share": float((tokens["revisions"] > 0).mean()),
            "revisions_per_token": float(tokens["revisions"].mean()),
            "first_accept_wrong_share": float(tokens["first_accept_wrong"].mean()),
            "wrong_by_checks_share": float(tokens["wrong_by_checks"].mean()),
            "wrong_and_kept_share": float((tokens["wrong_by_checks"] & tokens["kept_from_first"]).mean()),
            "neighbour_error_given_error": neighbour,
            "error_rate": base,
        })  # fmt: skip
    return pd.DataFrame(rows)


def neighbour_error_rate(tokens: pd.DataFrame, column: str = "first_accept_wrong") -> tuple[float | None, float | None]:
    """(rate at the positions next to an erring one in the same canvas, overall rate); None if no errors."""
    hits = total = 0
    for _, canvas in tokens.groupby([c for c in ("run", "canvas") if c in tokens.columns]):
        flags = canvas.sort_values("offset")[column].tolist()
        for index, flag in enumerate(flags):
            if flag:
                neighbours = [flags[j] for j in (index - 1, index + 1) if 0 <= j < len(flags)]
                hits, total = hits + sum(neighbours), total + len(neighbours)
    overall = float(tokens[column].mean()) if len(tokens) else None
    return (hits / total if total else None), overall


def _history(steps: list, offset: int, final: int) -> dict[str, Any]:
    first_step = first_token = held = None
    revisions = drops = 0
    was_accepted = False
    for step in steps:
        accepted = step.accepted[offset]
        if accepted:
            token = step.tokens[offset]
            if first_step is None:
                first_step, first_token = step.step, token
            elif token != held:  # re-accepting the same token after a drop is no revision
                revisions += 1
            held = token
        elif was_accepted:
            drops += 1
        was_accepted = accepted
    return {"first_accepted_step": first_step, "revisions": revisions, "drops": drops,
            "first_accept_wrong": first_token is not None and first_token != final}  # fmt: skip


def _wrong_positions(result: GenerationResult, tokenizer: Any) -> set[int]:
    units = seam_units(result, tokenizer)
    wrong = units[units["error"]]
    return {p for _, unit in wrong.iterrows() for p in range(int(unit["first"]), int(unit["last"]) + 1)}


@register_evaluation(
    "revisions",
    needs=("tokenizer", "traces"),
    help="per sampler: tokens revised after first acceptance, wrong first guesses, wrong tokens never revised",
)
def revisions_evaluation(inputs: Inputs) -> pd.DataFrame:
    return revision_summary([r for r in inputs.results if r.kind == "diffusion"], inputs.tokenizer)
