"""Samplers: after one decoder pass, which canvas positions to accept (or commit for good).

Every sampler sees the per-position entropy and confidence of this step's distribution and the set
of positions already locked, and returns the positions that hold a real token after the step. The
loop fills every other position with fresh uniform noise, because the models here were trained on
uniform-state corruption (there is no mask token to put there instead).

- `EntropyBoundSampler` (DiffusionGemma's): accept the lowest-entropy positions while their summed
  entropy minus the largest stays within a bound - an upper bound on how much the accepted tokens
  could depend on each other. Nothing is locked: a position accepted now may be renoised later.
- `QuotaSampler`: commit a cumulative quota ceil(k * L / N) of the most confident positions by step k,
  plus any above a confidence threshold; committed tokens are locked, so the canvas is complete at
  step N at the latest (the behaviour of diffusers' BlockRefinementScheduler).
- `ConfidenceSampler`: commit every position above the threshold, at least one per step, locked
  (Fast-dLLM's parallel decoding rule).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch

from workbench.settings import GenerationSettings


class Sampler(ABC):
    locks_committed: bool

    @abstractmethod
    def accept(self, entropy: torch.Tensor, confidence: torch.Tensor, locked: torch.Tensor, step: int, steps: int) -> torch.Tensor:
        """Boolean mask (canvas shape) of positions holding a real token after this step (1-based)."""


class EntropyBoundSampler(Sampler):
    locks_committed = False

    def __init__(self, entropy_bound: float) -> None:
        self.entropy_bound = entropy_bound

    def accept(self, entropy: torch.Tensor, confidence: torch.Tensor, locked: torch.Tensor, step: int, steps: int) -> torch.Tensor:
        sorted_entropy, order = torch.sort(entropy, dim=-1)
        # The sorted entropy is also the running maximum, so cumsum - sorted = sum of all but the largest.
        within_bound = torch.cumsum(sorted_entropy, dim=-1) - sorted_entropy <= self.entropy_bound
        return torch.zeros_like(within_bound).scatter(-1, order, within_bound)


class _LockingSampler(Sampler):
    locks_committed = True

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    def _most_confident_open(self, confidence: torch.Tensor, locked: torch.Tensor, count: int) -> torch.Tensor:
        """Mask of the `count` most confident positions that are not locked yet."""
        chosen = torch.zeros_like(locked)
        if count <= 0:
            return chosen
        open_confidence = confidence.masked_fill(locked, -1.0)
        top = torch.topk(open_confidence, k=count, dim=-1).indices
        return chosen.scatter(-1, top, True)


class QuotaSampler(_LockingSampler):
    def accept(self, entropy: torch.Tensor, confidence: torch.Tensor, locked: torch.Tensor, step: int, steps: int) -> torch.Tensor:
        canvas_length = locked.shape[-1]
        quota = min(canvas_length, math.ceil(step * canvas_length / steps))
        missing = quota - int(locked.sum())
        above = (confidence > self.threshold) & ~locked
        return locked | above | self._most_confident_open(confidence, locked, missing)


class ConfidenceSampler(_LockingSampler):
    def accept(self, entropy: torch.Tensor, confidence: torch.Tensor, locked: torch.Tensor, step: int, steps: int) -> torch.Tensor:
        above = (confidence > self.threshold) & ~locked
        at_least_one = 0 if bool(above.any()) or bool(locked.all()) else 1
        return locked | above | self._most_confident_open(confidence, locked, at_least_one)


def make_sampler(settings: GenerationSettings) -> Sampler:
    if settings.sampler == "entropy-bound":
        return EntropyBoundSampler(settings.entropy_bound)
    if settings.sampler == "quota":
        return QuotaSampler(settings.threshold)
    return ConfidenceSampler(settings.threshold)
