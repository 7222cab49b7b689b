"""The replay clock: a finished run as frames on its own recorded time axis, and what shows at time t.

    lane = timeline(result, tokenizer)       # frames at the times the run recorded them
    lane.frame_at(0.12)                      # the frame on screen 0.12 s into the run
    numbers_at(lane, 0.12)                   # tokens, tokens/s and step at that moment

Every lane starts at t = 0 (the call to `generate()`), so two lanes replay on one clock even though
the race ran them one after the other. Where the times come from:
- a diffusion run with a trace: frame 0 is the noise at t = 0, then one frame per denoising step at
  the step's `elapsed_s`, with the canvas (words, state, confidence); the last frame is the resolved text;
- an autoregressive run: one frame per token, the first at the time to first token, then one per
  `step_times_s` entry (per token after the first);
- a served run: one frame per streamed chunk (first chunk at the time to first token, then the gaps
  in `step_times_s`); a chunk's tokens are not recorded, so the count shows at the last frame only;
- a diffusion run without a trace: one frame per step from `step_times_s`, without canvases.
Only a run with a trace has canvases; the others say so in `note`.

A trace of more than `max_frames` steps is subsampled: the first and last frames are always kept
and the rest are evenly spaced by index (frame round(i * (n - 1) / (max_frames - 1))), each still at
its recorded time, so the replay keeps true timing and the output stays bounded. Words come from
the tokenizer the run used; without one, a canvas shows token ids ("#123") and text is left out.
This module is pure (no widgets, no files): `workbench.export.html`, `.animation` and the replay
widget draw what it returns.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from workbench.engine.result import NOISE, GenerationResult
from workbench.errors import InvalidSettingError
from workbench.export.canvas_html import resolved_step

MAX_FRAMES = 1000  # per lane: bounds the HTML file, the GIF and the time to render either


@dataclass(frozen=True)
class Chip:
    word: str
    state: int  # NOISE / NEW / KEPT, as in `DenoisingStep.state`
    confidence: float


@dataclass(frozen=True)
class Frame:
    t_s: float  # seconds since generation started
    label: str  # what this frame is ("step 3 of 40 (canvas 1, step 3)", "token 7 of 24", ...)
    tokens: int | None  # tokens final at this moment (None: not recorded, e.g. inside a served stream)
    text: str  # text final at this moment ("" when no tokenizer: see `Timeline.note`)
    chips: tuple[Chip, ...] | None = None  # the canvas; None without a trace


@dataclass
class Timeline:
    """One lane of a replay: a run's frames in time order, plus what to print beside it."""

    title: str
    kind: str
    frames: list[Frame]
    settings: dict[str, Any]
    summary: dict[str, str]  # the run's headline numbers, as text
    note: str = ""  # what is missing and why (no canvases, no words, subsampled)
    times: list[float] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.times = [frame.t_s for frame in self.frames]

    @property
    def end_s(self) -> float:
        """When the lane reaches its last frame."""
        return self.times[-1] if self.times else 0.0

    @property
    def has_canvas(self) -> bool:
        return any(frame.chips is not None for frame in self.frames)

    def index_at(self, t_s: float) -> int:
        """The frame on screen at `t_s`: the last one recorded at or before it (the first before any)."""
        return max(0, bisect.bisect_right(self.times, t_s) - 1)

    def frame_at(self, t_s: float) -> Frame:
        return self.frames[self.index_at(t_s)]


def timeline(result: GenerationResult, tokenizer: Any = None, *, max_frames: int = MAX_FRAMES) -> Timeline:
    """The frames of one run (see the module docstring for where each kind's times come from)."""
    if not isinstance(max_frames, int) or isinstance(max_frames, bool) or max_frames < 2:
        raise InvalidSettingError("max_frames", max_frames, "an integer of at least 2 (first and last frame)")
    words = _Words(tokenizer)
    notes: list[str] = []
    if result.trace:
        frames = _diffusion_frames(result, words)
    else:
        frames = _timed_frames(result, words)
        if result.kind == "diffusion" or result.device == "served":
            notes.append("per-step canvases are not available: this run has no trace (a served or stored run)")
        else:
            notes.append("per-step canvases are not available: an autoregressive run has no canvas")
    if result.telemetry.get("replay_missing"):  # a stored run kept without its timeline (see measure.store)
        notes.append(str(result.telemetry["replay_missing"]))
    if not frames:
        notes.append("no timeline was recorded for this run (no token or step times)")
        frames = [Frame(0.0, "no recorded steps", result.new_tokens, result.text)]
    if tokenizer is None and result.new_tokens:
        notes.append("words are not available (no tokenizer given): token ids are shown, text appears at the end")
    if len(frames) > max_frames:
        notes.append(f"subsampled: {max_frames} of {len(frames)} frames, evenly by index, at their recorded times")
        frames = [frames[round(i * (len(frames) - 1) / (max_frames - 1))] for i in range(max_frames)]
    kind = "served" if result.device == "served" else result.kind
    return Timeline(
        title=f"{kind}: {result.model}",
        kind=kind,
        frames=frames,
        settings=dict(result.settings),
        summary=_summary(result),
        note="; ".join(notes),
    )


