"""When a canvas may stop before its step budget: stable and confident.

DiffusionGemma stops denoising a canvas once its argmax canvas did not change since the previous
step and the mean per-position entropy fell below a threshold (0.005 nats on the model card).
Only a stability window of one step is implemented; longer windows add little on short canvases.
"""

from __future__ import annotations

import torch

CONFIDENCE_THRESHOLD = 0.005  # mean entropy in nats, the model card's default


class StableAndConfident:
    def __init__(self, confidence_threshold: float = CONFIDENCE_THRESHOLD) -> None:
        self.confidence_threshold = confidence_threshold
        self.previous_argmax: torch.Tensor | None = None

    def __call__(self, argmax: torch.Tensor, entropy: torch.Tensor) -> bool:
        stable = self.previous_argmax is not None and bool(torch.equal(self.previous_argmax, argmax))
        self.previous_argmax = argmax
        return stable and float(entropy.mean()) < self.confidence_threshold
