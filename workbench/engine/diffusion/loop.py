"""The block-diffusion loop, written out: encoder prefill, canvas after canvas, step after step.

For each canvas the encoder first writes the tokens the model has not seen yet (the prompt, then
each finished canvas) into the KV cache. The canvas starts as uniform noise. Each step runs the
decoder once over the whole canvas (reading the cache, conditioned on the previous step's logits),
draws a candidate token per position, lets the sampler choose which positions keep theirs, and
refills the rest with fresh noise. A finished canvas is the argmax canvas (or, for locking samplers,
the committed tokens); it is cut at EOS and appended to the output.

Per step the loop is three lines, as in diffusers: call the model, let the scheduler
(`workbench.engine.diffusion.scheduler`) turn the logits into the next canvas, record the step. The random
draws happen in the same order as transformers' `DiffusionGemmaForBlockDiffusion.generate()`
(initial canvas, then per step: candidates, then renoise) so that, for the same seed and settings,
both produce the same tokens. Batch size is 1: this is a tool for watching one run.
Every call into the model goes through `workbench.engine.transformers_adapter`, which hides how the
installed transformers release names its arguments. With the fast path (`compile=True`) the cache
is static and each decoder step is the compiled one (`workbench.engine.fast_path`): only the window
a canvas is denoised through changes. The trace is kept complete either way; without a per-step
callback its records are built once per canvas from the steps' tensors (one copy per field rather
than one per step), and the time spent building them is the run's `trace_s`. Left out: image
inputs, batching.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import torch

from workbench.engine import transformers_adapter as adapter
from workbench.engine.diffusion.samplers import make_sampler
from workbench.engine.diffusion.scheduler import CanvasState, DenoisingScheduler, StepOutput
from workbench.engine.fast_path import FastRun
from workbench.engine.result import DenoisingStep
from workbench.engine.run_state import RunState
from workbench.engine.settings import DiffusionSettings
from workbench.errors import check_finite


def generate_blocks(
    model: adapter.Model,
    prompt_ids: torch.Tensor,
    settings: DiffusionSettings,
    run: RunState,
    *,
    eos_ids: set[int],
    generator: torch.Generator,
    on_step: Callable[[DenoisingStep], None] | None = None,
    stop: threading.Event | None = None,
    fast: FastRun | None = None,
) -> None:
    """Denoise canvases until EOS, max_new_tokens, or a stop request; results go into `run`."""
    block = settings.block_size
    vocab_size = model.config.text_config.vocab_size
    scheduler = DenoisingScheduler(settings, make_sampler(settings), vocab_size, generator)
    static = fast if fast is not None and fast.used else None
    cache: adapter.AnyCache = (
        static.cache if static is not None and static.cache is not None else adapter.new_cache(model)
    )
    attention = torch.ones((1, prompt_ids.shape[1]), dtype=torch.bool, device=prompt_ids.device)
    unseen = prompt_ids  # tokens the encoder has not written into the cache yet
    encoder_positions = torch.arange(0, unseen.shape[1], dtype=torch.int32, device=unseen.device).unsqueeze(0)

    for canvas_index in range(settings.canvases):
        adapter.encode_prefix(model, unseen, attention, cache, encoder_positions)
        if canvas_index == 0:
            run.mark_prefill_done()
        attention = torch.nn.functional.pad(attention, (0, block), value=True)  # the cache plus this canvas
        positions = torch.arange(
            attention.shape[1] - block, attention.shape[1], dtype=torch.int32, device=unseen.device
        ).unsqueeze(0)
        window = (
            _StaticWindow(model, static, attention, positions)
            if static is not None
            else _CanvasWindow(model, cache, attention, positions)
        )
        noise = torch.randint(0, vocab_size, (1, block), generator=generator, device=unseen.device)
        canvas = CanvasState.from_noise(noise, settings.early_exit)
        if not _denoise(window, canvas, scheduler, run, canvas_index, on_step, stop):
            return  # stopped mid-canvas: its tokens were never final
        finished = scheduler.final_tokens(canvas)
        if run.commit(finished[0].tolist(), eos_ids, settings.max_new_tokens):
            return
        unseen, encoder_positions = finished, window.positions
    run.finish_reason = "length"


class _CanvasWindow:
    """Where one canvas sits: the model, its cache, the 2-D mask over cache + canvas, the positions."""

    def __init__(self, model: adapter.Model, cache: Any, attention: torch.Tensor, positions: torch.Tensor):
        self.model, self.cache, self.attention, self.positions = model, cache, attention, positions

    def logits(self, canvas: CanvasState) -> torch.Tensor:
        return adapter.denoise_logits(
            self.model, canvas.tokens, canvas.self_conditioning, self.attention, self.cache, self.positions
        )


class _StaticWindow(_CanvasWindow):
    """The fast path's window: masks over the static cache built once per canvas, the compiled step."""

    def __init__(self, model: adapter.Model, fast: FastRun, attention: torch.Tensor, positions: torch.Tensor):
        assert fast.cache is not None  # a window is static only when the run has its static cache
        super().__init__(model, fast.cache, attention, positions)
        self.fast = fast
        self.masks = adapter.denoise_masks(model, fast.cache, attention, positions.shape[1])

    def logits(self, canvas: CanvasState) -> torch.Tensor:
        return self.fast.call(canvas.tokens, canvas.self_conditioning, self.masks, self.cache, self.positions)


