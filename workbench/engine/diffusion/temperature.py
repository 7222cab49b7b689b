"""The temperature at each denoising step.

DiffusionGemma anneals linearly from t_max at the first step to t_min near the last, indexed by the
number of steps *remaining* (N at the first step, 1 at the last). A constant temperature is the
other choice; 0 means "take the argmax" and is handled by the loop, not by dividing by zero.
"""

from __future__ import annotations

import torch

from workbench.engine.settings import SCHEDULE


def temperature_at(temperature: float | str, remaining: int, steps: int, t_min: float, t_max: float) -> float:
    """Temperature for the step with `remaining` steps left (steps..1) out of `steps`."""
    if temperature != SCHEDULE:
        return float(temperature)
    # float32 arithmetic on purpose: transformers computes the schedule on an int32 step tensor,
    # and matching its rounding keeps our sampled tokens identical to its generate() for a seed.
    fraction = torch.tensor(remaining, dtype=torch.int32) / steps
    return float(t_min + (t_max - t_min) * fraction)
