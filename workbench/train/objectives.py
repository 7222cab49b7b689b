"""The two training losses: next-token cross-entropy (AR) and DiffusionGemma's denoising loss.

The diffusion loss follows the model's own generation procedure: a clean context goes through the
(causal) encoder, the canvas is corrupted with *uniform random tokens* at a per-example rate
t ~ U(0, 1) (no mask token), and the bidirectional decoder is trained with cross-entropy to recover
every canvas position. On a share of steps the decoder first runs without gradient and its logits
are fed back as `self_conditioning_logits`, as generate() does from the second denoising step on.
Left out: loss weighting by t and any timestep embedding (the model has none).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F


def ar_loss(
    model: Any,  # a Gemma3ForCausalLM
    input_ids: torch.Tensor,
    labels: torch.Tensor,
) -> torch.Tensor:
    """Mean next-token cross-entropy over every real token (the model shifts labels itself)."""
    return model(input_ids=input_ids, labels=labels).loss


def corrupt(canvas: torch.Tensor, vocab_size: int, generator: torch.Generator) -> torch.Tensor:
    """Replace each token with a uniformly random one with probability t, t drawn per example."""
    t = torch.rand((canvas.shape[0], 1), generator=generator)
    noise = torch.randint(vocab_size, canvas.shape, generator=generator)
    return torch.where(torch.rand(canvas.shape, generator=generator) < t, noise, canvas)


def diffusion_loss(
    model: Any,  # a DiffusionGemmaForBlockDiffusion
    context: torch.Tensor,
    canvas: torch.Tensor,
    generator: torch.Generator,
    self_condition: bool,
) -> torch.Tensor:
    """Cross-entropy of the clean canvas given the context and its corrupted copy."""
    device = next(model.parameters()).device
    noisy = corrupt(canvas, model.config.text_config.vocab_size, generator).to(device)
    context, canvas = context.to(device), canvas.to(device)
    self_conditioning_logits = None
    if self_condition:
        with torch.no_grad():
            self_conditioning_logits = model(input_ids=context, decoder_input_ids=noisy).logits
    logits = model(input_ids=context, decoder_input_ids=noisy, self_conditioning_logits=self_conditioning_logits).logits
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), canvas.reshape(-1))
