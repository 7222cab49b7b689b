"""Samplers: after one decoder pass, which canvas positions to accept (or commit for good).

One file each, registered by name (`registry`): `entropy_bound` (DiffusionGemma's, nothing locked),
`quota` (cumulative quota plus a threshold, locked; diffusers' BlockRefinementScheduler),
`confidence` (threshold, at least one per step, locked; Fast-dLLM). `base` says what a sampler is.
A new sampler is a new file here that applies `@register_sampler`.
"""

# The shipped ones first, in the order every list shows them (DiffusionGemma's own first); any other
# file here is found and registered after them on the first look-up.
from workbench.engine.diffusion.samplers.base import LockingSampler, Sampler
from workbench.engine.diffusion.samplers.registry import make_sampler, register_sampler, sampler_choices, samplers

__all__ = ["LockingSampler", "Sampler", "make_sampler", "register_sampler", "sampler_choices", "samplers"]
