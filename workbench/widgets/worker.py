"""Run one job at a time in a background thread, with a stop request the job hands to `generate()`.

A button's `on_click` handler runs on the kernel's main thread: a generation run there would block
every other message, including the Stop click, until it ended. So the panel only starts a job here
and returns at once; the job sets widget traits as it goes (allowed from any thread) and never
prints. Whatever the job raises is handed to `on_error` instead of surfacing as a traceback in some
other cell, and `on_done` always runs last, so the panel can re-enable its buttons.
Left out: queuing (a second start while busy is refused) and killing a thread (Python cannot;
the engine checks the stop Event every step, which is what makes Stop prompt).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

Job = Callable[[threading.Event], None]


class WorkerBusyError(RuntimeError):
    """A job is already running; wait for it or stop it first."""


class Worker:
    def __init__(self, on_error: Callable[[Exception], None], on_done: Callable[[], None]) -> None:
        self._on_error = on_error
        self._on_done = on_done
        self._thread: threading.Thread | None = None
        self.stop_requested = threading.Event()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, job: Job, name: str) -> None:
        if self.running:
            raise WorkerBusyError(f"{self._thread.name} is still running")  # type: ignore[union-attr]
        self.stop_requested = threading.Event()  # a fresh one: an old Stop must not end the new job
        self._thread = threading.Thread(target=self._run, args=(job, self.stop_requested), name=name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the running job to end; the engine finishes the step it is on and returns."""
        self.stop_requested.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the current job (if any) is over; False if it is still running after `timeout` s."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self.running

    def _run(self, job: Job, stop: threading.Event) -> None:
        try:
            job(stop)
        except Exception as error:  # shown in the panel; the kernel and the panel stay usable
            self._on_error(error)
        finally:
            self._on_done()
