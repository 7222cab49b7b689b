"""Guardrails on block output: where an output check can run, what it costs, and what it misses.

A check is any callable `text -> bool` (True = the text may be shown). Two ship here: `Blocklist`
(no listed word appears) and `ends_with_sentence` (the text ends with "." or "!": a format rule a
post-processor would enforce). `guard_run(result, tokenizer, check)` replays a finished result the
way a deployment would check it and times every call to the check:

- diffusion: once per committed canvas, on the text committed so far (a canvas is the natural unit:
  nothing in it is final before it is whole);
- autoregressive: `unit="token"` after every token, or `unit="sentence"` after each sentence ends.

It also counts what a user saw before the check ran: in a canvas view every step's accepted draft
tokens are on screen before the canvas commits and gets checked; per-token checking leaves nothing
unchecked, per-sentence checking leaves the words of the sentence in progress. For a `Blocklist`,
`draft_only_hits` lists canvases whose drafts showed a blocked word the committed text does not
have: a per-token filter over drafts would flag them, a canvas filter never sees them.
Each call to the check runs in a worker thread under a deadline (`check_timeout_s`, 10 s by
default): a check that never returns is reported as failed with the reason (`GuardReport.problem`)
and the units after it are not checked, instead of blocking for ever. A check must return a bool;
anything else (a string, None, a dict) is refused rather than counted by its truthiness, and a
diffusion result without its trace is refused: what a canvas view showed cannot be counted without it.
Left out: checks that rewrite text, and the latency of real classifiers (pass one in as `check`).
"""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from workbench.checks import check_float
from workbench.engine.result import GenerationResult
from workbench.errors import InvalidSettingError
from workbench.evaluation.positions import canvas_size
from workbench.evaluation.registry import Inputs, register_evaluation

Check = Callable[[str], bool]
Unit = Literal["canvas", "token", "sentence"]
_UNITS: dict[str, tuple[Unit, ...]] = {"diffusion": ("canvas",), "autoregressive": ("token", "sentence")}
_WORD = re.compile(r"[A-Za-z']+")
CHECK_TIMEOUT_S = 10.0  # one call to a check; a real classifier answers in milliseconds


class Blocklist:
    """Passes text in which none of `words` appears as a whole word (case-insensitive)."""

    def __init__(self, words: Iterable[str]) -> None:
        allowed = "a list of one or more plain words, e.g. ['cat', 'dog']"
        if isinstance(words, (str, bytes)):  # "cat" would become the letters c, a, t
            raise InvalidSettingError("words", words, allowed + ", not one string")
        try:
            given = list(words)
        except TypeError:
            raise InvalidSettingError("words", words, allowed) from None
        if not given or not all(isinstance(w, str) and _WORD.fullmatch(w) for w in given):
            raise InvalidSettingError("words", given, allowed)
        self.words = frozenset(w.lower() for w in given)

    def hits(self, text: str) -> set[str]:
        return {w for w in (m.group().lower() for m in _WORD.finditer(text)) if w in self.words}

    def __call__(self, text: str) -> bool:
        return not self.hits(text)

    def __repr__(self) -> str:
        return f"Blocklist({sorted(self.words)})"


def ends_with_sentence(text: str) -> bool:
    """Passes text that ends with a full stop or an exclamation mark (trailing spaces ignored)."""
    return text.rstrip().endswith((".", "!"))


@dataclass
class GuardReport:
    """What checking one result cost and what it let through before it ran."""

    kind: str
    unit: str  # "canvas", "token" or "sentence"
    checks_run: int
    failed: int  # units whose check said no
    check_s: float  # total time spent in the check
    generation_s: float
    shown_unchecked_tokens: int  # token positions shown on screen before a check covered them
    final_tokens: int
    draft_only_hits: list[dict[str, Any]] = field(default_factory=list)
    problem: str | None = None  # why checking stopped early (a check past its deadline), else None

    @property
    def added_latency_share(self) -> float | None:
        return self.check_s / self.generation_s if self.generation_s > 0 else None

    def as_dict(self) -> dict[str, Any]:
        return {**{k: v for k, v in self.__dict__.items() if k not in ("draft_only_hits", "problem")},
                "draft_only_hits": len(self.draft_only_hits), "added_latency_share": self.added_latency_share,
                "check_ms_per_call": 1000 * self.check_s / self.checks_run if self.checks_run else None}  # fmt: skip


