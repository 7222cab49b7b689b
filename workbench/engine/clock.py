"""Wall-clock timing that is right on a GPU.

CUDA kernels run asynchronously: `time.perf_counter()` read straight after a launch measures the
launch, not the work. Every reading here first waits for the device to finish (`synchronize`), then
reads the monotonic performance counter. On the CPU the wait is a no-op.

This module is imported by the generation engine on every run, so it imports only torch and the
standard library (no NVML, no pandas). It does not know about energy or repeats: see `energy` and
`repeat` for those.
"""

from __future__ import annotations

import time

import torch


def synchronize(device: torch.device | str | None = None) -> None:
    """Wait until all queued work on `device` has finished.

    `None` means "whatever this process uses": the current CUDA device when CUDA has been started,
    otherwise nothing. Checking `is_initialized()` first keeps a CPU-only process from starting CUDA
    just to time something.
    """
    if device is None:
        if torch.cuda.is_initialized():
            torch.cuda.synchronize()
        return
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def now(device: torch.device | str | None = None) -> float:
    """Seconds on the performance counter, read after `device` has finished its queued work."""
    synchronize(device)
    return time.perf_counter()


class Stopwatch:
    """Times a block of code, synchronising the device at both ends.

        with Stopwatch(model_device) as watch:
            model(inputs)
        watch.elapsed_s

    `lap()` reads the time since the start without stopping, also after a synchronise.
    """

    def __init__(self, device: torch.device | str | None = None) -> None:
        self.device = device
        self.start_s: float | None = None
        self.stop_s: float | None = None

    def start(self) -> Stopwatch:
        self.start_s = now(self.device)
        self.stop_s = None
        return self

    def stop(self) -> float:
        self.stop_s = now(self.device)
        return self.elapsed_s

    def lap(self) -> float:
        return now(self.device) - self._started()

    @property
    def elapsed_s(self) -> float:
        """Start to stop; while still running, start to now (synchronised)."""
        if self.stop_s is None:
            return self.lap()
        return self.stop_s - self._started()

    def _started(self) -> float:
        if self.start_s is None:
            raise RuntimeError("Stopwatch was read before start()")
        return self.start_s

    def __enter__(self) -> Stopwatch:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        if self.start_s is None:
            return "Stopwatch(not started)"
        state = "stopped" if self.stop_s is not None else "running"
        return f"Stopwatch({self.elapsed_s:.6f} s, {state})"
