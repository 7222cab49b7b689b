"""Fast-dLLM's parallel decoding rule: commit every position whose confidence is above the
threshold, at least one per step; committed tokens are locked."""

from __future__ import annotations

import torch

from workbench.engine.diffusion.samplers.base import LockingSampler
from workbench.engine.diffusion.samplers.registry import register_sampler


@register_sampler(
    "confidence",
    rank=2,
    parameters=("threshold",),
    help="commit every position whose confidence is above threshold, at least one per step; "
    "committed tokens are locked (Fast-dLLM style)",
)
class ConfidenceSampler(LockingSampler):
    def accept(
        self, entropy: torch.Tensor, confidence: torch.Tensor, locked: torch.Tensor, step: int, steps: int
    ) -> torch.Tensor:
        above = (confidence > self.threshold) & ~locked
        at_least_one = 0 if bool(above.any()) or bool(locked.all()) else 1
        return locked | above | self.most_confident_open(confidence, locked, at_least_one)
