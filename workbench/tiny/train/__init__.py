"""Training for the embedded tiny models (`python -m workbench.tiny.train`).

`configs` holds the two tiny architectures and their hyper-parameters, `data` the story corpus and
batch samplers, `objectives` the AR and DiffusionGemma losses, `loop` the resumable training loop
and the export to `workbench/tiny/weights/<name>/`. Nothing here is imported by the engine at run time.
"""

from workbench.tiny.train.configs import (
    MODEL_NAMES,
    build_model,
    parameter_count,
    story_tokenizer,
)
from workbench.tiny.train.loop import train

__all__ = ["MODEL_NAMES", "build_model", "parameter_count", "story_tokenizer", "train"]
