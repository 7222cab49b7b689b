"""The race: one prompt through an autoregressive and a diffusion model, side by side, with live numbers.

Each model has a lane showing its text as it becomes final, tokens/s, time to first token, forward
passes and power: live watts from NVML while a run is going, the run's average from its energy
window at the end. The runs go one after the other, never at the same time: on 2 CPU
cores or one GPU, two concurrent runs would steal compute from each other, and the tokens/s the race
exists to compare would measure the contention instead of the models (`workbench.experiments.compare` does the
same). Without a GPU power reads "n/a (no GPU)", never 0. A third lane, `RaceView(served=True)`,
races a model behind a server (`workbench.engine.served`) with the AR settings; its power is the server's,
so it reads "n/a". Left out: more than two local lanes.

Numbers you can trust: the first time a model runs with a settings shape, the race runs it once
untimed first ("warming up") and shows that cold run's first-token time as its own labelled figure;
the lane's numbers are the warm run. A run made while other processes took CPU carries a "busy" note
(`workbench.measure.conditions`). Under the lanes, the verdict on the races so far with these models
and settings comes from `workbench.measure.verdict`: "too few samples" until there are enough,
"within the noise" unless the interval excludes parity, and none at all when a race was busy.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict
from html import escape
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import torch

from workbench.engine.generator import Generator
from workbench.engine.handle import ModelHandle
from workbench.engine.result import GenerationResult, StepEvent
from workbench.engine.settings import DiffusionSettings, GenerationSettings
from workbench.errors import InvalidSettingError
from workbench.measure.measurement import Measurement
from workbench.measure.telemetry.energy import measured_generate
from workbench.measure.telemetry.power import live_power_reader
from workbench.measure.verdict import compare_samples
from workbench.widgets.canvas_view import CanvasView
from workbench.widgets.throttle import DEFAULT_HZ, Throttle

# A loaded model (or a served one) and the settings it runs with: resolved once by the caller
# (`handle.settings(...)`), or keywords, which are resolved here once.
Entrant = tuple[Generator, GenerationSettings | dict[str, Any]]
NO_GPU = "n/a (no GPU)"
SERVED_POWER = "n/a (served: the server's power)"


def display_name(name: str) -> str:
    """A model's name as shown: registered names as they are, a folder by its last part."""
    return Path(name).name or name


def power_text(device: torch.device | str, measured: Measurement | None) -> str:
    """Average power of a run as shown to people: watts, or why there is no figure (never a made-up 0)."""
    if str(device) == "served":
        return SERVED_POWER
    if torch.device(device).type != "cuda":
        return NO_GPU
    if measured is None:
        return "measuring\u2026"
    if measured.avg_power_w is None:
        return f"n/a ({measured.joules_per_token_missing or 'not measured'})"
    return f"{measured.avg_power_w:.0f} W"


def lane_html(title: str, status: str, numbers: dict[str, str], text: str, note: str = "") -> str:
    rows = "".join(
        f'<tr><td style="color:#6b7280;padding-right:10px">{escape(name)}</td>'
        f'<td class="wb-{name.replace(" ", "-").replace("/", "-per-")}" style="font-family:monospace">{escape(value)}</td></tr>'
        for name, value in numbers.items()
    )
    note_html = f'<div style="color:#b45309;font-size:12px">{escape(note)}</div>' if note else ""
    return (
        f'<div class="wb-lane" data-status="{escape(status)}" style="font-family:sans-serif">'
        f'<div style="font-weight:600">{escape(title)} <span style="color:#6b7280;font-weight:400">{escape(status)}</span></div>'
        f"<table>{rows}</table>{note_html}"
        f'<div class="wb-lane-text" style="margin-top:4px;white-space:pre-wrap">{escape(text)}</div></div>'
    )


WattsReader = Callable[[], float]


