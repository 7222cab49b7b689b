"""The live canvas: how a frame is drawn, the redraw throttle, and replaying a real trace."""

from __future__ import annotations

import re
import time
from html import unescape

import pytest
from test_widgets import one_torch_thread  # noqa: F401  (a module fixture: fast steady steps here too)

from workbench.engine.result import (
    KEPT,
    NEW,
    NOISE,
    DenoisingStep,
    GenerationResult,
    StepEvent,
)
from workbench.errors import InvalidSettingError
from workbench.export.canvas_html import frame_html, resolved_step
from workbench.widgets import CanvasView
from workbench.widgets.throttle import Throttle


class Words:
    """A stand-in tokenizer: id i decodes to "w<i>", and a sequence to its words joined by spaces."""

    def decode(self, ids, skip_special_tokens=False):
        return " ".join(f"w{token}" for token in ids)


def step(states, confidences=None, tokens=None, index=1, canvas=0) -> DenoisingStep:
    size = len(states)
    return DenoisingStep(
        canvas=canvas,
        step=index,
        temperature=0.5,
        tokens=tokens or list(range(10, 10 + size)),
        argmax=list(range(20, 20 + size)),
        accepted=[state != NOISE for state in states],
        state=list(states),
        confidence=confidences or [0.5] * size,
        entropy=[1.0] * size,
        elapsed_s=0.01 * index,
    )


def event(diffusion_step, committed=()) -> StepEvent:
    return StepEvent("diffusion", diffusion_step.step, diffusion_step.elapsed_s, list(committed), None, diffusion_step)


def alphas(html: str) -> list[float]:
    return [
        float(alpha)
        for alpha in re.findall(r"rgba\(\d+,\d+,\d+,([\d.]+)\)", html.split("wb-canvas-tokens")[1].split("</div>")[0])
    ]


def test_each_state_has_its_own_colour_and_confidence_sets_the_shade():
    frame = frame_html(
        step([NOISE, NEW, KEPT, KEPT], confidences=[0.0, 0.9, 0.2, 1.0]),
        ["a", "b", "c", "d"],
        title="t",
        final_text="",
        block_size=4,
        frame="step",
        run=1,
    )
    chips = re.findall(r'class="wb-token (wb-\w+)" style="background:rgba\((\d+,\d+,\d+)', frame)
    assert [kind for kind, _ in chips] == ["wb-noise", "wb-new", "wb-kept", "wb-kept"]
    assert len({colour for _, colour in chips}) == 3
    shades = alphas(frame)
    assert shades[2] < shades[3] and shades[0] < shades[1]  # surer = more solid
    assert "confidence 0.90" in frame and "http" not in frame  # numbers on hover; nothing fetched


def test_the_noise_frame_and_escaping():
    noise = frame_html(None, [], title="Noise", final_text="", block_size=6, frame="noise", run=2)
    assert noise.count("wb-token wb-noise") == 6 and 'data-run="2"' in noise
    tricky = frame_html(step([NEW]), ["<script>"], title="<b>", final_text="a & b", block_size=1, frame="step", run=1)
    assert "<script>" not in tricky and "&lt;script&gt;" in tricky and "&lt;b&gt;" in tricky and "a &amp; b" in tricky


def test_resolved_step_commits_the_final_canvas_at_the_last_step():
    last = step([KEPT, NOISE, NEW, NOISE], tokens=[5, 6, 7, 8])
    resolved = resolved_step(last, [5, 9, 7])  # cut after three tokens (EOS)
    assert resolved.tokens == [5, 9, 7, 8]
    assert resolved.state == [KEPT, NEW, NEW, NOISE]