def _denoise(
    window: _CanvasWindow,
    canvas: CanvasState,
    scheduler: DenoisingScheduler,
    run: RunState,
    canvas_index: int,
    on_step: Callable[[DenoisingStep], None] | None,
    stop: threading.Event | None,
) -> bool:
    """Run up to `steps` denoising steps on one canvas; False if a stop request ended it first."""
    pending: list[_Pending] = []  # steps not yet in the trace (all of this canvas's, without a callback)
    try:
        for step in range(1, scheduler.steps + 1):
            if stop is not None and stop.is_set():
                run.finish_reason = "stopped"
                return False
            started, noise = run.elapsed(), canvas.tokens if step == 1 else None
            logits = window.logits(canvas)
            run.forward_passes += 1
            check_finite(logits, getattr(window.model, "name_or_path", "the model"), run.forward_passes)
            output = scheduler.step(logits, step, canvas)
            elapsed = run.elapsed()
            run.step_times_s.append(elapsed - started)
            pending.append(_Pending(output, step, elapsed, noise))
            if on_step is not None:  # a watcher wants each step as it happens
                _flush(pending, canvas_index, run)
                on_step(run.trace[-1])
            if output.done:
                break
        return True
    finally:
        _flush(pending, canvas_index, run)


class _Pending:
    __slots__ = ("output", "step", "elapsed_s", "noise")

    def __init__(self, output: StepOutput, step: int, elapsed_s: float, noise: torch.Tensor | None) -> None:
        self.output, self.step, self.elapsed_s, self.noise = output, step, elapsed_s, noise


_TRACED = ("tokens", "argmax", "accepted", "state", "confidence", "entropy")


def _flush(pending: list[_Pending], canvas_index: int, run: RunState) -> None:
    """Turn the pending steps into trace records: one device-to-host copy per field for all of them."""
    if not pending:
        return
    started = time.perf_counter()
    columns = {name: torch.cat([getattr(p.output, name) for p in pending]).tolist() for name in _TRACED}
    for row, p in enumerate(pending):
        run.trace.append(
            DenoisingStep(
                canvas=canvas_index,
                step=p.step,
                temperature=p.output.temperature,
                elapsed_s=p.elapsed_s,
                noise=p.noise[0].tolist() if p.noise is not None else [],
                **{name: columns[name][row] for name in _TRACED},
            )
        )
    pending.clear()
    run.trace_s += time.perf_counter() - started
