"""A run (or a race) as a GIF or an MP4 for slides: the replay's frames drawn with Pillow.

    save_gif("race.gif", [ar_result, diffusion_result], tokenizers=[...], speed=0.25)
    save_video("race.mp4", diffusion_result, tokenizer, size=(1280, 720), fps=30, speed=1 / 16)

Each picture shows every lane side by side on one clock (see `workbench.export.timeline`): title,
the frame's label, the canvas chips coloured and shaded by `canvas_html.chip_rgba` (the live
canvas's colours), the text final so far, and the lane's tokens and tokens/s at that moment. Text
is drawn with the DejaVu Sans font matplotlib ships, scaled to the picture's height (readable at
1280x720).

GIF: drawn in one fixed palette (see `_gif_palette`), one frame per recorded moment of any lane (each diffusion step, each token; the timeline's
documented subsampling applies to huge traces), each shown for the real gap to the next moment
divided by `speed`. GIF delays count in 10 ms and players show a frame for at least 20 ms, so a gap
shorter than 20 ms at the chosen speed is shown for 20 ms (a very fast run's GIF plays slower than
`speed`; the MP4 keeps true time). The last frame holds for `HOLD_S` before the GIF loops.
MP4: `fps` frames a second of video, frame k showing the run at k / fps * speed seconds, so the video
lasts (run length / speed) + one frame; encoded with H.264 by the ffmpeg binary `imageio-ffmpeg`
ships. Longer than `MAX_VIDEO_S` of video is refused before rendering. Left out: audio, and fonts
other than DejaVu.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from matplotlib import font_manager
from PIL import Image, ImageDraw, ImageFont
from tqdm.auto import tqdm

from workbench.checks import check_float
from workbench.engine.result import KEPT, NEW, NOISE, GenerationResult
from workbench.errors import InvalidSettingError, WorkbenchError
from workbench.export.canvas_html import chip_rgba
from workbench.export.paths import checked_path, lanes_for
from workbench.export.timeline import MAX_FRAMES, Timeline, numbers_at, shared_end_s

HOLD_S = 1.5  # the GIF's last frame stays this long before it loops
MIN_GIF_DELAY_MS = 20  # browsers show a shorter GIF delay as 100 ms; 20 ms is the shortest kept
MAX_VIDEO_S = 600.0  # ten minutes of video: a slower speed than that on a long run is a mistake
PROGRESS_FRAMES = 100  # show a progress bar from this many frames on
_BACKGROUND, _INK, _GREY = (255, 255, 255), (17, 24, 39), (107, 114, 128)
_NOTE, _TRACK = (180, 83, 9), (229, 231, 235)  # a lane's note; the clock's track


def save_gif(
    path: str | os.PathLike[str],
    results: GenerationResult | Sequence[GenerationResult],
    tokenizers: Any = None,
    *,
    size: tuple[int, int] = (1280, 720),
    speed: float = 1.0,
    max_frames: int = MAX_FRAMES,
    progress: bool = True,
) -> Path:
    """Write the replay as an animated GIF (one frame per recorded moment); returns the path."""
    target = checked_path(path, ".gif")
    speed = check_float("speed", speed, 0.0, 1000.0, low_inclusive=False)
    lanes = lanes_for(results, tokenizers, max_frames)
    moments = sorted({t for lane in lanes for t in lane.times})
    width, height = _checked_size(size)
    palette = _gif_palette()
    pictures = [
        _draw(lanes, t, width, height, speed).quantize(palette=palette, dither=Image.Dither.NONE)
        for t in _progress(moments, "GIF frames", progress and len(moments))
    ]
    gaps = [later - earlier for earlier, later in zip(moments, moments[1:])]
    delays = [max(MIN_GIF_DELAY_MS, round(gap / speed * 100) * 10) for gap in gaps] + [round(HOLD_S * 1000)]
    try:
        pictures[0].save(target, save_all=True, append_images=pictures[1:], duration=delays, loop=0, optimize=False)
    except OSError as error:
        raise InvalidSettingError("path", str(path), f"a file that can be written ({error})") from None
    return target


def save_video(
    path: str | os.PathLike[str],
    results: GenerationResult | Sequence[GenerationResult],
    tokenizers: Any = None,
    *,
    size: tuple[int, int] = (1280, 720),
    fps: int = 30,
    speed: float = 1.0,
    max_frames: int = MAX_FRAMES,
    progress: bool = True,
) -> Path:
    """Write the replay as an H.264 MP4 at `fps`, lasting (run length / speed); returns the path."""
    target = checked_path(path, ".mp4")
    speed = check_float("speed", speed, 0.0, 1000.0, low_inclusive=False)
    if not isinstance(fps, int) or isinstance(fps, bool) or not 1 <= fps <= 120:
        raise InvalidSettingError("fps", fps, "an integer from 1 to 120")
    width, height = _checked_size(size)
    if width % 2 or height % 2:
        raise InvalidSettingError("size", size, "even width and height (H.264 in MP4 needs them)")
    lanes = lanes_for(results, tokenizers, max_frames)
    seconds = shared_end_s(lanes) / speed
    if seconds > MAX_VIDEO_S:
        raise InvalidSettingError(
            "speed", speed, f"a speed that keeps the video under {MAX_VIDEO_S:g} s (this one: {seconds:.0f} s)"
        )
    writer = _video_writer(target, fps)
    count = int(seconds * fps) + 1
    try:
        with writer:
            for k in _progress(range(count), "video frames", progress and count):
                writer.append_data(_as_array(_draw(lanes, k / fps * speed, width, height, speed)))
    except OSError as error:
        raise InvalidSettingError("path", str(path), f"a file that can be written ({error})") from None
    return target


def _video_writer(target: Path, fps: int) -> Any:
    try:
        import imageio.v2 as imageio
        import imageio_ffmpeg

        imageio_ffmpeg.get_ffmpeg_exe()  # raises when neither the shipped binary nor a system one exists
    except (ImportError, RuntimeError) as error:
        raise WorkbenchError(
            f"save_video needs ffmpeg, which was not found ({error}); pip install 'imageio-ffmpeg>=0.5' "
            "ships one (or write a GIF with save_gif)"
        ) from None
    # macro_block_size=1: the size was checked even, so ffmpeg needs no silent resize.
    return imageio.get_writer(target, fps=fps, codec="libx264", macro_block_size=1, quality=7)


def _as_array(picture: Image.Image) -> Any:
    import numpy

    return numpy.asarray(picture)


def _checked_size(size: Any) -> tuple[int, int]:
    if (
        not isinstance(size, (tuple, list))
        or len(size) != 2
        or not all(isinstance(side, int) and not isinstance(side, bool) for side in size)
        or not (320 <= size[0] <= 3840 and 240 <= size[1] <= 2160)
    ):
        raise InvalidSettingError("size", size, "(width, height) in pixels, 320-3840 by 240-2160, e.g. (1280, 720)")
    return int(size[0]), int(size[1])


def _progress(items: Sequence[Any] | range, what: str, show: int | bool) -> Iterator[Any]:
    # A bar only for long renders: a short one would flash by and clutter the notebook.
    return iter(tqdm(items, desc=what, disable=not show or show < PROGRESS_FRAMES, leave=False))


@cache
def _gif_palette() -> Image.Image:
    """One palette for every frame: the chip colours at each shade, grey ramps for anti-aliased text.

    With a palette of its own per frame (Pillow's default), no two frames share colours and the GIF
    cannot store only what changed; one fixed palette made a race GIF about six times smaller.
    """
    colours: list[tuple[int, ...]] = [_BACKGROUND, _INK, _GREY, _NOTE, _TRACK]
    for state in (NOISE, NEW, KEPT):
        for shade in range(8):
            red, green, blue, alpha = chip_rgba(state, shade / 7)
            colours.append(tuple(round(alpha * c + (1 - alpha) * 255) for c in (red, green, blue)))
    for level in range(1, 16):  # text edges: ink and grey fading into white
        for ink in (_INK, _GREY):
            colours.append(tuple(round(c + (255 - c) * level / 16) for c in ink))
    flat = [channel for colour in colours for channel in colour]
    palette = Image.new("P", (1, 1))
    palette.putpalette(flat + flat[:3] * (256 - len(colours)))
    return palette


@cache
def _font(pixels: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    family = font_manager.FontProperties(family="DejaVu Sans", weight="bold" if bold else "normal")
    return ImageFont.truetype(font_manager.findfont(family), pixels)


def _draw(lanes: list[Timeline], t_s: float, width: int, height: int, speed: float) -> Image.Image:
    """One picture: the clock on top, then each lane in its own column at time `t_s`."""
    picture = Image.new("RGB", (width, height), _BACKGROUND)
    draw = ImageDraw.Draw(picture, "RGBA")
    unit = max(10, height // 36)  # 20 px text at 720 p
    margin = unit
    speed_text = "x1 (true speed)" if speed == 1 else f"x{speed:g}"
    draw.text((margin, margin // 2), f"t = {t_s:.3f} s   replay speed {speed_text}", font=_font(unit, True), fill=_INK)
    end = shared_end_s(lanes)
    bar_y = margin // 2 + unit + unit // 2
    draw.rectangle((margin, bar_y, width - margin, bar_y + unit // 4), fill=_TRACK)
    done = (t_s / end) if end > 0 else 1.0
    draw.rectangle((margin, bar_y, margin + (width - 2 * margin) * min(done, 1.0), bar_y + unit // 4), fill=_GREY)
    column = (width - margin) // len(lanes)
    for number, lane in enumerate(lanes):
        left = margin + number * column
        _draw_lane(draw, lane, t_s, (left, bar_y + unit, left + column - margin, height - margin), unit)
    return picture


def _draw_lane(
    draw: ImageDraw.ImageDraw, lane: Timeline, t_s: float, box: tuple[int, int, int, int], unit: int
) -> None:
    left, top, right, bottom = box
    frame = lane.frame_at(t_s)
    numbers = numbers_at(lane, t_s)
    y = top
    draw.text((left, y), lane.title, font=_font(unit, True), fill=_INK)
    y += int(unit * 1.4)
    line = f"{frame.label}  \u00b7  tokens {numbers['tokens']}  \u00b7  tokens/s {numbers['tokens/s']}"
    y = _wrapped(draw, line, (left, y, right), _font(int(unit * 0.8)), _GREY, max_lines=2)
    if lane.note:
        y = _wrapped(draw, lane.note, (left, y, right), _font(int(unit * 0.7)), _NOTE, max_lines=2)
    y += unit // 2
    if frame.chips is not None:
        y = _chips(draw, frame.chips, (left, y, right, bottom), unit)
        y += unit // 2
    text = frame.text or ("(nothing final yet)" if frame.tokens in (0, None) else "")
    lines_left = max(1, (bottom - y) // int(unit * 1.25))
    _wrapped(draw, text, (left, y, right), _font(unit), _INK, max_lines=lines_left, keep_end=True)


def _chips(draw: ImageDraw.ImageDraw, chips: Sequence[Any], box: tuple[int, int, int, int], unit: int) -> int:
    left, top, right, bottom = box
    font = _font(int(unit * 0.85))
    pad, gap, row = unit // 4, unit // 5, int(unit * 1.45)
    x, y = left, top
    for chip in chips:
        word = chip.word if chip.word.strip() else "\u2423"
        word = word.replace("\n", "\u21b5")
        size = int(font.getlength(word)) + 2 * pad
        if x + size > right and x > left:
            x, y = left, y + row
        if y + row > bottom:
            break  # a canvas taller than the picture: the rest would be drawn off it
        red, green, blue, alpha = chip_rgba(chip.state, chip.confidence)
        draw.rounded_rectangle(
            (x, y, x + size, y + row - gap), radius=unit // 5, fill=(red, green, blue, int(alpha * 255))
        )
        draw.text((x + pad, y + pad // 2), word, font=font, fill=_GREY if chip.state == NOISE else _INK)
        x += size + gap
    return y + row


def _wrapped(
    draw: ImageDraw.ImageDraw,
    text: str,
    where: tuple[int, int, int],
    font: ImageFont.FreeTypeFont,
    colour: tuple[int, int, int],
    *,
    max_lines: int,
    keep_end: bool = False,
) -> int:
    """Draw `text` word-wrapped to the width; too many lines keep the first (or, for the growing text, the last)."""
    left, y, right = where
    lines: list[str] = []
    for paragraph in text.split("\n"):
        current = ""
        for word in paragraph.split(" "):
            trial = f"{current} {word}" if current else word
            if font.getlength(trial) <= right - left or not current:
                current = trial
            else:
                lines.append(current)
                current = word
        lines.append(current)
    if len(lines) > max_lines:
        lines = (["\u2026"] + lines[-(max_lines - 1) :]) if keep_end and max_lines > 1 else lines[:max_lines]
    step = int(font.size * 1.25)
    for line in lines:
        draw.text((left, y), line, font=font, fill=colour)
        y += step
    return y
