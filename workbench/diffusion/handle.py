"""The diffusion model handle: DiffusionGemma's knobs on top of the shared `ModelHandle`.

It adds what only block diffusion has: a canvas length (`block_size`, warned about when the model
was not trained with it), a step budget, a sampler, early exit, and the model's own temperature
schedule (t_max -> t_min from its generation config). The loop itself is `workbench.diffusion.loop`.
"""

from __future__ import annotations

import math
import threading
import warnings
from typing import Any

import torch

from workbench.diffusion.loop import generate_blocks
from workbench.handle import ModelHandle, StepCallback
from workbench.result import DenoisingStep
from workbench.run_state import RunState
from workbench.settings import SCHEDULE, GenerationSettings

DEFAULT_T_MIN, DEFAULT_T_MAX = 0.4, 0.8  # DiffusionGemma's generation-config defaults


class BlockSizeWarning(UserWarning):
    """The canvas length differs from every length the model was trained with."""


class DiffusionModel(ModelHandle):
    kind = "diffusion"

    @property
    def temperature_schedule(self) -> tuple[float, float]:
        """(t_min, t_max) of the model's own schedule."""
        config = getattr(self.model, "generation_config", None)
        t_min = getattr(config, "t_min", None)
        t_max = getattr(config, "t_max", None)
        return (DEFAULT_T_MIN if t_min is None else t_min, DEFAULT_T_MAX if t_max is None else t_max)

    def settings(self, **given: Any) -> GenerationSettings:
        resolved = super().settings(**given)
        trained = self.limits.trained_block_sizes or (self.model.config.canvas_length,)
        if resolved.block_size not in trained:
            warnings.warn(
                f"block_size={resolved.block_size}: {self.name!r} was trained with canvas lengths {list(trained)}; "
                "other lengths run but quality may drop",
                BlockSizeWarning,
                stacklevel=3,
            )
        return resolved

    def _max_new_tokens_for(self, prompt_tokens: int, settings: GenerationSettings) -> int:
        # Every canvas is denoised whole, so the context must hold whole canvases.
        room = self.limits.context_length - prompt_tokens
        return (room // settings.block_size) * settings.block_size

    def _length_note(self, settings: GenerationSettings) -> str:
        return f", in whole canvases of block_size={settings.block_size}"

    def _recorded_settings(self, settings: GenerationSettings) -> dict[str, Any]:
        recorded = settings.to_dict()
        if settings.temperature == SCHEDULE:
            recorded["t_min"], recorded["t_max"] = self.temperature_schedule
        recorded["canvases"] = math.ceil(settings.max_new_tokens / settings.block_size)
        return recorded

    def _run_loop(
        self,
        prompt_ids: torch.Tensor,
        settings: GenerationSettings,
        run: RunState,
        generator: torch.Generator,
        callback: StepCallback | None,
        stop: threading.Event | None,
    ) -> None:
        t_min, t_max = self.temperature_schedule

        def on_step(step: DenoisingStep) -> None:
            self._emit(run, callback, step)

        generate_blocks(
            self.model, prompt_ids, settings, run,
            t_min=t_min, t_max=t_max, eos_ids=self.eos_ids, generator=generator,
            on_step=on_step if callback is not None else None, stop=stop,
        )
