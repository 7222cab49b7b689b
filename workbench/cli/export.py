"""`workbench export RUN_ID`: a stored run as a self-contained HTML player, a GIF or an MP4.

    workbench export 12 --html run12.html --gif run12.gif --mp4 run12.mp4 --speed 0.25
    workbench compare "Once upon a time" --export slides/      # the race, written as all three

RUN_ID is the row id `ResultsStore.to_dataframe()` shows (or the run's run_uuid). The store keeps each
run's timeline (token and step times, the diffusion trace); a run stored before it did exports from its
headline numbers only, and the note in the file says so. Words come from the run's own tokenizer,
loaded again by model name (seconds for the embedded models); when that fails (a served model, a
model no longer on this machine) chips show token ids and the reason is printed.
Left out: exporting several stored runs as one race (export them one by one, or use `compare --export`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import InvalidSettingError, WorkbenchError

if TYPE_CHECKING:
    from workbench.engine.result import GenerationResult

FORMATS = ("html", "gif", "mp4")


def register(commands: argparse._SubParsersAction) -> None:
    export = commands.add_parser("export", help="write a stored run as an HTML player, a GIF or an MP4")
    export.add_argument("run_id", help="the run's id in the results store (or its run_uuid)")
    export.add_argument("--store", help="results store file (default: $WORKBENCH_STORE or your data folder)")
    add_options(export)
    for name in FORMATS:
        export.add_argument(f"--{name}", metavar="PATH", help=f"write a .{name} file")
    export.set_defaults(func=_run_export)


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--speed", type=float, default=1.0, help="replay speed of GIF/MP4 (0.25 = x1/4; default 1)")
    parser.add_argument("--fps", type=int, default=30, help="MP4 frames per second (default 30)")
    parser.add_argument("--size", default="1280x720", help="GIF/MP4 picture size, WIDTHxHEIGHT (default 1280x720)")


def write(results: list[GenerationResult], paths: dict[str, str], args: argparse.Namespace) -> list[Path]:
    """Write each requested format; returns the files written."""
    from workbench.export import save_gif, save_html, save_video

    size = _size(args.size)
    tokenizers = [_tokenizer(result) for result in results]
    written = []
    for name, path in paths.items():
        if name == "html":
            written.append(save_html(path, results, tokenizers))
        elif name == "gif":
            written.append(save_gif(path, results, tokenizers, size=size, speed=args.speed))
        else:
            written.append(save_video(path, results, tokenizers, size=size, fps=args.fps, speed=args.speed))
        _say(f"wrote {written[-1]}")
    return written


def _run_export(args: argparse.Namespace) -> int:
    from workbench.measure.store import ResultsStore

    paths = {name: getattr(args, name) for name in FORMATS if getattr(args, name)}
    if not paths:
        raise InvalidSettingError("--html/--gif/--mp4", None, "at least one output file")
    store = ResultsStore(args.store)
    result = store.result(args.run_id)
    if result.telemetry.get("replay_missing"):
        _say(f"run {args.run_id} has no stored timeline: {result.telemetry['replay_missing']}")
    write([result], paths, args)
    return 0


def _tokenizer(result: GenerationResult) -> Any:
    if result.device == "served":
        return None  # the server's tokenizer is not here; a served lane shows its text as streamed
    from workbench.loading.load import load

    try:
        return getattr(load(result.model, device="cpu"), "tokenizer", None)
    except (WorkbenchError, OSError) as error:
        _say(f"{result.model}: its tokenizer could not be loaded ({error}); the canvas shows token ids")
        return None


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(side) for side in text.lower().split("x"))
    except ValueError:
        raise InvalidSettingError("--size", text, "WIDTHxHEIGHT in pixels, e.g. 1280x720") from None
    return width, height


def _say(message: str) -> None:
    print(f"workbench: {message}", file=sys.stderr, flush=True)
