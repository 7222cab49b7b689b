"""The two training losses: next-token cross-entropy (AR) and DiffusionGemma's denoising loss.

The diffusion loss follows the model's own generation procedure: a clean context goes through the
(causal) encoder, the canvas is corrupted with *uniform random tokens* at a per-example rate
t ~ U(0, 1) (no mask token), and the bidirectional decoder is trained with cross-entropy to recover
every canvas position. On a share of steps the decoder first runs without gradient and its logits
are fed back as `self_conditioning_logits`, as generate() does from the second denoising step on.
On a share of examples (`ordered_rate`) the corruption is *ordered*: a clean prefix of the canvas and
corruption only after it, the state a locking sampler leaves behind (committed tokens on the left,
noise on the right), so the model also learns to be sure of the next tokens after a clean stretch.
On a share of examples (`high_noise_rate`) t is drawn from [HIGH_NOISE_FLOOR, 1] instead: the nearly
all-noise canvases a locking sampler commits its first tokens from, where a model trained on
t ~ U(0, 1) alone sees few examples and is overconfident (the model card measures it); and on a
share (`pure_noise_rate`) t = 1: the all-noise canvas every canvas's first step starts from, where
the right answer is the marginal given the context alone.
Left out: loss weighting by t and any timestep embedding (the model has none).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

HIGH_NOISE_FLOOR = 0.75


def ar_loss(
    model: Any,  # a Gemma3ForCausalLM
    input_ids: torch.Tensor,
    labels: torch.Tensor,
) -> torch.Tensor:
    """Mean next-token cross-entropy over every real token (the model shifts labels itself)."""
    return model(input_ids=input_ids, labels=labels).loss


def corrupt(
    canvas: torch.Tensor,
    vocab_size: int,
    generator: torch.Generator,
    ordered_rate: float = 0.0,
    high_noise_rate: float = 0.0,
    pure_noise_rate: float = 0.0,
) -> torch.Tensor:
    """Replace each token with a uniformly random one with probability t, t drawn per example.

    An `ordered_rate` share of the examples keeps a clean prefix of random length and corrupts only after it;
    a `high_noise_rate` share draws t from [HIGH_NOISE_FLOOR, 1] and a `pure_noise_rate` share is all noise.
    """
    batch, length = canvas.shape
    t = torch.rand((batch, 1), generator=generator)
    if high_noise_rate > 0:  # drawn only when used, so runs without it keep their random stream
        high = torch.rand((batch, 1), generator=generator) < high_noise_rate
        t = torch.where(high, HIGH_NOISE_FLOOR + (1 - HIGH_NOISE_FLOOR) * t, t)
    if pure_noise_rate > 0:
        t = torch.where(torch.rand((batch, 1), generator=generator) < pure_noise_rate, 1.0, t)
    noise = torch.randint(vocab_size, canvas.shape, generator=generator)
    corrupted = torch.rand(canvas.shape, generator=generator) < t
    if ordered_rate > 0:
        ordered = torch.rand((batch, 1), generator=generator) < ordered_rate
        clean_prefix = torch.randint(length, (batch, 1), generator=generator)
        corrupted &= ~(ordered & (torch.arange(length) < clean_prefix))
    return torch.where(corrupted, noise, canvas)


def diffusion_loss(
    model: Any,  # a DiffusionGemmaForBlockDiffusion
    context: torch.Tensor,
    canvas: torch.Tensor,
    generator: torch.Generator,
    self_condition: bool,
    ordered_rate: float = 0.0,
    high_noise_rate: float = 0.0,
    pure_noise_rate: float = 0.0,
) -> torch.Tensor:
    """Cross-entropy of the clean canvas given the context and its corrupted copy."""
    device = next(model.parameters()).device
    noisy = corrupt(
        canvas, model.config.text_config.vocab_size, generator, ordered_rate, high_noise_rate, pure_noise_rate
    ).to(device)
    context, canvas = context.to(device), canvas.to(device)
    self_conditioning_logits = None
    if self_condition:
        with torch.no_grad():
            self_conditioning_logits = model(input_ids=context, decoder_input_ids=noisy).logits
    logits = model(input_ids=context, decoder_input_ids=noisy, self_conditioning_logits=self_conditioning_logits).logits
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), canvas.reshape(-1))
