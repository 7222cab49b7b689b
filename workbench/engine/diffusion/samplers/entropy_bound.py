"""DiffusionGemma's sampler: accept the lowest-entropy positions while their summed entropy minus the
largest stays within a bound, an upper bound on how much the accepted tokens could depend on each
other. Nothing is locked: a position accepted now may be renoised at a later step."""

from __future__ import annotations

import torch

from workbench.engine.diffusion.samplers.base import Sampler
from workbench.engine.diffusion.samplers.registry import register_sampler


@register_sampler(
    "entropy-bound",
    rank=0,
    parameters=("entropy_bound",),
    help="accept the lowest-entropy positions while their summed entropy minus the largest "
    "stays under entropy_bound; renoise the rest (DiffusionGemma's own sampler; nothing is locked)",
)
class EntropyBoundSampler(Sampler):
    locks_committed = False

    def __init__(self, entropy_bound: float) -> None:
        self.entropy_bound = entropy_bound

    def accept(
        self, entropy: torch.Tensor, confidence: torch.Tensor, locked: torch.Tensor, step: int, steps: int
    ) -> torch.Tensor:
        sorted_entropy, order = torch.sort(entropy, dim=-1)
        # The sorted entropy is also the running maximum, so cumsum - sorted = sum of all but the largest.
        within_bound = torch.cumsum(sorted_entropy, dim=-1) - sorted_entropy <= self.entropy_bound
        return torch.zeros_like(within_bound).scatter(-1, order, within_bound)
