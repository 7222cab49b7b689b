"""One frame of the denoising canvas as self-contained HTML (inline styles: no CDN, works offline).

A frame is either the untouched canvas before the first step (`step=None`: every position still
noise) or one `DenoisingStep` of a trace. Each position is a chip coloured by its state (grey: still
noise, amber: committed this step, blue: committed earlier and unchanged) and shaded by the model's
confidence there; hovering shows the numbers. Under the canvas goes the text that is final so far.
This module only builds strings (and `chip_rgba`, the colours the GIF and video reuse): the widget that
shows them and decides when is `workbench.widgets.canvas_view`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from html import escape

from workbench.engine.result import KEPT, NEW, NOISE, DenoisingStep

STATE_NAMES = {NOISE: "still noise", NEW: "committed this step", KEPT: "committed earlier"}
_COLOURS = {NOISE: (150, 150, 150), NEW: (245, 158, 11), KEPT: (37, 99, 235)}  # grey, amber, blue
_PLACEHOLDER = "\u2591"  # light shade: a position nothing has been drawn into yet


def chip_rgba(state: int, confidence: float) -> tuple[int, int, int, float]:
    """A chip's background: the state's colour, with confidence as its opacity (0.15 to 0.85)."""
    # Sure positions read as solid colour and unsure ones fade out; a floor keeps every chip visible.
    red, green, blue = _COLOURS[state]
    return red, green, blue, 0.15 + 0.7 * min(max(confidence, 0.0), 1.0)


def chip_style(state: int, confidence: float) -> str:
    red, green, blue, alpha = chip_rgba(state, confidence)
    text = "color:#6b7280;font-style:italic;" if state == NOISE else "color:#111827;"
    return (
        f"background:rgba({red},{green},{blue},{alpha:.2f});{text}"
        "display:inline-block;margin:2px;padding:2px 5px;border-radius:4px;font-family:monospace;white-space:pre"
    )


def legend_html() -> str:
    chips = "".join(
        f'<span style="{chip_style(state, 0.8)}">{escape(name)}</span>' for state, name in STATE_NAMES.items()
    )
    return f'<div style="font-size:12px;color:#4b5563">{chips} shade = confidence (pale = unsure)</div>'


def frame_html(
    step: DenoisingStep | None,
    words: Sequence[str],
    *,
    title: str,
    final_text: str,
    block_size: int,
    frame: str,
    run: int,
) -> str:
    """The HTML of one frame. `words[i]` is the text of `step.tokens[i]` (no step: of the initial noise, or
    empty for placeholders); `frame` is "noise", "step" or "final"."""
    if step is None:  # the noise before step 1: its random words when known, else placeholders
        noise = [escape(word) if word.strip() else "\u2423" for word in words] or [_PLACEHOLDER] * block_size
        chips = [
            f'<span class="wb-token wb-noise" style="{chip_style(NOISE, 0.0)}" title="random token, not denoised yet">{shown}</span>'
            for shown in noise
        ]
    else:
        chips = [_chip(index, step, word) for index, word in enumerate(words)]
    body = "".join(chips)
    text = escape(final_text) if final_text else '<span style="color:#9ca3af">(nothing final yet)</span>'
    return (
        f'<div class="wb-canvas" data-frame="{frame}" data-run="{run}" style="font-family:sans-serif;max-width:100%">'
        f'<div style="font-weight:600;margin-bottom:4px">{escape(title)}</div>'
        f'<div class="wb-canvas-tokens" style="line-height:1.9">{body}</div>'
        f"{legend_html()}"
        f'<div class="wb-final-text" style="margin-top:6px"><b>Final text so far:</b> {text}</div>'
        "</div>"
    )


def resolved_step(step: DenoisingStep, final_ids: Sequence[int]) -> DenoisingStep:
    """The last step of a canvas as it was committed: the sampler's choices, then the argmax everywhere else.

    A finished canvas becomes its argmax (locking samplers: the locked tokens, argmax elsewhere), so
    positions still noise at the last step are committed at that step too. `final_ids` are the
    canvas's final tokens, cut at EOS or max_new_tokens; positions after the cut stay noise.
    """
    tokens, state = list(step.tokens), list(step.state)
    for index, token in enumerate(final_ids[: len(tokens)]):
        if not (step.accepted[index] and step.tokens[index] == token):
            tokens[index], state[index] = token, NEW
    return replace(step, tokens=tokens, state=state)


def _chip(index: int, step: DenoisingStep, word: str) -> str:
    state, confidence = step.state[index], step.confidence[index]
    hover = (
        f"position {index}: {STATE_NAMES[state]}, confidence {confidence:.2f}, entropy {step.entropy[index]:.2f} nats"
    )
    kind = {NOISE: "wb-noise", NEW: "wb-new", KEPT: "wb-kept"}[state]
    shown = escape(word) if word.strip() else "\u2423"  # open box: make whitespace tokens visible
    return (
        f'<span class="wb-token {kind}" style="{chip_style(state, confidence)}" title="{escape(hover)}">{shown}</span>'
    )
