"""A run (or a race of runs) as one self-contained HTML file that plays anywhere: no network, no kernel.

    save_html("race.html", [ar_result, diffusion_result], tokenizers=[ar.tokenizer, diffusion.tokenizer])

The page is rendered with Jinja2 from `templates/replay.html.j2`: the frames of every lane (see
`workbench.export.timeline`) go in as embedded JSON and a small inline script plays them with play,
pause, step, a speed choice (x1, x1/4, x1/16) and a scrub bar on one shared clock. The chips are
styled by `canvas_html.chip_style`, the live canvas's own colours and shading; each distinct style is
stored once and chips refer to it by number, which keeps the file small. The timing and settings of
each run are printed beside its lane. Left out: editing, and anything fetched from elsewhere.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from workbench.engine.result import GenerationResult
from workbench.errors import InvalidSettingError
from workbench.export.canvas_html import chip_style, legend_html
from workbench.export.paths import checked_path, lanes_for
from workbench.export.timeline import MAX_FRAMES, Timeline, shared_end_s

SPEEDS = ((1.0, "x1 (true speed)"), (0.25, "x1/4"), (1 / 16, "x1/16"))

_environment = Environment(loader=PackageLoader("workbench.export", "templates"), autoescape=select_autoescape())


def replay_html(lanes: list[Timeline], title: str = "") -> str:
    """The page's HTML for these lanes (`save_html` writes it; a notebook can show it in an IFrame)."""
    styles: dict[str, int] = {}

    def style_index(state: int, confidence: float) -> int:
        return styles.setdefault(chip_style(state, confidence), len(styles))

    payload = {
        "end_s": shared_end_s(lanes),
        "lanes": [
            {
                "title": lane.title,
                "frames": [
                    {
                        "t": frame.t_s,
                        "label": frame.label,
                        "tokens": frame.tokens,
                        "text": frame.text,
                        "chips": None
                        if frame.chips is None
                        else [[chip.word, style_index(chip.state, chip.confidence)] for chip in frame.chips],
                    }
                    for frame in lane.frames
                ],
            }
            for lane in lanes
        ],
    }
    payload["styles"] = list(styles)
    # "</" would end the <script> element early if a generated word contained "</script>".
    data = json.dumps(payload, ensure_ascii=False).replace("</", "<\\/")
    return _environment.get_template("replay.html.j2").render(
        title=title or " vs ".join(lane.title for lane in lanes),
        version=_version(),
        lanes=lanes,
        end_s=payload["end_s"],
        speeds=[{"value": value, "label": label} for value, label in SPEEDS],
        legend=Markup(legend_html()),
        data=Markup(data),
    )


def save_html(
    path: str | os.PathLike[str],
    results: GenerationResult | Sequence[GenerationResult],
    tokenizers: Any = None,
    *,
    title: str = "",
    max_frames: int = MAX_FRAMES,
) -> Path:
    """Write the replay of one run, or of a race (a list of results, one lane each), to `path` (.html)."""
    target = checked_path(path, ".html")
    page = replay_html(lanes_for(results, tokenizers, max_frames), title)
    try:
        target.write_text(page, encoding="utf-8")
    except OSError as error:
        raise InvalidSettingError("path", str(path), f"a file that can be written ({error})") from None
    return target


def _version() -> str:
    # The package's metadata, not `workbench.__version__`: importing the top package from here would
    # pull the loaders in under the engine (GenerationResult.save_html imports this module).
    try:
        return version("workbench")
    except PackageNotFoundError:
        return "(not installed)"
