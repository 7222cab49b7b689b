"""Commit a cumulative quota ceil(k * L / N) of the most confident positions by step k, plus any above
a confidence threshold; committed tokens are locked, so the canvas is complete at step N at the
latest (the behaviour of diffusers' BlockRefinementScheduler)."""

from __future__ import annotations

import math

import torch

from workbench.engine.diffusion.samplers.base import LockingSampler
from workbench.engine.diffusion.samplers.registry import register_sampler


@register_sampler(
    "quota",
    rank=1,
    parameters=("threshold",),
    help="commit a growing quota of the most confident positions each step (all of them by the "
    "last step) plus any above threshold; committed tokens are locked (like diffusers' BlockRefinementScheduler)",
)
class QuotaSampler(LockingSampler):
    def accept(
        self, entropy: torch.Tensor, confidence: torch.Tensor, locked: torch.Tensor, step: int, steps: int
    ) -> torch.Tensor:
        canvas_length = locked.shape[-1]
        quota = min(canvas_length, math.ceil(step * canvas_length / steps))
        missing = quota - int(locked.sum())
        above = (confidence > self.threshold) & ~locked
        return locked | above | self.most_confident_open(confidence, locked, missing)
