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
"""

from __future__ import annotations

from typing import Any


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
    # A 10,000-token prompt must not flood the message that complains about it.
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