def test_live_redraws_are_throttled_but_the_final_step_is_always_drawn():
    view = CanvasView(hz=5)
    view.begin(Words(), block_size=4, max_new_tokens=4)
    assert 'data-frame="noise"' in view.html.value and view.scrubber.disabled
    drawn_at_start = view.redraws
    for index in range(1, 101):  # a hundred steps in well under the 0.2 s throttle interval
        view.on_step(event(step([NEW, NOISE, NOISE, NOISE], index=index)))
    assert view.redraws - drawn_at_start == 1
    assert "step 1 " in view.html.value

    trace = [step([NEW, NOISE, NOISE, NOISE], index=i) for i in range(1, 101)]
    result = GenerationResult(
        model="m",
        kind="diffusion",
        prompt="p",
        text="w10 w21 w22 w23",
        token_ids=[10, 21, 22, 23],
        settings={},
        finish_reason="length",
        device="cpu",
        dtype="float32",
        load_s=0,
        prefill_s=0,
        time_to_first_token_s=1.0,
        total_s=1.0,
        step_times_s=[0.01] * 100,
        forward_passes=100,
        prompt_tokens=1,
        trace=trace,
    )
    view.show(result)
    assert 'data-frame="final"' in view.html.value and "w10 w21 w22 w23" in view.html.value
    assert view.scrubber.max == view.scrubber.value == 100 and not view.scrubber.disabled


def test_autoregressive_events_leave_the_canvas_alone():
    view = CanvasView()
    view.begin(Words(), block_size=2, max_new_tokens=2)
    before = view.redraws
    view.on_step(StepEvent("autoregressive", 1, 0.1, [4], 0.1, None))
    assert view.redraws == before


def test_a_real_run_goes_from_noise_to_text(diffusion):
    view = CanvasView(hz=1000)  # no throttling: every step drawn
    view.begin(diffusion.tokenizer, block_size=8, max_new_tokens=8)
    frames = []

    def on_step(step_event):
        view.on_step(step_event)
        frames.append(view.html.value)

    result = diffusion.generate(
        "once upon a time", seed=1, steps=6, max_new_tokens=8, early_exit=False, callback=on_step
    )
    view.show(result)
    assert len(frames) == 6 and all('data-frame="step"' in frame for frame in frames)
    final = view.html.value
    assert "Resolved text" in final and final.count("wb-token wb-noise") == 8 - result.new_tokens
    words = re.findall(r'class="wb-token (?:wb-new|wb-kept)"[^>]*>([^<]*)<', final)
    assert [unescape(word) for word in words] == [diffusion.tokenizer.decode([token]) for token in result.token_ids]


def test_throttle_lets_one_call_through_per_interval():
    throttle = Throttle(hz=1000)
    assert throttle.ready()
    slow = Throttle(hz=0.001)
    assert slow.ready() and not slow.ready()
    slow.reset()
    assert slow.ready()


@pytest.mark.parametrize("hz", [0, -5, float("inf")])
def test_throttle_refuses_a_rate_that_is_not_positive_and_finite(hz):
    with pytest.raises(InvalidSettingError, match="hz="):
        Throttle(hz=hz)


def test_step_zero_replays_the_real_noise_the_run_started_from(diffusion):
    result = diffusion.generate("once upon a time", steps=3, block_size=8, max_new_tokens=16, early_exit=False, seed=1)
    firsts = [s for s in result.trace if s.step == 1]
    assert len(firsts) == result.canvases and all(len(s.noise) == 8 for s in firsts)
    assert all(s.noise == [] for s in result.trace if s.step > 1)
    view = CanvasView()
    view.begin(diffusion.tokenizer, block_size=8, max_new_tokens=16)
    view.show(result)
    view.scrubber.value = 0
    shown = [unescape(w) for w in re.findall(r'class="wb-token wb-noise"[^>]*>([^<]*)<', view.html.value)]
    expected = [diffusion.tokenizer.decode([t], skip_special_tokens=False) for t in firsts[0].noise]
    assert shown == [w if w.strip() else "\u2423" for w in expected]


def test_a_draft_failing_the_draft_check_is_hidden():
    view = CanvasView(hz=1000, draft_check=lambda text: "w11" not in text.split())
    view.begin(Words(), block_size=4, max_new_tokens=4)
    view.on_step(event(step([NEW, NEW, NOISE, NOISE])))  # accepted words w10 w11: fails
    assert "w11" not in view.html.value and "draft hidden" in view.html.value
    time.sleep(0.01)  # past the 1 ms redraw throttle
    view.on_step(event(step([NEW, NOISE, NOISE, NOISE], index=2)))  # accepted w10 only; w11 is noise: passes
    assert "w10" in view.html.value and "draft hidden" not in view.html.value
