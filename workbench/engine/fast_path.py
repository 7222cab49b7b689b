"""The fast path (`compile=True`): a static KV cache and a compiled forward, or eager with the reason.

A run with `compile=True` gets a pre-allocated (static) KV cache, so the per-token (autoregressive)
or per-step (diffusion decoder) forward sees the same shapes every time, and that forward compiled
by `torch.compile` (inductor on a CPU; "reduce-overhead", i.e. CUDA graphs, on a GPU), as
transformers' own static-cache generation and gpt-fast do. Only the model call is compiled: token
choice, the sampler, the trace and the clocks stay eager, in the loops, so they read the same with
the fast path on or off.

`FastPath` (one per handle) keeps what is worth keeping between runs: the compiled forwards
(keyed by cache length, canvas length and torch's thread count), the static caches, and which
fallbacks it has warned about. `FastPath.start()` prepares one run before its clock starts: it
compiles and warms up every variant the run's steps will take, timing both
(`FastPathReport.compile_s`, `warmup_s`, reported in the result's telemetry and never inside
tokens/s); a step that still compiles mid-run is noted in the report. When compiling is not
possible (an unsupported device or dtype, no C++ compiler for inductor, a diffusion run longer
than the model's sliding window, a compile error, another run holding the handle's cache) the run
goes eager, the reason is recorded in the result, and a `FastPathFallback` warning says so once
per handle and reason.

Left out: compiling the sampler and the prefill (both run once per canvas or per run, at changing
shapes), dynamic-shape graphs, batching.
"""

from __future__ import annotations

import os
import shutil
import threading
import types
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from transformers import StaticCache

from workbench.engine import transformers_adapter as adapter
from workbench.engine.clock import now

BACKEND = "inductor"  # torch.compile's backend; a module attribute so a test can make compiling fail for real
MIN_CACHE = 64  # static caches come in powers of two from here, so nearby run lengths share one graph
CPU_DTYPES = (torch.float32, torch.bfloat16)  # what inductor's CPU code generation is used with here


class FastPathFallback(UserWarning):
    """`compile=True` was asked for but this run (and others like it) runs eager; says why."""


@dataclass
class FastPathReport:
    """What the fast path did for one run (telemetry["fast_path"] of its result)."""

    requested: bool
    used: bool = False
    reason: str | None = None  # why the run went eager (None when it did not, or was not asked to)
    cache_length: int | None = None  # positions of the static cache
    canvas_length: int | None = None  # diffusion: the decoder's canvas (the compiled graph's shape)
    compile_s: float = 0.0  # compiling the graphs this run needed (0 when an earlier run compiled them)
    warmup_s: float = 0.0  # the warm-up passes after compiling (CUDA graphs are recorded here)
    backend: str | None = None
    mode: str | None = None
    note: str | None = None  # something that affected this run's timing (a mid-run compile)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cannot_compile(device: torch.device, dtype: torch.dtype) -> str | None:
    """Why a model on `device` in `dtype` cannot take the fast path here, or None if it can."""
    if device.type not in ("cpu", "cuda"):
        return f"torch.compile is used on cpu and cuda devices only, not {device.type}"
    if device.type == "cpu" and dtype not in CPU_DTYPES:
        return f"{str(dtype).removeprefix('torch.')} weights on the CPU (inductor is used with float32 and bfloat16)"
    if device.type == "cpu" and c_compiler() is None:
        named = os.environ.get("CXX")
        return (
            f"no C++ compiler for inductor ({'CXX=' + named + ' is not found' if named else 'install g++ or set CXX'})"
        )
    return None


def c_compiler() -> str | None:
    """The C++ compiler inductor would use on the CPU (CXX if set, else g++, c++, clang++), or None."""
    named = os.environ.get("CXX")
    candidates = (named,) if named else ("g++", "c++", "clang++")
    return next((found for found in map(shutil.which, candidates) if found), None)


def cache_length(needed: int, limit: int) -> int:
    """Static cache size for a run needing `needed` positions: the next power of two from MIN_CACHE, capped at `limit`."""
    size = MIN_CACHE
    while size < needed:
        size *= 2
    return max(needed, min(size, limit))


