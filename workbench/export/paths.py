"""Where an export goes: check the path before minutes of rendering, and turn results into lanes.

A path must end in the format's suffix and its folder must exist and be writable; anything else is
one `InvalidSettingError` naming the path, before any frame is drawn. An existing file is replaced
(an export is derived data: run it again to get it back). Left out: creating missing folders.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbench.engine.result import GenerationResult
from workbench.errors import InvalidSettingError
from workbench.export.timeline import MAX_FRAMES, Timeline, timeline


def checked_path(path: str | os.PathLike[str], suffix: str) -> Path:
    target = Path(path).expanduser()
    if target.suffix.lower() != suffix:
        raise InvalidSettingError("path", str(path), f"a file name ending in {suffix}")
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir() or not folder.is_dir() or not os.access(folder, os.W_OK):
        raise InvalidSettingError("path", str(path), "a file in an existing folder you can write to")
    if target.exists() and not os.access(target, os.W_OK):
        raise InvalidSettingError("path", str(path), "a file you can write to (this one is read-only)")
    return target


def lanes_for(
    results: GenerationResult | Sequence[GenerationResult],
    tokenizers: Any = None,
    max_frames: int = MAX_FRAMES,
) -> list[Timeline]:
    """One lane per result. `tokenizers`: one tokenizer for all, a list (one per result, None allowed), or None."""
    runs = [results] if isinstance(results, GenerationResult) else list(results)
    if not runs or not all(isinstance(run, GenerationResult) for run in runs):
        raise InvalidSettingError("results", results, "one GenerationResult or a list of them (the lanes of a race)")
    if isinstance(tokenizers, (list, tuple)):
        if len(tokenizers) != len(runs):
            raise InvalidSettingError("tokenizers", f"{len(tokenizers)} tokenizers", f"one per result ({len(runs)})")
        chosen = list(tokenizers)
    else:
        chosen = [tokenizers] * len(runs)
    return [timeline(run, tokenizer, max_frames=max_frames) for run, tokenizer in zip(runs, chosen)]
