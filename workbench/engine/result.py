"""The one result type both kinds of model return, and the per-step trace of a diffusion run.

A `GenerationResult` holds what was asked (prompt, settings), what came out (text, token ids, why it
ended) and how long it took (load, prefill, time to first token, per step, total). Rates are derived
from those numbers, never stored separately, so they cannot disagree with them.

A diffusion run also carries a trace: one `DenoisingStep` per decoder forward pass with the canvas,
which positions the sampler accepted or committed, and how sure the model was at each position.
Energy and hardware figures are attached later by `workbench.measure.telemetry` under `telemetry`; this
module does not measure anything itself.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

FinishReason = Literal[
    "eos", "length", "stopped", "interrupted", "error"
]  # error: a served stream failed (why: telemetry["error"])

# Position states in a trace step, as the live canvas colours them.
NOISE, NEW, KEPT = 0, 1, 2


@dataclass
class DenoisingStep:
    """One decoder forward pass on one canvas."""

    canvas: int  # which canvas of the run (0-based)
    step: int  # denoising step within that canvas (1-based)
    temperature: float  # temperature used at this step (0.0 = argmax)
    tokens: list[int]  # the canvas after this step: accepted tokens, noise elsewhere
    argmax: list[int]  # the model's best guess at every position this step
    accepted: list[bool]  # positions the sampler accepted (entropy-bound) or committed (quota)
    state: list[int]  # NOISE / NEW (accepted this step) / KEPT (accepted before, same token)
    confidence: list[float]  # the model's own (temperature 1) probability of the token drawn there
    entropy: list[float]  # entropy in nats of each position's distribution
    elapsed_s: float  # time since generation started, at the end of this step
    noise: list[int] = field(default_factory=list)  # step 1 only: the random canvas denoising started from

    @property
    def accepted_count(self) -> int:
        return sum(self.accepted)


@dataclass
class StepEvent:
    """What a per-step callback receives: one per token (autoregressive) or per denoising step."""

    kind: Literal["autoregressive", "diffusion"]
    forward_passes: int | None  # forward passes so far in this run (None: a served model, which streams chunks)
    elapsed_s: float  # since generation started (prefill included)
    committed_ids: list[int]  # tokens that are final so far (diffusion: finished canvases only)
    time_to_first_token_s: float | None
    step: DenoisingStep | None = None  # the diffusion step just taken; None for autoregressive
    text: str | None = None  # the text so far, from a served model (it has no local tokenizer to decode with)


@dataclass
class GenerationResult:
    """Everything one call to `handle.generate()` produced and measured."""

    model: str
    kind: Literal["autoregressive", "diffusion"]
    prompt: str
    text: str
    token_ids: list[int]  # new tokens only, up to and including EOS if one was produced
    settings: dict[str, Any]
    finish_reason: FinishReason
    device: str
    dtype: str
    load_s: float
    prefill_s: float | None  # None when stopped before the prompt was processed
    time_to_first_token_s: float | None  # None when stopped before any token was final
    total_s: float
    step_times_s: list[float]  # per token after the first (AR: the first pass is the prefill) or per denoising step
    forward_passes: int | None  # decoder/model forward passes that produced tokens (prefill excluded); None: served
    prompt_tokens: int | None  # None: a served run that ended before the server reported usage
    trace: list[DenoisingStep] = field(default_factory=list)
    telemetry: dict[str, Any] = field(default_factory=dict)

    @property
    def stopped(self) -> bool:
        return self.finish_reason in ("stopped", "interrupted")

    @property
    def new_tokens(self) -> int:
        return len(self.token_ids)

    @property
    def tokens_per_second(self) -> float | None:
        """End-to-end rate: new tokens over the whole call (prefill included), as users feel it."""
        if self.total_s <= 0 or self.new_tokens == 0:
            return None
        return self.new_tokens / self.total_s

    @property
    def tokens_per_forward(self) -> float | None:
        if not self.forward_passes:  # 0, or None for a served model (see telemetry["tokens_per_chunk"])
            return None
        return self.new_tokens / self.forward_passes

    @property
    def canvases(self) -> int:
        return len({s.canvas for s in self.trace})

    def metrics(self) -> dict[str, Any]:
        """Flat numbers for tables and the results store (None = not measured)."""
        return {
            "new_tokens": self.new_tokens,
            "prompt_tokens": self.prompt_tokens,
            "load_s": self.load_s,
            "prefill_s": self.prefill_s,
            "time_to_first_token_s": self.time_to_first_token_s,
            "total_s": self.total_s,
            "tokens_per_second": self.tokens_per_second,
            "forward_passes": self.forward_passes,
            "tokens_per_forward": self.tokens_per_forward,
            "mean_step_s": (sum(self.step_times_s) / len(self.step_times_s)) if self.step_times_s else None,
        }

    def to_dict(self, include_trace: bool = False) -> dict[str, Any]:
        data = asdict(self)
        if not include_trace:
            data.pop("trace")
        data.update(self.metrics())
        data["stopped"] = self.stopped
        return _finite_or_none(data)

    def to_json(self, include_trace: bool = False) -> str:
        return json.dumps(self.to_dict(include_trace=include_trace))

    # Convenience for notebooks: the drawing lives in workbench.export (a layer above the engine,
    # imported only when called); the engine's own logic never depends on it.
    def save_html(self, path: str, tokenizer: Any = None, **options: Any) -> Any:
        """Write this run as a self-contained HTML player (see `workbench.export.html.save_html`)."""
        from workbench.export.html import save_html

        return save_html(path, self, tokenizer, **options)

    def save_gif(self, path: str, tokenizer: Any = None, **options: Any) -> Any:
        """Write this run as an animated GIF (see `workbench.export.animation.save_gif`)."""
        from workbench.export.animation import save_gif

        return save_gif(path, self, tokenizer, **options)

    def save_video(self, path: str, tokenizer: Any = None, **options: Any) -> Any:
        """Write this run as an MP4 video (see `workbench.export.animation.save_video`)."""
        from workbench.export.animation import save_video

        return save_video(path, self, tokenizer, **options)

    def __repr__(self) -> str:  # the notebook shows this after a bare `result` cell
        rate = self.tokens_per_second
        rate_text = f"{rate:.1f} tok/s" if rate is not None else "no tokens"
        return (
            f"GenerationResult({self.kind} {self.model!r}: {self.new_tokens} tokens, {rate_text}, "
            f"{self.forward_passes if self.forward_passes is not None else 'n/a'} forward passes, finish={self.finish_reason}, text={self.text[:60]!r})"
        )


def _finite_or_none(value: Any) -> Any:
    # JSON has no NaN/inf; a non-finite number is a measurement we do not have.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite_or_none(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite_or_none(item) for item in value]
    return value