class Lane:
    """One model's live numbers; `on_step` is called from the worker thread and throttled.

    `live_power(device)` returns a watts reader (or None and why); the default reads NVML.
    """

    def __init__(
        self,
        kind: str,
        hz: float = DEFAULT_HZ,
        live_power: Callable[[torch.device], tuple[WattsReader | None, str | None]] = live_power_reader,
    ) -> None:
        self.kind = kind
        self.html = widgets.HTML(value=lane_html(kind, "idle", {}, ""))
        self.html.add_class(f"wb-lane-{kind}")
        self.html.layout = widgets.Layout(width="50%")
        self._throttle = Throttle(hz)
        self._handle: Generator | None = None
        self._live_power = live_power
        self._read_watts: WattsReader | None = None
        self._watts_missing: str | None = None

    def waiting(self, handle: Generator) -> None:
        self._handle = handle
        self._set("waiting", {}, "")

    def begin(self, handle: Generator) -> None:
        self._handle = handle
        self._throttle.reset()
        if handle.is_served:
            self._read_watts, self._watts_missing = None, None  # the server's watts are not ours to read
        else:
            self._read_watts, self._watts_missing = self._live_power(torch.device(handle.device))
        self._set("running", self._numbers(0, None, None, 0, self._live_watts()), "")

    def on_step(self, event: StepEvent) -> None:
        if not self._throttle.ready():
            return
        tokens = len(event.committed_ids)
        rate = tokens / event.elapsed_s if tokens and event.elapsed_s > 0 else None
        text = event.text or ""
        numbers = self._numbers(tokens, rate, event.time_to_first_token_s, event.forward_passes, self._live_watts())
        self._set("running", numbers, text)

    def finish(self, result: GenerationResult, cold: GenerationResult | None = None) -> None:
        """Show a finished run; `cold` is this model's untimed first run with these settings, if any."""
        measured = Measurement.from_result(result)
        power = power_text(result.device, measured)
        numbers = self._numbers(
            result.new_tokens,
            result.tokens_per_second,
            result.time_to_first_token_s,
            result.forward_passes,
            f"{power} average" if power.endswith(" W") else power,
        )
        if cold is not None and cold.time_to_first_token_s is not None:
            numbers["cold first token"] = f"{cold.time_to_first_token_s:.3f} s (first run, untimed)"
        busy = measured.conditions.busy_note() if measured.conditions is not None else ""
        status = "stopped" if result.stopped else f"done ({result.finish_reason})"
        self._set(status, numbers, result.text, " ".join(n for n in (busy, measured.short_window_warning) if n))

    def warming(self, handle: Generator) -> None:
        self._handle = handle
        self._set("warming up (untimed)", {}, "")

    def skipped(self, why: str) -> None:
        self._set("skipped", {}, "", why)

    def failed(self) -> None:
        self._set("failed", {}, "", "see the message above")

    def _live_watts(self) -> str:
        if self._read_watts is None:
            if self._handle is not None and self._handle.is_served:
                return SERVED_POWER
            on_gpu = self._handle is not None and torch.device(self._handle.device).type == "cuda"
            return f"n/a ({self._watts_missing})" if on_gpu else NO_GPU
        try:
            return f"{self._read_watts():.0f} W now"
        except Exception as error:  # the GPU went away mid-run: say so and stop asking
            self._read_watts, self._watts_missing = None, f"power reading failed: {error}"
            return f"n/a ({self._watts_missing})"

    def _numbers(
        self, tokens: int, rate: float | None, first_s: float | None, passes: int | None, power: str
    ) -> dict[str, str]:
        return {
            "tokens": str(tokens),
            "tokens/s": f"{rate:.1f}" if rate is not None else "\u2013",
            "first token": f"{first_s:.3f} s" if first_s is not None else "\u2013",
            "forward passes": str(passes) if passes is not None else "n/a (served: chunks, not passes)",
            "power": power,
        }

    def _set(self, status: str, numbers: dict[str, str], text: str, note: str = "") -> None:
        title = f"{self.kind}: {display_name(self._handle.name)}" if self._handle is not None else self.kind
        with self.html.hold_sync():
            self.html.value = lane_html(title, status, numbers, text, note)


