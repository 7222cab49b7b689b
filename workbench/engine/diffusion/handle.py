"""The diffusion model handle: DiffusionGemma's knobs on top of the shared `ModelHandle`.

It adds what only block diffusion has: a canvas length (`block_size`, with a note when the model
was not trained with it), a step budget, a sampler, early exit, and the model's own temperature
schedule (t_max -> t_min, resolved into the settings from its generation config). The loop itself
is `workbench.engine.diffusion.loop`.
"""

from __future__ import annotations

import threading
from typing import Any

import torch

from workbench.engine.diffusion.loop import generate_blocks
from workbench.engine.fast_path import FastRun
from workbench.engine.generator import SettingsNote, StepCallback
from workbench.engine.handle import ModelHandle
from workbench.engine.result import DenoisingStep
from workbench.engine.run_state import RunState
from workbench.engine.settings import SCHEDULE, DiffusionSettings, GenerationSettings


class BlockSizeWarning(SettingsNote):
    """The canvas length differs from every length the model was trained with."""


class DiffusionModel(ModelHandle[DiffusionSettings]):
    kind = "diffusion"
    settings_type = DiffusionSettings

    def notes(self, settings: GenerationSettings) -> list[SettingsNote]:
        if not isinstance(settings, DiffusionSettings):  # another kind's settings: generate() refuses them
            return []
        trained = self.limits.trained_block_sizes or (self.model.config.canvas_length,)
        if settings.block_size in trained:
            return []
        return [
            BlockSizeWarning(
                f"block_size={settings.block_size}: {self.name!r} was trained with canvas lengths "
                f"{list(trained)}; other lengths run but quality may drop"
            )
        ]

    def _max_new_tokens_for(self, prompt_tokens: int, settings: DiffusionSettings) -> int:
        # Every canvas is denoised whole, so the context must hold whole canvases.
        room, block = self.limits.context_length - prompt_tokens, settings.block_size
        return (room // block) * block

    def _length_note(self, settings: DiffusionSettings) -> str:
        return f", in whole canvases of block_size={settings.block_size}"

    def _recorded_settings(self, settings: DiffusionSettings) -> dict[str, Any]:
        recorded = settings.to_dict()
        if settings.temperature != SCHEDULE:  # a constant temperature: the schedule played no part
            recorded.pop("t_min", None), recorded.pop("t_max", None)
        recorded["canvases"] = settings.canvases
        return recorded

    def _run_loop(
        self,
        prompt_ids: torch.Tensor,
        settings: DiffusionSettings,
        run: RunState,
        generator: torch.Generator,
        callback: StepCallback | None,
        stop: threading.Event | None,
        fast: FastRun | None,
    ) -> None:
        def on_step(step: DenoisingStep) -> None:
            self._emit(run, callback, step)

        generate_blocks(
            self.model,
            prompt_ids,
            settings,
            run,
            eos_ids=self.eos_ids,
            generator=generator,
            on_step=on_step if callback is not None else None,
            stop=stop,
            fast=fast,
        )

    def _fast_path_shape(self, prompt_ids: torch.Tensor, settings: DiffusionSettings) -> tuple[int, int | None]:
        # The encoder caches the prompt and every canvas but the last; the decoder reads one canvas past that.
        return prompt_ids.shape[1] + (settings.canvases - 1) * settings.block_size, settings.block_size

    def _run_telemetry(self, run: RunState, fast: FastRun | None) -> dict[str, Any]:
        return {**super()._run_telemetry(run, fast), "trace_s": run.trace_s}
