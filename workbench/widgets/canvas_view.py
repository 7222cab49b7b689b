"""The live denoising canvas: watch a block go from noise to text, then scrub back through every step.

While a diffusion run is going, `on_step` (called from the worker thread with each `StepEvent`)
redraws the canvas at most ~20 times a second; `show(result)` then always draws the final step and
turns on a step scrubber over the whole trace: 0 is the noise before the first step, the last value
is the resolved text. Each redraw sets exactly one trait (the HTML value) inside `hold_sync()`.
With `draft_check` (any callable text -> bool, e.g. `workbench.evaluation.guardrails.Blocklist`),
a draft whose accepted words fail the check is drawn with every word hidden: drafts are shown before
any output check on the committed canvas could run.
Left out: autoregressive runs (they have no canvas; the race view shows their text) and animation
playback (drag the scrubber).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets

from workbench.engine.result import DenoisingStep, GenerationResult, StepEvent
from workbench.export.canvas_html import frame_html, resolved_step
from workbench.widgets.throttle import DEFAULT_HZ, Throttle

HIDDEN = "\u2588"  # what a word of a draft that failed the draft check is drawn as


class CanvasView:
    def __init__(self, hz: float = DEFAULT_HZ, draft_check: Callable[[str], bool] | None = None) -> None:
        self.draft_check = draft_check
        self.html = widgets.HTML(value=_waiting())
        self.html.add_class("wb-canvas-view")
        self.scrubber = widgets.IntSlider(
            min=0,
            max=0,
            value=0,
            description="step",
            disabled=True,
            continuous_update=True,
            tooltip="0 = noise before the first step; the last step is the resolved text",
            layout=widgets.Layout(width="100%"),
        )
        self.scrubber.add_class("wb-scrubber")
        self.widget = widgets.VBox([self.html, self.scrubber])
        self.redraws = 0  # how many times the HTML was sent; tests check the throttle with it
        self._throttle = Throttle(hz)
        self._tokenizer: Any = None
        self._words: dict[int, str] = {}
        self._block_size = 0
        self._canvases = 0
        self._run = 0
        self._result: GenerationResult | None = None
        self._setting_scrubber = False
        self.scrubber.observe(self._on_scrub, names="value")

    def begin(self, tokenizer: Any, *, block_size: int, max_new_tokens: int) -> None:
        """Start a new run: pure noise on screen, scrubber off until the run is over."""
        if self._tokenizer is not tokenizer:
            self._tokenizer, self._words = tokenizer, {}
        self._block_size, self._canvases = block_size, math.ceil(max_new_tokens / block_size)
        self._run += 1
        self._result = None
        self._throttle.reset()
        with self.scrubber.hold_sync():
            self._set_scrubber(maximum=0, value=0, disabled=True)
        self._draw_frame(0)

    def on_step(self, event: StepEvent) -> None:
        """Live redraw (worker thread); steps arriving faster than the throttle allows are skipped."""
        if event.step is None or not self._throttle.ready():
            return
        step = event.step
        title = (
            f"Canvas {step.canvas + 1} of {self._canvases} \u00b7 step {step.step} \u00b7 "
            f"temperature {step.temperature:.2f} \u00b7 {step.accepted_count}/{len(step.tokens)} positions accepted"
        )
        self._draw(step, title, self._decode(event.committed_ids), "step")

    def show(self, result: GenerationResult) -> None:
        """Draw the final step of a finished (or stopped) run and let the scrubber replay its trace."""
        self._result = result
        last = len(result.trace)
        with self.scrubber.hold_sync():
            self._set_scrubber(maximum=last, value=last, disabled=last == 0)
        self._draw_frame(last)

    @property
    def run(self) -> int:
        """How many runs this view has shown (the HTML carries it as data-run, for browser tests)."""
        return self._run

    def _on_scrub(self, change: dict[str, Any]) -> None:
        if not self._setting_scrubber:
            self._draw_frame(change["new"])

    def _set_scrubber(self, *, maximum: int, value: int, disabled: bool) -> None:
        # The view moves the scrubber itself at the start and end of a run; that must not draw twice.
        self._setting_scrubber = True
        try:
            self.scrubber.max, self.scrubber.value, self.scrubber.disabled = maximum, value, disabled
        finally:
            self._setting_scrubber = False

    def _draw_frame(self, index: int) -> None:
        result = self._result
        if index == 0 or result is None or not result.trace:
            noise = result.trace[0].noise if result is not None and result.trace else []
            self._draw(None, "Noise \u2014 step 0 (before the first denoising step)", "", "noise", noise)
            return
        step = result.trace[index - 1]
        where = f"canvas {step.canvas + 1} of {self._canvases}, step {step.step}"
        if index < len(result.trace):
            final_text = self._decode(result.token_ids[: step.canvas * self._block_size])
            self._draw(step, f"Step {index} of {len(result.trace)} ({where})", final_text, "step")
        elif result.stopped:
            self._draw(
                step, f"Stopped \u2014 last step taken ({where}); this canvas never became final", result.text, "final"
            )
        else:
            step = resolved_step(step, result.token_ids[step.canvas * self._block_size :])
            self._draw(
                step,
                f"Resolved text \u2014 final step ({where}, finished: {result.finish_reason})",
                result.text,
                "final",
            )

    def _draw(
        self, step: DenoisingStep | None, title: str, final_text: str, frame: str, noise: Sequence[int] = ()
    ) -> None:
        words = [self._word(token) for token in (step.tokens if step is not None else noise)]
        if frame == "step" and step is not None and self.draft_check is not None:
            draft = " ".join(word for word, accepted in zip(words, step.accepted) if accepted)
            if not self.draft_check(draft):
                words, title = [HIDDEN] * len(words), f"{title} \u00b7 draft hidden: it fails the output check"
        html = frame_html(
            step, words, title=title, final_text=final_text, block_size=self._block_size, frame=frame, run=self._run
        )
        with self.html.hold_sync():
            self.html.value = html
        self.redraws += 1

    def _word(self, token: int) -> str:
        # Decoding one id at a time is slow for big vocabularies; a canvas repeats ids across steps.
        word = self._words.get(token)
        if word is None:
            word = self._words[token] = self._tokenizer.decode([token], skip_special_tokens=False)
        return word

    def _decode(self, ids: list[int]) -> str:
        return self._tokenizer.decode(ids, skip_special_tokens=True) if ids else ""


def _waiting() -> str:
    return '<div class="wb-canvas" data-frame="none" data-run="0" style="color:#6b7280">Press Run to watch a canvas denoise.</div>'
