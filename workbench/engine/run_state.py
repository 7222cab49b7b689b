"""The mutable record of one generation while it runs, shared by both loops.

Loops append to it step by step, so whatever happens (a stop request, Ctrl-C, an error) the handle
can still build a result from what was final at that moment. Clock readings synchronise the device
first: on a GPU, kernels run asynchronously and an unsynchronised clock measures only the launch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from workbench.engine.clock import now
from workbench.engine.result import DenoisingStep, FinishReason


@dataclass
class RunState:
    device: torch.device
    started: float = 0.0
    committed_ids: list[int] = field(default_factory=list)
    forward_passes: int = 0
    step_times_s: list[float] = field(default_factory=list)
    trace: list[DenoisingStep] = field(default_factory=list)
    prefill_s: float | None = None  # None until the prompt has been processed (a run stopped before it)
    time_to_first_token_s: float | None = None
    finish_reason: FinishReason = "length"
    trace_s: float = 0.0  # time spent building the trace (diffusion), reported beside the run's total

    def start(self) -> None:
        self.started = now(self.device)

    def elapsed(self) -> float:
        return now(self.device) - self.started

    def mark_prefill_done(self) -> None:
        self.prefill_s = self.elapsed()

    def commit(self, token_ids: list[int], eos_ids: set[int], max_new_tokens: int) -> bool:
        """Append final tokens (cut after EOS and at max_new_tokens); True when generation is over."""
        if self.time_to_first_token_s is None and token_ids:
            self.time_to_first_token_s = self.elapsed()
        for token in token_ids:
            if len(self.committed_ids) >= max_new_tokens:
                self.finish_reason = "length"
                return True
            self.committed_ids.append(token)
            if token in eos_ids:
                self.finish_reason = "eos"
                return True
        if len(self.committed_ids) >= max_new_tokens:
            self.finish_reason = "length"
            return True
        return False