def guard_run(
    result: GenerationResult,
    tokenizer: Any,
    check: Check,
    unit: Literal["canvas", "token", "sentence"] | None = None,
    *,
    check_timeout_s: float = CHECK_TIMEOUT_S,
) -> GuardReport:
    """Replay `result` through `check` at the unit a deployment would use, timing each call; a call
    that takes over `check_timeout_s` seconds counts as failed and ends the replay (`problem` says so)."""
    if not callable(check):
        raise InvalidSettingError("check", check, "a callable taking text and returning True (show) or False")
    check_timeout_s = check_float("check_timeout_s", check_timeout_s, 0.0, 3600.0, low_inclusive=False)
    unit = unit or ("canvas" if result.kind == "diffusion" else "token")
    allowed = ("canvas",) if result.kind == "diffusion" else ("token", "sentence")
    if unit not in allowed:
        raise InvalidSettingError("unit", unit, f"one of {allowed} for a {result.kind} result")
    if result.kind == "diffusion" and result.new_tokens and not result.trace:
        raise InvalidSettingError(
            "result", f"a diffusion result of {result.new_tokens} tokens without a trace",
            "a diffusion result with its trace, as generate() returns it (to_dict() and the store drop it): "
            "the drafts shown before each canvas is checked are counted from it",
        )  # fmt: skip
    ends = _check_points(result, tokenizer, unit)
    runner = _CheckRunner(check, check_timeout_s)
    timings: list[float] = []
    failed, problem = 0, None
    for end in ends:
        passed, seconds = runner.call(tokenizer.decode(result.token_ids[:end], skip_special_tokens=True))
        if passed is None:
            failed += 1
            problem = (
                f"the check did not return within {check_timeout_s:g} s at check {len(timings) + 1} of {len(ends)}; "
                "counted as failed, the rest were not checked (set check_timeout_s to wait longer)"
            )
            break
        timings.append(seconds)
        failed += not passed
    runner.close()
    report = GuardReport(
        kind=result.kind,
        unit=unit,
        checks_run=len(timings) + (problem is not None),
        failed=failed,
        check_s=sum(timings),
        generation_s=result.total_s,
        shown_unchecked_tokens=_shown_unchecked(result, ends, unit),
        final_tokens=result.new_tokens,
        problem=problem,
    )
    if isinstance(check, Blocklist) and result.kind == "diffusion":
        report.draft_only_hits = draft_only_hits(result, tokenizer, check)
    return report


class _CheckRunner:
    """Calls a check in a daemon worker thread, each call under a deadline; times the call itself there."""

    def __init__(self, check: Check, timeout_s: float) -> None:
        self.check, self.timeout_s = check, timeout_s
        self.texts: queue.Queue[str | None] = queue.Queue()
        self.answers: queue.Queue[tuple[Any, float, BaseException | None]] = queue.Queue()
        threading.Thread(target=self._work, name="workbench-guardrail-check", daemon=True).start()

    def _work(self) -> None:
        while (text := self.texts.get()) is not None:
            started = time.perf_counter()
            try:
                verdict, error = self.check(text), None
            except Exception as raised:  # re-raised in the caller's thread, with its traceback
                verdict, error = None, raised
            self.answers.put((verdict, time.perf_counter() - started, error))

    def call(self, text: str) -> tuple[bool | None, float]:
        """(verdict, seconds in the check); (None, deadline) when the check did not return in time."""
        self.texts.put(text)
        try:
            verdict, seconds, error = self.answers.get(timeout=self.timeout_s)
        except queue.Empty:
            return None, self.timeout_s  # the worker is left behind (a daemon): it cannot be stopped
        if error is not None:
            raise error
        if not isinstance(verdict, (bool, np.bool_)):
            self.close()
            raise InvalidSettingError(
                "check", self.check, f"a callable returning True (show) or False; it returned {verdict!r}"
            )
        return bool(verdict), seconds

    def close(self) -> None:
        self.texts.put(None)


