"""Samplers: after one decoder pass, which canvas positions to accept (or commit for good).

One file each: `entropy_bound` (DiffusionGemma's, nothing locked), `quota` (cumulative quota plus a
threshold, locked; diffusers' BlockRefinementScheduler), `confidence` (threshold, at least one per
step, locked; Fast-dLLM). `base` says what a sampler is. A new sampler is a new file here and one
line in `make_sampler`.
"""

from __future__ import annotations

from workbench.engine.diffusion.samplers.base import LockingSampler, Sampler
from workbench.engine.diffusion.samplers.confidence import ConfidenceSampler
from workbench.engine.diffusion.samplers.entropy_bound import EntropyBoundSampler
from workbench.engine.diffusion.samplers.quota import QuotaSampler
from workbench.engine.settings import GenerationSettings

__all__ = ["ConfidenceSampler", "EntropyBoundSampler", "LockingSampler", "QuotaSampler", "Sampler", "make_sampler"]


def make_sampler(settings: GenerationSettings) -> Sampler:
    bound, threshold = settings.entropy_bound, settings.threshold
    assert bound is not None and threshold is not None, "diffusion settings always carry both"
    if settings.sampler == "entropy-bound":
        return EntropyBoundSampler(bound)
    if settings.sampler == "quota":
        return QuotaSampler(threshold)
    return ConfidenceSampler(threshold)
