"""How telemetry says that something was not measured.

A reading that could not be taken is `None` next to a short reason string ("no NVIDIA driver: ...",
"run on cpu: ..."), never a zero and never a guess from a spec sheet. This module holds the helper
that turns an exception into such a reason, the exception that carries a reason between telemetry
modules, and the warning issued for readings that exist but should not be trusted on their own (a
window too short for the energy counter). It measures nothing itself.
"""

from __future__ import annotations

from workbench.errors import WorkbenchError


class TelemetryUnavailable(WorkbenchError):
    """A reading cannot be taken here; `reason` is the text that goes next to the `None`."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class TelemetryWarning(UserWarning):
    """A measurement was taken but is likely to be low or noisy; the warning text says why."""


def describe(error: BaseException) -> str:
    """`ExceptionType: message`, the form every missing-reason ends with."""
    message = str(error).strip()
    name = type(error).__name__
    return f"{name}: {message}" if message else name