class RaceView:
    def __init__(self, hz: float = DEFAULT_HZ, served: bool = False) -> None:
        kinds = ("autoregressive", "diffusion", "served") if served else ("autoregressive", "diffusion")
        self.lanes = {kind: Lane(kind, hz) for kind in kinds}
        for lane in self.lanes.values():
            lane.html.layout.width = f"{100 // len(kinds)}%"
        self.verdict = widgets.HTML(value="")
        self.verdict.add_class("wb-race-verdict")
        self.widget = widgets.VBox([widgets.HBox([lane.html for lane in self.lanes.values()]), self.verdict])
        self._cold: dict[str, GenerationResult] = {}  # per model and settings shape: its untimed first run
        self._pairs: dict[str, list[tuple[GenerationResult, GenerationResult]]] = {}  # (AR, diffusion) per race setup

    def run(
        self,
        prompt: str,
        *,
        ar: Entrant,
        diffusion: Entrant,
        served: Entrant | None = None,
        stop: threading.Event | None = None,
        canvas: CanvasView | None = None,
    ) -> list[GenerationResult]:
        """Run the models in turn (blocking; the panel calls this from its worker thread).

        A stop request ends the current run at its next step and skips the ones after; the results
        of the runs that happened come back, stopped ones marked "stopped".
        """
        if served is not None and "served" not in self.lanes:
            raise InvalidSettingError(
                "served", served[0], "None for a race made without a served lane (RaceView(served=True))"
            )
        stop = stop or threading.Event()
        entrants = [("autoregressive", ar), ("diffusion", diffusion)] + (
            [("served", served)] if served is not None else []
        )
        for kind, (handle, _) in entrants:
            self.lanes[kind].waiting(handle)
        results = []
        for kind, (handle, settings) in entrants:
            lane = self.lanes[kind]
            if stop.is_set():
                lane.skipped("stopped before its turn")
                continue
            lane.begin(handle)
            on_step: Callable[[StepEvent], None] = lane.on_step
            resolved = settings if isinstance(settings, GenerationSettings) else handle.settings(**settings)
            # The canvas draws the trace's token ids, so it needs the model's tokenizer: only a diffusion
            # model loaded here has both (a served one streams finished text, no steps to draw).
            drawing = canvas is not None and isinstance(handle, ModelHandle) and isinstance(resolved, DiffusionSettings)
            if drawing:
                assert (
                    canvas is not None and isinstance(handle, ModelHandle) and isinstance(resolved, DiffusionSettings)
                )
                canvas.begin(handle.tokenizer, block_size=resolved.block_size, max_new_tokens=resolved.max_new_tokens)
                on_step = _both(lane.on_step, canvas.on_step)
            shape = _shape_key(handle, resolved)
            try:
                if shape not in self._cold and not handle.is_served:  # a served model is warm on its server
                    lane.warming(handle)
                    cold = handle.generate(prompt, settings=resolved, stop=stop)
                    if not cold.stopped:  # a warm-up cut short warmed nothing up: try again next race
                        self._cold[shape] = cold
                    lane.begin(handle)
                result = _measured(handle, prompt, resolved, on_step, stop)
            except Exception:
                lane.failed()
                raise
            lane.finish(result, self._cold.get(shape))
            if drawing:
                assert canvas is not None
                canvas.show(result)
            results.append(result)
        self._judge(results)
        return results

    def _judge(self, results: list[GenerationResult]) -> None:
        """Add this race's AR/diffusion pair to the ones with the same models and settings; show the verdict."""
        local = {r.kind: r for r in results if r.device != "served" and not r.stopped and r.tokens_per_second}
        if "autoregressive" not in local or "diffusion" not in local:
            return
        ar, diffusion = local["autoregressive"], local["diffusion"]
        unseeded = [{k: v for k, v in r.settings.items() if k != "seed"} for r in (ar, diffusion)]
        key = repr((ar.model, unseeded[0], diffusion.model, unseeded[1]))  # a seed changes the text, not the work
        pairs = self._pairs.setdefault(key, [])
        pairs.append((ar, diffusion))
        busy = any(Measurement.from_result(run).busy for pair in pairs for run in pair)
        verdict = compare_samples(
            [d.tokens_per_second or 0.0 for _, d in pairs], [a.tokens_per_second or 0.0 for a, _ in pairs], busy=busy
        )
        with self.verdict.hold_sync():
            self.verdict.value = (
                f'<div class="wb-verdict" data-outcome="{verdict.outcome}" style="font-family:sans-serif">'
                f"tokens/s over {len(pairs)} race(s) with these settings: {escape(verdict.words)}</div>"
            )


def _measured(
    handle: Generator,
    prompt: str,
    settings: GenerationSettings,
    on_step: Callable[[StepEvent], None],
    stop: threading.Event,
) -> GenerationResult:
    # Resolved settings raise no notes, and the lane shows the short-window warning itself: nothing
    # is printed from this worker thread (it would land in whichever cell runs next).
    return measured_generate(handle, prompt, warn=False, callback=on_step, stop=stop, settings=settings)


def _shape_key(handle: Generator, settings: GenerationSettings) -> str:
    # The seed changes the text, not the work: one warm-up serves every seed.
    knobs = {name: value for name, value in asdict(settings).items() if name != "seed"}
    return repr((handle.name, id(handle), sorted(knobs.items())))


def _both(first: Callable[[StepEvent], None], second: Callable[[StepEvent], None]) -> Callable[[StepEvent], None]:
    def call(event: StepEvent) -> None:
        first(event)
        second(event)

    return call