def numbers_at(lane: Timeline, t_s: float) -> dict[str, str]:
    """A lane's numbers at a moment of the replay, as the race lane shows them live."""
    frame = lane.frame_at(t_s)
    clock = min(t_s, lane.end_s)
    rate = frame.tokens / clock if frame.tokens and clock > 0 else None
    return {
        "time": f"{clock:.3f} s",
        "frame": frame.label,
        "tokens": str(frame.tokens) if frame.tokens is not None else "n/a (not recorded per chunk)",
        "tokens/s": f"{rate:.1f}" if rate is not None else "\u2013",
    }


def shared_end_s(lanes: list[Timeline]) -> float:
    """The length of a replay of several lanes on one clock: when the last lane reaches its last frame."""
    return max((lane.end_s for lane in lanes), default=0.0)


class _Words:
    """Token id -> shown text, decoded once per id (a canvas repeats ids across steps)."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self._cache: dict[int, str] = {}

    def word(self, token: int) -> str:
        if self.tokenizer is None:
            return f"#{token}"
        if token not in self._cache:
            self._cache[token] = self.tokenizer.decode([token], skip_special_tokens=False)
        return self._cache[token]

    def text(self, ids: list[int]) -> str:
        if self.tokenizer is None:
            return ""
        return self.tokenizer.decode(ids, skip_special_tokens=True) if ids else ""


def _diffusion_frames(result: GenerationResult, words: _Words) -> list[Frame]:
    trace = result.trace
    block = int(result.settings.get("block_size") or len(trace[0].tokens))
    noise = trace[0].noise or [0] * len(trace[0].tokens)
    frames = [
        Frame(
            0.0,
            "noise (before step 1)",
            0,
            "",
            tuple(Chip(words.word(token) if trace[0].noise else "\u2591", NOISE, 0.0) for token in noise),
        )
    ]
    for index, step in enumerate(trace):
        done = min(step.canvas * block, result.new_tokens)
        last = index == len(trace) - 1
        if last and not result.stopped:  # the finished canvas as committed, like the canvas view's last frame
            step = resolved_step(step, result.token_ids[step.canvas * block :])
            done = result.new_tokens
        chips = tuple(Chip(words.word(t), s, c) for t, s, c in zip(step.tokens, step.state, step.confidence))
        text = result.text if last else words.text(result.token_ids[:done])
        label = f"step {index + 1} of {len(trace)} (canvas {step.canvas + 1}, step {step.step})"
        frames.append(Frame(step.elapsed_s, label, done, text, chips))
    return frames


def _timed_frames(result: GenerationResult, words: _Words) -> list[Frame]:
    first = result.time_to_first_token_s
    if first is None:
        return []
    times = [first, *(first + gap for gap in accumulate(result.step_times_s))]
    times = [t for t in times if math.isfinite(t)]
    served = result.device == "served"
    diffusion = result.kind == "diffusion" and not served
    unit = "chunk" if served else ("step" if diffusion else "token")
    frames = []
    for index, t_s in enumerate(times):
        last = index == len(times) - 1
        if served or diffusion:
            tokens = result.new_tokens if last else None
            text = result.text if last else ""
        else:
            tokens = min(index + 1, result.new_tokens)
            text = result.text if last else words.text(result.token_ids[:tokens])
        frames.append(Frame(t_s, f"{unit} {index + 1} of {len(times)}", tokens, text))
    return frames


def _summary(result: GenerationResult) -> dict[str, str]:
    def seconds(value: float | None) -> str:
        return f"{value:.3f} s" if value is not None else "n/a"

    rate, per_forward = result.tokens_per_second, result.tokens_per_forward
    return {
        "model": result.model,
        "kind": result.kind,
        "device": result.device,
        "tokens": str(result.new_tokens),
        "first token": seconds(result.time_to_first_token_s),
        "total": seconds(result.total_s),
        "tokens/s": f"{rate:.1f}" if rate is not None else "n/a",
        "forward passes": str(result.forward_passes) if result.forward_passes is not None else "n/a (served)",
        "tokens/forward": f"{per_forward:.2f}" if per_forward is not None else "n/a",
        "finished": result.finish_reason,
    }
