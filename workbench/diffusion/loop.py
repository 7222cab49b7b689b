"""The block-diffusion loop, written out: encoder prefill, canvas after canvas, step after step.

For each canvas the encoder first writes the tokens the model has not seen yet (the prompt, then
each finished canvas) into the KV cache. The canvas starts as uniform noise. Each step runs the
decoder once over the whole canvas (reading the cache, conditioned on the previous step's logits),
draws a candidate token per position, lets the sampler choose which positions keep theirs, and
refills the rest with fresh noise. A finished canvas is the argmax canvas (or, for locking samplers,
the committed tokens); it is cut at EOS and appended to the output.

The random draws happen in the same order as transformers' `DiffusionGemmaForBlockDiffusion
.generate()` (initial canvas, then per step: candidates, then renoise) so that, for the same seed and
settings, both produce the same tokens. Batch size is 1: this is a tool for watching one run.
Every call into the model goes through `workbench.transformers_adapter`, which hides how the
installed transformers release names its arguments. Left out: static-cache compilation, image
inputs, batching.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

import torch
from transformers import DynamicCache

from workbench import transformers_adapter as adapter
from workbench.diffusion.early_exit import StableAndConfident
from workbench.diffusion.samplers import Sampler, make_sampler
from workbench.diffusion.temperature import temperature_at
from workbench.errors import check_finite
from workbench.result import KEPT, NEW, NOISE, DenoisingStep
from workbench.run_state import RunState
from workbench.settings import GenerationSettings


def generate_blocks(
    model: torch.nn.Module,
    prompt_ids: torch.Tensor,
    settings: GenerationSettings,
    run: RunState,
    *,
    t_min: float,
    t_max: float,
    eos_ids: set[int],
    generator: torch.Generator,
    on_step: Callable[[DenoisingStep], None] | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Denoise canvases until EOS, max_new_tokens, or a stop request; results go into `run`."""
    block = settings.block_size
    vocab_size = model.config.text_config.vocab_size
    cache = adapter.new_cache(model)
    attention = torch.ones((1, prompt_ids.shape[1]), dtype=torch.bool, device=prompt_ids.device)
    unseen = prompt_ids  # tokens the encoder has not written into the cache yet
    encoder_positions = torch.arange(0, unseen.shape[1], dtype=torch.int32, device=unseen.device).unsqueeze(0)

    for canvas_index in range(math.ceil(settings.max_new_tokens / block)):
        adapter.encode_prefix(model, unseen, attention, cache, encoder_positions)
        if canvas_index == 0:
            run.mark_prefill_done()
        decoder_positions = torch.arange(
            attention.shape[1], attention.shape[1] + block, dtype=torch.int32, device=unseen.device
        ).unsqueeze(0)
        canvas = torch.randint(0, vocab_size, (1, block), generator=generator, device=unseen.device)
        finished = _denoise_canvas(
            model, canvas, cache, torch.nn.functional.pad(attention, (0, block), value=True), decoder_positions,
            settings, make_sampler(settings), run, canvas_index, t_min, t_max, generator, on_step, stop,
        )
        if finished is None:  # stopped mid-canvas: its tokens were never final
            return
        if run.commit(finished[0].tolist(), eos_ids, settings.max_new_tokens):
            return
        unseen, encoder_positions = finished, decoder_positions
        attention = torch.nn.functional.pad(attention, (0, block), value=True)
    run.finish_reason = "length"


def _denoise_canvas(
    model: torch.nn.Module,
    canvas: torch.Tensor,
    cache: DynamicCache,
    decoder_attention: torch.Tensor,
    positions: torch.Tensor,
    settings: GenerationSettings,
    sampler: Sampler,
    run: RunState,
    canvas_index: int,
    t_min: float,
    t_max: float,
    generator: torch.Generator,
    on_step: Callable[[DenoisingStep], None] | None,
    stop: threading.Event | None,
) -> torch.Tensor | None:
    """Run up to `settings.steps` denoising steps on one canvas; return the final tokens or None if stopped."""
    vocab_size = model.config.text_config.vocab_size
    exit_rule = StableAndConfident() if settings.early_exit else None
    locked = torch.zeros_like(canvas, dtype=torch.bool)
    previous_accepted, previous_tokens = locked, canvas
    self_conditioning = None
    argmax = canvas

    for step in range(1, settings.steps + 1):
        if stop is not None and stop.is_set():
            run.finish_reason = "stopped"
            return None
        step_started = run.elapsed()
        logits = adapter.denoise_logits(model, canvas, self_conditioning, decoder_attention, cache, positions)
        run.forward_passes += 1
        check_finite(logits, getattr(model, "name_or_path", "the model"), run.forward_passes)

        temperature = temperature_at(settings.temperature, settings.steps - step + 1, settings.steps, t_min, t_max)
        # Temperature 0 picks the argmax; the sampler still ranks positions by the model's own (T=1)
        # uncertainty, otherwise every position would look certain and be accepted at step 1.
        scaled = logits / temperature if temperature > 0 else logits
        probs = torch.softmax(scaled, dim=-1, dtype=torch.float32)
        if temperature > 0:
            candidate = torch.multinomial(probs.view(-1, vocab_size), 1, generator=generator).view(canvas.shape)
        else:
            candidate = torch.argmax(scaled, dim=-1)
        argmax = torch.argmax(scaled, dim=-1)
        entropy = torch.distributions.Categorical(logits=scaled).entropy()
        confidence = probs.max(dim=-1).values

        accepted = sampler.accept(entropy, confidence, locked, step, settings.steps)
        held = torch.where(locked, canvas, candidate) if sampler.locks_committed else candidate
        noise = torch.randint(0, vocab_size, canvas.shape, generator=generator, device=canvas.device)
        next_canvas = torch.where(accepted, held, noise)
        if sampler.locks_committed:
            locked = accepted
        done = exit_rule(argmax, entropy) if exit_rule is not None else False
        done = done or bool(sampler.locks_committed and locked.all())
        self_conditioning = scaled  # the decoder softmaxes these itself, as in transformers' generate()

        kept = accepted & previous_accepted & (next_canvas == previous_tokens)
        state = torch.where(kept, KEPT, torch.where(accepted, NEW, NOISE))
        step_record = DenoisingStep(
            canvas=canvas_index, step=step, temperature=temperature,
            tokens=next_canvas[0].tolist(), argmax=argmax[0].tolist(), accepted=accepted[0].tolist(),
            state=state[0].tolist(), confidence=confidence[0].tolist(), entropy=entropy[0].tolist(),
            elapsed_s=run.elapsed(), noise=canvas[0].tolist() if step == 1 else [],
        )
        run.step_times_s.append(step_record.elapsed_s - step_started)
        run.trace.append(step_record)
        if on_step is not None:
            on_step(step_record)
        previous_accepted, previous_tokens, canvas = accepted, next_canvas, next_canvas
        if done:
            break
    return torch.where(locked, canvas, argmax) if sampler.locks_committed else argmax
