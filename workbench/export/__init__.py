"""Replay and export: a finished run (or a race of runs) on its recorded clock, as a page, a GIF or a video.

    from workbench.export import save_html, save_gif, save_video, timeline
    save_html("race.html", [ar_result, diffusion_result], tokenizers=[ar.tokenizer, diffusion.tokenizer])

Modules: `timeline` (the pure replay clock: frames at recorded times, what shows at time t),
`canvas_html` (the chips' colours and one canvas frame as HTML, shared with the live canvas widget),
`html` (one self-contained HTML player, Jinja2 template in `templates/`), `animation` (GIF with
Pillow, MP4 with imageio-ffmpeg), `paths` (output checks). This package draws; it never loads,
measures or stores runs (the CLI's `workbench export` reads them from the results store).
"""

from workbench.export.animation import save_gif, save_video
from workbench.export.html import replay_html, save_html
from workbench.export.timeline import Timeline, numbers_at, timeline

__all__ = ["Timeline", "numbers_at", "replay_html", "save_gif", "save_html", "save_video", "timeline"]