class FastPath:
    """One handle's compiled forwards, static caches and warnings given (see the module docstring)."""

    def __init__(self, model: adapter.Model, name: str) -> None:
        self.model, self.name = model, name
        self._compiled: dict[tuple[Any, ...], Callable[..., torch.Tensor]] = {}
        self._caches: dict[int, StaticCache] = {}
        self._failed: dict[tuple[Any, ...], str] = {}  # a shape that failed to compile is not retried each run
        self._warned: set[str] = set()
        self._masks: dict[tuple[int, int], dict[str, Any]] = {}  # (id of a static cache, tokens seen) -> its masks
        self._lock = threading.Lock()  # one run at a time may use the static cache

    def start(self, kind: str, prompt_tokens: int, positions: int, canvas: int | None) -> FastRun:
        """Prepare one run (compile, warm up) before its clock starts; eager with a reason if it cannot.

        `positions`: how many tokens the run writes into the cache at most (prompt included);
        `canvas`: the diffusion decoder's canvas length (None for autoregressive runs)."""
        report = FastPathReport(requested=True, canvas_length=canvas)
        device, dtype = self.model.device, self.model.dtype
        limit = self.model.config.get_text_config(decoder=True).max_position_embeddings
        window = adapter.sliding_window(self.model)
        # DiffusionGemma's decoder appends the canvas after the cached positions; a sliding layer of a
        # static cache that has started to roll has no room for it, so a diffusion run stays in the window.
        in_window = window if canvas is not None else None
        length = cache_length(positions, max(min(limit, in_window or limit), positions))
        reason = cannot_compile(device, dtype)
        if reason is None and in_window is not None and length > in_window:
            reason = f"the run needs {length} cache positions, more than the sliding window of {window}"
        if reason is None and not self._lock.acquire(blocking=False):
            reason = "another run on this model is using its static cache"
        if reason is not None:
            return self._eager(report, reason)
        report.cache_length, report.backend, report.mode = length, BACKEND, _mode(device)
        # An autoregressive run on a cache longer than the window may fill the window, where the
        # sliding layers start to roll: the warm-up goes there too (see _WarmUp).
        rolls_at = window if canvas is None and window is not None and length > window else None
        # Inductor's CPU kernels are built for the thread count of their compile (dynamo guards on
        # it), so a `load` that changed it since makes this a new shape, compiled and warmed up here.
        key = (kind, length, canvas, str(device), dtype, torch.get_num_threads())
        try:
            cache = self._cache(length)
            if key in self._failed:
                raise _KnownFailure(self._failed[key])
            if key not in self._compiled:
                self._compiled[key] = self._compile(kind, cache, prompt_tokens, canvas, rolls_at, report)
        except Exception as error:  # any compile failure: the run goes eager, the reason is kept
            self._lock.release()
            why = str(error) if isinstance(error, _KnownFailure) else _compile_error(error)
            self._failed[key] = why
            return self._eager(report, why)
        report.used = True
        _reset(cache)
        return FastRun(self, report, cache, self._compiled[key], _STEPS[kind])

    def decode_masks(self, cache: StaticCache, positions: torch.Tensor, seen: int) -> dict[str, Any]:
        """The attention masks of an autoregressive decode step, built once per (cache, tokens seen).

        After a reset, a static cache's masks at a given fill level are always the same, and building
        them costs ~0.2 ms a token here (5% of a step), so runs after the first reuse them."""
        key = (id(cache), seen)  # caches live as long as this FastPath (self._caches), so ids stay theirs
        if key not in self._masks:
            self._masks[key] = adapter.causal_lm_masks(self.model, cache, positions, seen)
        return self._masks[key]

    def _eager(self, report: FastPathReport, reason: str) -> FastRun:
        report.reason = reason
        if reason not in self._warned:
            self._warned.add(reason)
            warnings.warn(FastPathFallback(f"{self.name!r} runs eager, not compiled: {reason}"), stacklevel=4)
        return FastRun(self, report, None, None)

    def _cache(self, length: int) -> StaticCache:
        if length not in self._caches:
            self._caches[length] = adapter.static_cache(self.model, length)
        return self._caches[length]

    def _compile(
        self,
        kind: str,
        cache: StaticCache,
        prompt_tokens: int,
        canvas: int | None,
        rolls_at: int | None,
        report: FastPathReport,
    ) -> Callable[..., torch.Tensor]:
        """Compile the per-step forward for this shape, then run it until no pass compiles again."""
        started = now(self.model.device)
        # dynamic=None: the autoregressive graph is compiled once static, then once with the cache's
        # fill level as a symbol (transformers' sliding cache layers keep it as a Python number).
        compiled = torch.compile(
            _own_code(_STEPS[kind]), backend=BACKEND, mode=_mode(self.model.device), fullgraph=True
        )
        warm = _WarmUp(self.model, cache, prompt_tokens, canvas, rolls_at)
        for _ in range(2):  # the first pass compiles; the second may compile again (see above)
            warm.step(compiled)
        report.compile_s = now(self.model.device) - started
        started = now(self.model.device)
        warm.step(compiled)
        report.warmup_s = now(self.model.device) - started
        return compiled


