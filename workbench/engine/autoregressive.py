"""Autoregressive generation: one forward pass, one token, over a growing KV cache.

The loop is the textbook one: a prefill pass over the prompt gives the first token; every later pass
feeds only the newest token and reads the rest from the cache. Token choice follows the usual order
(temperature, then top-k, then top-p, then a multinomial draw; temperature 0 = argmax), the same
order transformers' `generate()` uses, so the same seed gives the same tokens. Works with any
transformers causal LM (Gemma 3/4, the tiny models here). With the fast path (`compile=True`) the
cache is static and every pass after the prefill is the compiled one (`workbench.engine.fast_path`);
the loop reads the same. Left out: beam search, repetition penalties.
"""

from __future__ import annotations

import threading

import torch

from workbench.engine import transformers_adapter as adapter
from workbench.engine.fast_path import FastRun
from workbench.engine.generator import StepCallback
from workbench.engine.handle import ModelHandle
from workbench.engine.run_state import RunState
from workbench.engine.settings import AutoregressiveSettings
from workbench.errors import check_finite


def choose_token(logits: torch.Tensor, settings: AutoregressiveSettings, generator: torch.Generator) -> torch.Tensor:
    """Pick the next token from last-position logits of shape (1, vocab)."""
    if settings.temperature == 0:
        return torch.argmax(logits, dim=-1)
    scores = logits / float(settings.temperature)  # AR temperatures are numbers (no schedule)
    if settings.top_k is not None:
        kth_best = torch.topk(scores, min(settings.top_k, scores.shape[-1])).values[..., -1:]
        scores = scores.masked_fill(scores < kth_best, float("-inf"))
    if settings.top_p is not None and settings.top_p < 1.0:
        ascending, order = torch.sort(scores, dim=-1)
        tail_mass = ascending.softmax(dim=-1).cumsum(dim=-1)
        # Drop the least likely tokens whose combined mass stays within 1 - top_p; keep the best one always.
        drop = tail_mass <= 1 - settings.top_p
        drop[..., -1] = False
        scores = scores.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
    probs = torch.softmax(scores, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


class AutoregressiveModel(ModelHandle[AutoregressiveSettings]):
    kind = "autoregressive"
    settings_type = AutoregressiveSettings

    def _run_loop(
        self,
        prompt_ids: torch.Tensor,
        settings: AutoregressiveSettings,
        run: RunState,
        generator: torch.Generator,
        callback: StepCallback | None,
        stop: threading.Event | None,
        fast: FastRun | None,
    ) -> None:
        eos_ids = self.eos_ids
        forward = _StaticForward(self.model, fast) if fast is not None and fast.used else _DynamicForward(self.model)
        feed = prompt_ids
        for index in range(settings.max_new_tokens):
            if stop is not None and stop.is_set():
                run.finish_reason = "stopped"
                return
            step_started = run.elapsed()
            logits = forward(feed)
            run.forward_passes += 1
            check_finite(logits, self.name, run.forward_passes)
            token = choose_token(logits[:, -1, :].float(), settings, generator)
            if index == 0:
                run.mark_prefill_done()  # the first pass reads the whole prompt: timed as prefill, not as a step
            else:
                run.step_times_s.append(run.elapsed() - step_started)
            finished = run.commit([int(token)], eos_ids, settings.max_new_tokens)
            self._emit(run, callback)
            if finished:
                return
            feed = token.view(1, 1)


class _DynamicForward:
    """Eager passes over a cache that grows with every token."""

    def __init__(self, model: adapter.Model) -> None:
        self.model, self.cache = model, adapter.new_cache(model)

    def __call__(self, input_ids: torch.Tensor) -> torch.Tensor:
        return adapter.causal_lm_logits(self.model, input_ids, self.cache)


class _StaticForward:
    """The fast path: the prompt eager into the static cache, then each token through the compiled step."""

    def __init__(self, model: adapter.Model, fast: FastRun) -> None:
        self.model, self.fast, self.seen = model, fast, 0
        assert fast.cache is not None
        self.cache = fast.cache

    def __call__(self, input_ids: torch.Tensor) -> torch.Tensor:
        start, self.seen = self.seen, self.seen + input_ids.shape[1]
        positions = torch.arange(start, self.seen, device=input_ids.device).unsqueeze(0)
        if start == 0:  # the prefill: its length changes from run to run, so it is not compiled
            return adapter.causal_lm_logits(self.model, input_ids, self.cache, positions, None)
        return self.fast.call(input_ids, self.cache, positions, self.fast.decode_masks(positions, self.seen))
