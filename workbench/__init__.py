"""workbench: see and measure how text gets generated, one token at a time or a whole block at once.

The engine (load, generate, trace, measure) lives here and never imports ipywidgets; the widgets in
`workbench.widgets` are thin views over it.

`import workbench` is cheap: torch and transformers load when `load`, `models`, `plan` or a result type is
first used, so the `workbench` command starts (and answers `--help` or Ctrl-C) at once.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from workbench.errors import (
    InvalidSettingError,
    ModelDoesNotFitError,
    ModelUnavailableError,
    UnsupportedVersionError,
    WorkbenchError,
)

if TYPE_CHECKING:
    from workbench.engine.result import DenoisingStep, GenerationResult, StepEvent
    from workbench.loading.load import load
    from workbench.loading.memory import plan
    from workbench.loading.registry import models

_LAZY = {
    "load": "workbench.loading.load",
    "models": "workbench.loading.registry",
    "plan": "workbench.loading.memory",
    "DenoisingStep": "workbench.engine.result",
    "GenerationResult": "workbench.engine.result",
    "StepEvent": "workbench.engine.result",
}

__all__ = [
    "DenoisingStep",
    "GenerationResult",
    "InvalidSettingError",
    "ModelDoesNotFitError",
    "ModelUnavailableError",
    "StepEvent",
    "UnsupportedVersionError",
    "WorkbenchError",
    "load",
    "models",
    "plan",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