class FastRun:
    """The fast path of one run: its static cache and compiled step, or neither (eager)."""

    def __init__(
        self,
        owner: FastPath,
        report: FastPathReport,
        cache: StaticCache | None,
        compiled: Callable[..., torch.Tensor] | None,
        eager: Callable[..., torch.Tensor] | None = None,
    ) -> None:
        self.owner, self.report, self.cache, self.compiled, self.eager = owner, report, cache, compiled, eager

    @property
    def used(self) -> bool:
        return self.cache is not None

    def call(self, *arguments: Any) -> torch.Tensor:
        """The compiled step on `arguments`; if it fails mid-run, the eager one (same cache) from then on."""
        if self.compiled is not None:
            try:
                if self.report.mode == "reduce-overhead":
                    torch.compiler.cudagraph_mark_step_begin()  # a new step: earlier replays' outputs may be overwritten
                logits = self._compiled_step(arguments)
                # CUDA graphs reuse their output buffer on the next replay: keep this step's logits.
                return logits.clone() if self.report.mode == "reduce-overhead" else logits
            except Exception as error:
                self.report.reason = f"went eager mid-run: {_compile_error(error)}"
                self.compiled = None
                warnings.warn(FastPathFallback(f"{self.owner.name!r} {self.report.reason}"), stacklevel=3)
        assert self.eager is not None  # set whenever the run has a static cache
        return self.eager(self.owner.model, *arguments)

    def _compiled_step(self, arguments: tuple[Any, ...]) -> torch.Tensor:
        """The compiled step, checking only the guards that tell its compiled variants apart.

        The warm-up ran every shape a run takes, so re-checking all of dynamo's guards each step
        (~0.35 ms of a 3 ms token here) buys nothing. Should a step still need a variant the warm-up
        did not make, torch refuses rather than guess; the step then compiles it with the full
        checks, and the report says that this run's time includes that compile."""
        assert self.compiled is not None
        with torch.compiler.set_stance(skip_guard_eval_unsafe=True):
            try:
                return self.compiled(self.owner.model, *arguments)
            except RuntimeError as error:
                if "skip_guard_eval_unsafe" not in str(error):
                    raise
        self.report.note = (
            "compiled again mid-run (a shape the warm-up did not cover): that compile is in this run's time"
        )
        return self.compiled(self.owner.model, *arguments)

    def decode_masks(self, positions: torch.Tensor, seen: int) -> dict[str, Any]:
        """The masks of an autoregressive decode step over this run's static cache (see `FastPath.decode_masks`)."""
        assert self.cache is not None
        return self.owner.decode_masks(self.cache, positions, seen)

    def finish(self) -> None:
        """Hand the static cache back (the next run on the handle may use it)."""
        if self.cache is not None:
            self.cache = None
            self.owner._lock.release()


def _causal_step(
    model: adapter.Model, input_ids: torch.Tensor, cache: StaticCache, positions: torch.Tensor, masks: dict[str, Any]
) -> torch.Tensor:
    return adapter.causal_lm_logits(model, input_ids, cache, positions, masks)


