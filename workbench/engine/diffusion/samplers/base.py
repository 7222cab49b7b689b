"""What every sampler is: a rule that, after one decoder pass, picks the positions that keep a token.

A sampler sees the per-position entropy of this step's (tempered) distribution, the model's own
probability of the token drawn there (its confidence) and the set of positions already locked, and
returns the positions that hold a real token after the step. The scheduler fills every other
position with fresh uniform noise, because the models here were trained on uniform-state corruption
(there is no mask token to put there instead). A sampler that `locks_committed` never gives a
committed position back; one that does not may renoise it later.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch


class Sampler(ABC):
    locks_committed: bool

    @abstractmethod
    def accept(
        self, entropy: torch.Tensor, confidence: torch.Tensor, locked: torch.Tensor, step: int, steps: int
    ) -> torch.Tensor:
        """Boolean mask (canvas shape) of positions holding a real token after this step (1-based)."""


class LockingSampler(Sampler):
    """Base of the samplers that commit tokens for good, ranked by confidence above a threshold."""

    locks_committed = True

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    @staticmethod
    def most_confident_open(confidence: torch.Tensor, locked: torch.Tensor, count: int) -> torch.Tensor:
        """Mask of the `count` most confident positions that are not locked yet."""
        chosen = torch.zeros_like(locked)
        if count <= 0:
            return chosen
        open_confidence = confidence.masked_fill(locked, -1.0)
        top = torch.topk(open_confidence, k=count, dim=-1).indices
        return chosen.scatter(-1, top, True)
