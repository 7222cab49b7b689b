"""Replay a finished race on one clock: every lane from t = 0 at its recorded times, at x1, x1/4 or x1/16.

    view = ReplayView()
    view.load_results([ar_result, diffusion_result], tokenizers=[ar.tokenizer, diffusion.tokenizer])
    view.widget                      # Replay / Pause, speed, a time scrubber, one panel per lane

The race ran its lanes one after the other; here they play side by side on a shared time axis, so
the AR lane types token by token while the diffusion lane flashes whole canvases. What each lane
shows at time t is `workbench.export.timeline` (a pure function of the lane and t); this widget only
moves the scrubber. Playback runs in a `Worker` thread that sets the scrubber about 20 times a second
and checks its stop Event between ticks, so the kernel stays free and Pause is prompt. `reached`
records, per lane, the replay time at which it first showed its last frame (tests check it against
the recorded time). Left out: looping, and speeds other than the three offered.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from html import escape
from typing import Any

import ipywidgets as widgets

from workbench.engine.result import GenerationResult
from workbench.export.canvas_html import chip_style, legend_html
from workbench.export.paths import lanes_for
from workbench.export.timeline import Timeline, numbers_at, shared_end_s
from workbench.widgets.race import lane_html
from workbench.widgets.throttle import DEFAULT_HZ
from workbench.widgets.worker import Worker

SPEEDS = (("x1 (true speed)", 1.0), ("x1/4", 0.25), ("x1/16", 1 / 16))


class ReplayView:
    def __init__(self, hz: float = DEFAULT_HZ) -> None:
        self.tick_s = 1.0 / hz
        self.play_button = widgets.Button(description="Replay", icon="play", disabled=True)
        self.pause_button = widgets.Button(description="Pause", icon="pause", disabled=True)
        self.speed = widgets.Dropdown(options=SPEEDS, value=1.0, description="speed")
        self.scrubber = widgets.FloatSlider(
            min=0.0, max=0.0, step=0.001, value=0.0, description="t (s)", readout_format=".3f", disabled=True
        )
        self.scrubber.layout = widgets.Layout(width="100%")
        self.scrubber.add_class("wb-replay-scrubber")
        self.panes = widgets.HBox([])
        self.message = widgets.HTML(value='<span style="color:#6b7280">Run a race, then replay it here.</span>')
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.play_button, self.pause_button, self.speed]),
                self.scrubber,
                widgets.HTML(value=legend_html()),
                self.panes,
                self.message,
            ]
        )
        self.widget.add_class("wb-replay")
        self.lanes: list[Timeline] = []
        self.reached: dict[int, float] = {}  # lane -> replay time its last frame first showed
        self._worker = Worker(on_error=self._failed, on_done=self._done)
        self.play_button.on_click(lambda _: self.play())
        self.pause_button.on_click(lambda _: self.pause())
        self.scrubber.observe(lambda change: self._draw(change["new"]), names="value")

    def load_results(self, results: Sequence[GenerationResult], tokenizers: Any = None) -> None:
        self.load(lanes_for(list(results), tokenizers))

    def load(self, lanes: list[Timeline]) -> None:
        """Show these lanes at t = 0 (a replay in progress is stopped first)."""
        self.pause()
        self._worker.wait(2.0)
        self.lanes = lanes
        self.panes.children = [widgets.HTML(layout=widgets.Layout(width=f"{100 // len(lanes)}%")) for _ in lanes]
        self.reached = {}
        with self.scrubber.hold_sync():
            self.scrubber.max = max(shared_end_s(lanes), 0.001)
            self.scrubber.value = 0.0
            self.scrubber.disabled = False
        self.play_button.disabled = False
        self.message.value = ""
        self._draw(0.0)

    def play(self) -> None:
        """Start playback from the scrubber's time (from 0 when at the end) in the worker thread."""
        if not self.lanes or self._worker.running:
            return
        self.reached = {}
        self.play_button.disabled, self.pause_button.disabled = True, False
        self._worker.start(self._playback, name="workbench-replay")

    def pause(self) -> None:
        self._worker.stop()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until playback ends (tests); False if still playing after `timeout` s."""
        return self._worker.wait(timeout)

    def _playback(self, stop: threading.Event) -> None:
        end = shared_end_s(self.lanes)
        start_t = 0.0 if self.scrubber.value >= end else self.scrubber.value
        speed, started = float(self.speed.value), time.monotonic()
        while not stop.is_set():
            t_s = min(end, start_t + (time.monotonic() - started) * speed)
            self.scrubber.value = t_s
            if t_s >= end:
                return
            stop.wait(self.tick_s)

    def _draw(self, t_s: float) -> None:
        for number, (lane, pane) in enumerate(zip(self.lanes, self.panes.children)):
            index = lane.index_at(t_s)
            if index == len(lane.frames) - 1 and number not in self.reached:
                self.reached[number] = t_s
            assert isinstance(pane, widgets.HTML)
            with pane.hold_sync():
                pane.value = _pane_html(lane, t_s)

    def _failed(self, error: Exception) -> None:
        self.message.value = f'<span style="color:#b91c1c">replay failed: {escape(str(error))}</span>'

    def _done(self) -> None:
        self.play_button.disabled, self.pause_button.disabled = False, True


def _pane_html(lane: Timeline, t_s: float) -> str:
    frame = lane.frame_at(t_s)
    numbers = numbers_at(lane, t_s)
    status = "done" if frame is lane.frames[-1] else "replaying"
    chips = ""
    if frame.chips is not None:
        chips = "".join(
            f'<span class="wb-token" style="{chip_style(chip.state, chip.confidence)}">'
            f"{escape(chip.word) if chip.word.strip() else chr(0x2423)}</span>"
            for chip in frame.chips
        )
        chips = f'<div class="wb-canvas-tokens" style="line-height:1.9">{chips}</div>'
    body = lane_html(lane.title, status, numbers, frame.text, lane.note)
    return f'<div class="wb-replay-lane" data-frame="{lane.index_at(t_s)}">{body}{chips}</div>'
