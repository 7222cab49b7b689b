"""The two error types a workbench user sees.

`InvalidSettingError` is raised for any bad input (a knob out of range, an unknown name, an empty
prompt, a device that is not there). Its message always names the parameter, the value given and
what is allowed, so the same one line works in a notebook, in a widget and on the command line.
`ModelUnavailableError` is raised when a model cannot be loaded (not on disk, hub unreachable);
its `ModelDoesNotFitError` when the memory plan says it will not fit, before any download.
`UnsupportedVersionError` is raised at `load()` when an installed library the engine reaches into
(transformers) lies outside the range workbench was tested with.

Both derive from `WorkbenchError`, so callers can catch everything the project raises on purpose
without catching genuine bugs.

`scrub(text, secrets, limit=)` is the one place secrets are removed from text that leaves the process
(messages, results, the store, prints): the API keys in $WORKBENCH_API_KEY / $OPENAI_API_KEY, any
other secret passed in, and the user:password part of URLs. It removes them before it cuts the text
to `limit`, so a cut can never leave part of a key behind; every cut of foreign text goes through it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any

SECRET_VARIABLES = ("WORKBENCH_API_KEY", "OPENAI_API_KEY")  # where an API key for a served model lives
HIDDEN = "[secret hidden]"
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]*@")


class WorkbenchError(Exception):
    """Base class of every error workbench raises on purpose."""


class InvalidSettingError(WorkbenchError, ValueError):
    """A parameter has a value that is not allowed."""

    def __init__(self, parameter: str, value: Any, allowed: str) -> None:
        self.parameter = parameter
        self.value = value
        self.allowed = allowed
        super().__init__(f"{parameter}={_short_repr(value)} is not allowed: {allowed}")


class ModelUnavailableError(WorkbenchError, OSError):
    """A model could not be found or fetched."""


class ModelDoesNotFitError(ModelUnavailableError):
    """The memory plan says the model will not fit the device; raised before anything is downloaded."""

    def __init__(self, plan: Any) -> None:
        self.plan = plan
        advice = "; ".join(plan.suggestions)
        super().__init__(
            f"{plan.model!r} in {plan.precision} {plan.verdict()} ({plan.capacity_source})"
            + (f"; {advice}" if advice else "")
            + "; see workbench.loading.memory.plan() for the parts"
        )


class UnsupportedVersionError(WorkbenchError, RuntimeError):
    """An installed dependency is outside the version range workbench declares and tests."""

    def __init__(self, package: str, installed: str, supported: str) -> None:
        self.package = package
        self.installed = installed
        self.supported = supported
        super().__init__(
            f"{package} {installed} is installed, but workbench is tested with {package}{supported}; "
            f"install a tested version: pip install '{package}{supported}' "
            "(`workbench doctor` lists every version in use)"
        )


class NonFiniteLogitsError(WorkbenchError, ArithmeticError):
    """The model produced NaN or infinite scores: its weights or the number format are broken."""

    def __init__(self, model: str, forward_pass: int, dtype: str) -> None:
        super().__init__(
            f"{model!r} produced NaN or infinite logits at forward pass {forward_pass} ({dtype}); the run was "
            "stopped instead of sampling from them: check the weights, or try float32 if this is float16"
        )


def check_finite(logits: Any, model: str, forward_pass: int) -> None:
    """Raise `NonFiniteLogitsError` unless every value of the tensor `logits` is finite."""
    if not bool(logits.isfinite().all()):
        raise NonFiniteLogitsError(model, forward_pass, str(logits.dtype).removeprefix("torch."))


def _short_repr(value: Any, limit: int = 60) -> str:
    # A 10,000-token prompt must not flood the message that complains about it; nor may a key reach it.
    return scrub(repr(value), limit=limit)


def scrub(text: str, secrets: Iterable[str | None] = (), *, limit: int | None = None, growing: bool = False) -> str:
    """`text` without secrets (see the module docstring), then cut to `limit` characters.

    `growing=True` is for text still arriving (a stream shown as it comes): a tail that could be the
    start of a secret is held back until the next piece shows whether it is one."""
    hidden = {secret for secret in (*secrets, *(os.environ.get(name) for name in SECRET_VARIABLES)) if secret}
    for secret in sorted(hidden, key=len, reverse=True):  # the longest first: one key may contain another
        text = text.replace(secret, HIDDEN)
    text = _URL_CREDENTIALS.sub(rf"\1{HIDDEN}@", text)
    if growing:
        held = max((n for secret in hidden for n in range(1, len(secret)) if text.endswith(secret[:n])), default=0)
        text = text[: len(text) - held]
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 3, 0)] + "..."
    return text