def draft_only_hits(result: GenerationResult, tokenizer: Any, blocklist: Blocklist) -> list[dict[str, Any]]:
    """Per canvas: blocked words that some step's draft showed but the committed canvas does not hold."""
    size = canvas_size(result)
    found = []
    for canvas in sorted({s.canvas for s in result.trace}):
        final = blocklist.hits(tokenizer.decode(result.token_ids[canvas * size : (canvas + 1) * size]))
        for step in (s for s in result.trace if s.canvas == canvas):
            shown = [t for t, a in zip(step.tokens, step.accepted) if a]
            only = blocklist.hits(tokenizer.decode(shown, skip_special_tokens=True)) - final
            if only:
                found.append({"canvas": canvas, "step": step.step, "words": sorted(only)})
    return found


def _check_points(result: GenerationResult, tokenizer: Any, unit: str) -> list[int]:
    """Token counts after which the check runs."""
    n = result.new_tokens
    if unit == "canvas":
        size = canvas_size(result)
        return sorted({min(end, n) for end in range(size, n + size, size)}) if n else []
    if unit == "token":
        return list(range(1, n + 1))
    words = [tokenizer.decode([t], skip_special_tokens=True).strip() for t in result.token_ids]
    points = [i + 1 for i, w in enumerate(words) if w.endswith((".", "!"))]
    return points if points and points[-1] == n else points + ([n] if n else [])


def _shown_unchecked(result: GenerationResult, ends: list[int], unit: str) -> int:
    """Token positions on screen before the check that covers them ran."""
    if unit == "canvas":  # a canvas view shows every position a draft accepted, before the canvas commits
        return sum(len({i for s in result.trace if s.canvas == c for i, a in enumerate(s.accepted) if a})
                   for c in {s.canvas for s in result.trace})  # fmt: skip
    # Streamed tokens are shown at once: per token nothing waits; per sentence all but each check point.
    return 0 if unit == "token" else result.new_tokens - len(ends)


def guard_table(results: Sequence[GenerationResult], tokenizer: Any, checks: dict[str, Check]) -> pd.DataFrame:
    """Every check over every result, at each unit its kind allows (diffusion: per canvas; AR: per
    token and per sentence), summed per check, kind and unit."""
    if not checks:
        raise InvalidSettingError("checks", checks, "one or more named checks, e.g. {'blocklist': Blocklist(['cat'])}")
    rows = [
        {"check": name, **guard_run(result, tokenizer, check, unit=unit).as_dict()}
        for name, check in checks.items()
        for result in results
        for unit in _UNITS[result.kind]
    ]
    table = (
        pd.DataFrame(rows)
        .groupby(["check", "kind", "unit"])
        .agg(
            runs=("checks_run", "size"),
            checks_per_run=("checks_run", "mean"),
            check_ms_per_call=("check_ms_per_call", "mean"),
            added_latency_share=("added_latency_share", "mean"),
            shown_unchecked=("shown_unchecked_tokens", "sum"),
            final_tokens=("final_tokens", "sum"),
            draft_only_hits=("draft_only_hits", "sum"),
        )
        .reset_index()
    )
    table["shown_unchecked_per_100_tokens"] = 100 * table["shown_unchecked"] / table["final_tokens"]
    return table


@register_evaluation(
    "guardrails",
    needs=("tokenizer",),
    help="output checks per canvas vs per token / sentence: checks run, added latency, text shown before a check",
)
def guardrails_evaluation(inputs: Inputs, blocklist: Iterable[str] = ()) -> pd.DataFrame:
    checks: dict[str, Check] = {"ends with a sentence": ends_with_sentence}
    if blocklist:
        checks["blocklist"] = Blocklist(blocklist)
    return guard_table(inputs.results, inputs.tokenizer, checks)