def _denoise_step(
    model: adapter.Model,
    canvas: torch.Tensor,
    self_conditioning: torch.Tensor | None,
    masks: dict[str, Any],
    cache: StaticCache,
    positions: torch.Tensor,
) -> torch.Tensor:
    return adapter.denoise_logits(model, canvas, self_conditioning, masks, cache, positions)


_STEPS: dict[str, Callable[..., torch.Tensor]] = {"autoregressive": _causal_step, "diffusion": _denoise_step}


class _WarmUp:
    """Passes shaped like the run's (a prompt of dummy tokens, then steps) to compile and warm the graph.

    Autoregressive: besides the steps after the prompt, steps after a prompt that fills the sliding
    window (`rolls_at`, when the cache is longer than it): there transformers' sliding layers start
    to roll (another branch, another compiled variant), and a run on this cache may get that far."""

    def __init__(
        self, model: adapter.Model, cache: StaticCache, prompt_tokens: int, canvas: int | None, rolls_at: int | None
    ) -> None:
        self.model, self.cache, self.prompt_tokens, self.canvas = model, cache, prompt_tokens, canvas
        self.device = model.device
        self.fills = [prompt_tokens]
        if rolls_at is not None and prompt_tokens < rolls_at:
            self.fills.append(rolls_at)

    def step(self, compiled: Callable[..., torch.Tensor]) -> None:
        if self.canvas is None:
            for filled in self.fills:
                self._decode_after(filled, compiled)
            return
        _reset(self.cache)
        prompt = torch.zeros((1, self.prompt_tokens), dtype=torch.long, device=self.device)
        positions = torch.arange(self.prompt_tokens, device=self.device).unsqueeze(0)
        attention = torch.ones((1, self.prompt_tokens), dtype=torch.bool, device=self.device)
        adapter.encode_prefix(self.model, prompt, attention, self.cache, positions.int())
        attention = torch.nn.functional.pad(attention, (0, self.canvas), value=True)
        masks = adapter.denoise_masks(self.model, self.cache, attention, self.canvas)
        canvas = torch.zeros((1, self.canvas), dtype=torch.long, device=self.device)
        at = torch.arange(self.prompt_tokens, self.prompt_tokens + self.canvas, device=self.device).int().unsqueeze(0)
        logits = compiled(self.model, canvas, None, masks, self.cache, at)  # step 1 has no self-conditioning
        compiled(self.model, canvas, logits.clone(), masks, self.cache, at)

    def _decode_after(self, filled: int, compiled: Callable[..., torch.Tensor]) -> None:
        """A prompt of `filled` dummy tokens (eager), then two decode steps through `compiled`."""
        _reset(self.cache)
        prompt = torch.zeros((1, filled), dtype=torch.long, device=self.device)
        adapter.causal_lm_logits(self.model, prompt, self.cache, torch.arange(filled, device=self.device).unsqueeze(0))
        # A token of its own, shaped and strided like the run's (a slice of the prompt has the
        # prompt's strides, and dynamo would compile again at the run's first step, inside its time).
        token = torch.zeros((1, 1), dtype=torch.long, device=self.device)
        for seen in (filled + 1, filled + 2):
            at = torch.tensor([[seen - 1]], device=self.device)
            compiled(self.model, token, self.cache, at, adapter.causal_lm_masks(self.model, self.cache, at, seen))


class _KnownFailure(Exception):
    pass


def _own_code(step: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """`step` with a code object of its own, so that this compile has a dynamo cache of its own.

    Dynamo keeps compiled variants per code object. Shared, one handle's run would search (and,
    with the guard checks cut short, trip over) variants compiled for other handles or under other
    global state, such as another thread count set by a later `load`, and all handles together
    would share one recompile limit."""
    return types.FunctionType(step.__code__.replace(), step.__globals__, step.__name__)


def _mode(device: torch.device) -> str | None:
    return "reduce-overhead" if device.type == "cuda" else None


def _reset(cache: StaticCache) -> None:
    with torch.inference_mode():
        cache.reset()


def _compile_error(error: BaseException) -> str:
    first_line = (str(error).strip().splitlines() or [""])[0][:300]
    return f"compile error: {type(error).__name__}: {first_line}"
