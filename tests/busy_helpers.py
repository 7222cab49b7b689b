"""A bounded busy loop on the CPU, for the tests that check runs under it are labelled busy."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from workbench.measure.conditions import ConditionsWindow

LOOP = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"


@contextmanager
def busy_loop(seconds: float = 90.0) -> Iterator[int]:
    """A child process spinning on one core (it ends itself after `seconds`); killed by its PID on exit."""
    child = subprocess.Popen([sys.executable, "-c", LOOP.format(seconds=seconds)])
    try:
        time.sleep(0.5)  # let it start spinning before anything is timed
        yield child.pid
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)


def background_share(seconds: float = 1.0) -> float | None:
    """Other processes' CPU use right now, in cores: a machine shared with other jobs may already be busy."""
    window = ConditionsWindow("cpu")
    window.start()
    time.sleep(seconds)
    return window.stop().other_core_share
