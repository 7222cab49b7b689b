"""One denoising step, from the decoder's logits to the next canvas, shaped like a diffusers scheduler.

`DenoisingScheduler.step(logits, step, canvas)` does what happens between two decoder passes:
temperature (the model's schedule or a constant), a candidate token per position (a draw, or the
argmax at temperature 0), the argmax canvas, entropy (at the step's temperature) and confidence (the
model's own probability of the drawn token), the sampler's choice of positions to keep, fresh noise
everywhere else, and the early-exit test. It returns a typed `StepOutput` and advances the small
`CanvasState` that one canvas carries from step to step. The model call and the trace belong to the
loop (`workbench.engine.diffusion.loop`).

The random draws keep transformers' order (candidates, then renoise, both from the run's generator),
so for a seed the tokens equal those of its `generate()`. Left out: batching, a DDIM-style
posterior (it would be another scheduler with the same `step` signature).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from workbench.engine.diffusion.early_exit import StableAndConfident
from workbench.engine.diffusion.samplers import Sampler
from workbench.engine.diffusion.temperature import temperature_at
from workbench.engine.result import KEPT, NEW, NOISE
from workbench.engine.settings import DiffusionSettings


@dataclass
class CanvasState:
    """What one canvas carries between steps."""

    tokens: torch.Tensor  # the canvas the decoder reads next: kept tokens, noise elsewhere
    locked: torch.Tensor  # positions committed for good (locking samplers only)
    accepted: torch.Tensor  # positions the last step accepted
    argmax: torch.Tensor  # the last step's best guess at every position
    self_conditioning: torch.Tensor | None  # the last step's scaled logits (None before step 1)
    exit_rule: StableAndConfident | None

    @classmethod
    def from_noise(cls, noise: torch.Tensor, early_exit: bool) -> CanvasState:
        nothing = torch.zeros_like(noise, dtype=torch.bool)
        return cls(noise, nothing, nothing, noise, None, StableAndConfident() if early_exit else None)


@dataclass(frozen=True)
class StepOutput:
    """What one step decided, per position of the canvas (all tensors of shape (1, canvas))."""

    tokens: torch.Tensor  # the canvas after the step
    argmax: torch.Tensor
    accepted: torch.Tensor
    state: torch.Tensor  # NOISE / NEW (accepted this step) / KEPT (accepted before, same token)
    entropy: torch.Tensor  # nats, at this step's temperature
    confidence: torch.Tensor  # the model's own (temperature 1) probability of the drawn token
    temperature: float
    done: bool  # the canvas needs no further step


class DenoisingScheduler:
    def __init__(self, settings: DiffusionSettings, sampler: Sampler, vocab_size: int, generator: torch.Generator):
        self.settings, self.sampler, self.vocab_size, self.generator = settings, sampler, vocab_size, generator
        self.steps: int = settings.steps

    def step(self, logits: torch.Tensor, step: int, canvas: CanvasState) -> StepOutput:
        """Turn step `step`'s (1-based) logits into the next canvas; updates `canvas` in place."""
        steps = self.steps
        t_min, t_max = self.settings.t_min, self.settings.t_max
        temperature = temperature_at(self.settings.temperature, steps - step + 1, steps, t_min, t_max)
        scaled = logits / temperature if temperature > 0 else logits
        if temperature > 0:
            probs = torch.softmax(scaled, dim=-1, dtype=torch.float32)
            flat = torch.multinomial(probs.view(-1, self.vocab_size), 1, generator=self.generator)
            candidate = flat.view(canvas.tokens.shape)
        else:
            candidate = torch.argmax(scaled, dim=-1)
        argmax = torch.argmax(scaled, dim=-1)
        entropy = torch.distributions.Categorical(logits=scaled).entropy()  # DiffusionGemma's: at temperature
        # Confidence is the model's own (temperature 1) probability of the drawn token, as in LLaDA's and
        # Fast-dLLM's low-confidence rules: a low temperature sharpens the draw, not what the model knows,
        # and tempered probabilities near 1 everywhere would let a locking sampler commit most of a canvas
        # of guesses at step 1.
        own_logits = logits.float()
        drawn = own_logits.gather(-1, candidate.unsqueeze(-1)).squeeze(-1)
        confidence = torch.exp(drawn - torch.logsumexp(own_logits, dim=-1))

        accepted = self.sampler.accept(entropy, confidence, canvas.locked, step, steps)
        held = torch.where(canvas.locked, canvas.tokens, candidate) if self.sampler.locks_committed else candidate
        noise = torch.randint(0, self.vocab_size, canvas.tokens.shape, generator=self.generator, device=logits.device)
        tokens = torch.where(accepted, held, noise)
        if self.sampler.locks_committed:
            canvas.locked = accepted
        done = canvas.exit_rule(argmax, entropy) if canvas.exit_rule is not None else False
        done = done or bool(self.sampler.locks_committed and canvas.locked.all())

        kept = accepted & canvas.accepted & (tokens == canvas.tokens)
        state = torch.where(kept, KEPT, torch.where(accepted, NEW, NOISE))
        canvas.tokens, canvas.accepted, canvas.argmax = tokens, accepted, argmax
        canvas.self_conditioning = scaled  # the decoder softmaxes these itself, as in transformers' generate()
        return StepOutput(tokens, argmax, accepted, state, entropy, confidence, temperature, done)

    def final_tokens(self, canvas: CanvasState) -> torch.Tensor:
        """The committed canvas: the argmax, or the locked tokens where a locking sampler committed."""
        if self.sampler.locks_committed:
            return torch.where(canvas.locked, canvas.tokens, canvas.argmax)
        return canvas.argmax
