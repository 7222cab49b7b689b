"""workbench: see and measure how text gets generated, one token at a time or a whole block at once.

The engine (load, generate, trace, measure) lives here and never imports ipywidgets; the widgets in
`workbench.widgets` are thin views over it.
"""

from workbench.errors import InvalidSettingError, ModelUnavailableError, WorkbenchError
from workbench.loading import load
from workbench.registry import models
from workbench.result import DenoisingStep, GenerationResult, StepEvent

__all__ = [
    "DenoisingStep",
    "GenerationResult",
    "InvalidSettingError",
    "ModelUnavailableError",
    "StepEvent",
    "WorkbenchError",
    "load",
    "models",
]
__version__ = "0.1.0"
