"""A redraw limiter: lets a view skip steps that arrive faster than the eye (and the browser) can use.

A tiny model on a GPU takes a few hundred denoising steps a second; sending each to the browser
would queue widget messages faster than they render and make the notebook lag behind the run. Views
ask `ready()` before a live redraw and always draw the final state themselves, ignoring the limiter.
"""

from __future__ import annotations

import time

from workbench.checks import check_float

DEFAULT_HZ = 20.0  # inside the 10-30 Hz that looks live without flooding the kernel's message channel


class Throttle:
    def __init__(self, hz: float = DEFAULT_HZ) -> None:
        self.interval_s = 1.0 / check_float("hz", hz, 0.0, 1000.0, low_inclusive=False)
        self._last = float("-inf")

    def ready(self) -> bool:
        """True (and the clock restarts) when at least one interval has passed since the last True."""
        now = time.monotonic()
        if now - self._last < self.interval_s:
            return False
        self._last = now
        return True

    def reset(self) -> None:
        """Let the next `ready()` through at once (the first frame of a new run is never held back)."""
        self._last = float("-inf")
