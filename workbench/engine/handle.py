"""A loaded model and the one way to run it: `handle.generate(prompt, **settings)`.

`ModelHandle` does everything both kinds share: checks the settings and the prompt before any work,
seeds a private random generator (so two runs in two threads do not disturb each other or the
global torch seed), times the run, handles a stop request, Ctrl-C and out-of-memory, and turns the
run's record into a `GenerationResult`. Subclasses only supply the loop (`_run_loop`) and their
defaults and limits. With `compile=True` (per run, or `handle.compile = True` for every run) the
fast path (`workbench.engine.fast_path`) is compiled and warmed up before the run's clock starts;
what it did is in the result's `telemetry["fast_path"]`. Left out: batching (batch size is always 1)
and chat templates.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Generic, Literal, TypeVar, cast

import torch

from workbench.engine.fast_path import FastPath, FastRun
from workbench.engine.generator import SettingsNote, StepCallback, start_run
from workbench.engine.result import GenerationResult, StepEvent
from workbench.engine.run_state import RunState
from workbench.engine.settings import (
    DEFAULTS,
    GenerationSettings,
    ModelLimits,
    resolve_settings,
)
from workbench.errors import InvalidSettingError, WorkbenchError

S = TypeVar("S", bound=GenerationSettings)  # the settings dataclass of the handle's kind
PRECISION_OF_DTYPE = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}


class GenerationOutOfMemory(WorkbenchError, MemoryError):
    """The device ran out of memory; the model is still loaded and usable with smaller settings."""


class ModelHandle(ABC, Generic[S]):
    """An in-process model: a `Generator` whose loop runs here (see the module docstring)."""

    kind: ClassVar[Literal["autoregressive", "diffusion"]]
    settings_type: ClassVar[type[GenerationSettings]]
    is_served: ClassVar[bool] = False

    def __init__(
        self,
        name: str,
        model: Any,  # a transformers PreTrainedModel
        tokenizer: Any,
        *,
        source: str,
        load_s: float,
        defaults: dict[str, Any],
        limits: ModelLimits,
    ) -> None:
        self.name = name
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.source = source
        self.load_s = load_s
        self.defaults = {**DEFAULTS[self.kind], **defaults}  # complete: the table, then the model's own
        self.limits = limits
        self.eos_ids = _eos_ids(model, tokenizer)  # a plain attribute: benchmarks may switch EOS off
        # What the weights are stored in; load() sets it for quantized formats, whose tensors still
        # report the compute dtype. Every result records it in its settings.
        self.precision = PRECISION_OF_DTYPE.get(self.dtype, str(self.dtype).removeprefix("torch."))
        self.fast_path = FastPath(self.model, name)  # compiled forwards and static caches, kept between runs

    @property
    def compile(self) -> bool:
        """Whether runs take the fast path unless they say otherwise (`generate(..., compile=...)`)."""
        return bool(self.defaults["compile"])

    @compile.setter
    def compile(self, value: bool) -> None:
        if not isinstance(value, bool):
            raise InvalidSettingError("compile", value, "True or False")
        self.defaults["compile"] = value

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def __repr__(self) -> str:
        stored = "" if self.precision == PRECISION_OF_DTYPE.get(self.dtype) else f", weights {self.precision}"
        return f"<{type(self).__name__} {self.name!r} on {self.device} ({self.dtype}{stored}), {self.parameters / 1e6:.1f}M parameters>"

    def settings(self, **given: Any) -> S:
        """The settings a run with these keywords would use (validated; raises InvalidSettingError).

        Pass the result back as `generate(prompt, settings=...)` to run with it unchecked again."""
        return cast(S, resolve_settings(self.kind, self.defaults, self.limits, **given))

    def notes(self, settings: GenerationSettings) -> list[SettingsNote]:
        """What is worth telling the user about these settings but is no error (none by default)."""
        return []

    def generate(
        self,
        prompt: str,
        *,
        callback: StepCallback | None = None,
        stop: threading.Event | None = None,
        settings: GenerationSettings | None = None,
        **given: Any,
    ) -> GenerationResult:
        """Generate a continuation of `prompt`.

        `callback` is called after every forward pass with a `StepEvent`; `stop`, when set from any
        thread, ends the run at the next step and the partial result comes back marked "stopped".
        Ctrl-C does the same ("interrupted"). Bad settings raise `InvalidSettingError` before any work.
        Settings come as keywords (checked here; `notes()` are shown as warnings) or, already
        resolved by `handle.settings(...)`, as `settings=` (used as they are).
        """
        resolved = cast(S, start_run(self, prompt, callback, stop, settings, given, self.settings_type))
        seed = resolved.seed
        assert seed is not None  # start_run fixes it
        prompt_ids = self._encode_prompt(prompt, resolved)
        generator = torch.Generator(device=self.device).manual_seed(seed)
        run = RunState(device=self.device)
        fast = self._start_fast_path(prompt_ids, resolved) if resolved.compile else None
        run.start()
        try:
            with torch.inference_mode():
                self._run_loop(prompt_ids, resolved, run, generator, callback, stop, fast)
        except KeyboardInterrupt:
            run.finish_reason = "interrupted"
        except torch.OutOfMemoryError as error:
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            raise GenerationOutOfMemory(
                f"{self.device} ran out of memory running {self.name!r} ({error}); the model is still loaded: "
                "try a smaller max_new_tokens or block_size"
            ) from None
        finally:
            if fast is not None:
                fast.finish()
        total_s = run.elapsed()
        return GenerationResult(
            model=self.name,
            kind=self.kind,
            prompt=prompt,
            text=self.tokenizer.decode(run.committed_ids, skip_special_tokens=True),
            token_ids=list(run.committed_ids),
            settings={**self._recorded_settings(resolved), "precision": self.precision},
            finish_reason=run.finish_reason,
            device=str(self.device),
            dtype=str(self.dtype).removeprefix("torch."),
            load_s=self.load_s,
            prefill_s=run.prefill_s,
            time_to_first_token_s=run.time_to_first_token_s,
            total_s=total_s,
            step_times_s=run.step_times_s,
            forward_passes=run.forward_passes,
            prompt_tokens=int(prompt_ids.shape[1]),
            trace=run.trace,
            telemetry=self._run_telemetry(run, fast),
        )

    def _start_fast_path(self, prompt_ids: torch.Tensor, settings: S) -> FastRun:
        with torch.inference_mode():
            return self.fast_path.start(self.kind, prompt_ids.shape[1], *self._fast_path_shape(prompt_ids, settings))

    def _fast_path_shape(self, prompt_ids: torch.Tensor, settings: S) -> tuple[int, int | None]:
        """(cache positions the run writes at most, canvas length or None)."""
        return prompt_ids.shape[1] + settings.max_new_tokens, None

    def _run_telemetry(self, run: RunState, fast: FastRun | None) -> dict[str, Any]:
        return {"fast_path": fast.report.to_dict()} if fast is not None else {}

    def _encode_prompt(self, prompt: str, settings: S) -> torch.Tensor:
        ids = self.tokenizer(prompt, return_tensors="pt")["input_ids"]
        context = self.limits.context_length
        if ids.shape[1] >= context:
            raise InvalidSettingError(
                "prompt", prompt, f"at most {context - 1} tokens for {self.name!r} (this one has {ids.shape[1]})"
            )
        allowed = self._max_new_tokens_for(ids.shape[1], settings)
        if settings.max_new_tokens > allowed:
            raise InvalidSettingError(
                "max_new_tokens",
                settings.max_new_tokens,
                f"at most {allowed} for this prompt: the context of {self.name!r} is {context} tokens "
                f"and the prompt uses {ids.shape[1]}{self._length_note(settings)}",
            )
        return ids.to(self.device)

    def _max_new_tokens_for(self, prompt_tokens: int, settings: S) -> int:
        return self.limits.context_length - prompt_tokens

    def _length_note(self, settings: S) -> str:
        return ""

    def _recorded_settings(self, settings: S) -> dict[str, Any]:
        return settings.to_dict()

    def _emit(self, run: RunState, callback: StepCallback | None, step: Any = None) -> None:
        if callback is not None:
            callback(
                StepEvent(
                    kind=self.kind,
                    forward_passes=run.forward_passes,
                    elapsed_s=run.elapsed(),
                    committed_ids=list(run.committed_ids),
                    time_to_first_token_s=run.time_to_first_token_s,
                    step=step,
                    # Decoded here so every Generator's events carry text (a served one's come as text).
                    text=self.tokenizer.decode(run.committed_ids, skip_special_tokens=True),
                )
            )

    @abstractmethod
    def _run_loop(
        self,
        prompt_ids: torch.Tensor,
        settings: S,
        run: RunState,
        generator: torch.Generator,
        callback: StepCallback | None,
        stop: threading.Event | None,
        fast: FastRun | None,
    ) -> None:
        """Fill `run` with the tokens, timings and trace of one generation (`fast`: the fast path, if asked for)."""


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    """End-of-sequence ids from the generation config (may be a list), else from the tokenizer."""
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if configured is None:
        configured = getattr(tokenizer, "eos_token_id", None)
    if configured is None:
        return set()
    return set(configured) if isinstance(configured, (list, tuple)) else {int(configured)}
