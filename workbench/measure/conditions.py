"""What the machine was doing while a run was timed, and whether that makes its numbers suspect.

    window = ConditionsWindow(device)
    window.start(); ...timed work...; conditions = window.stop()
    conditions.busy       # True: other processes took CPU during the window; verdicts are withheld

Recorded per window: CPU time used by *other* processes (system-wide busy CPU time, from psutil,
minus this process's own), the 1-minute load average, torch's intra-op thread count, the CPU
frequency where the kernel exposes it, and on an NVIDIA GPU the SM clock, temperature and active
throttle reasons read through NVML at the end of the window. Every figure that could not be read
is `None` with a reason beside it.

"Busy" means other processes used more than `BUSY_CORE_SHARE` of one core on average during the
window (a browser tab, a second notebook, another user's job). On a 2-core laptop one such process
can make a run several times slower (torch's threads then wait for each other), so a comparison
made under it says nothing about the models. Left out: which process it was (that is the user's
business, and reading other processes' details needs privileges), and GPU contention from other
processes (NVML's per-process accounting is not available on every driver).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import psutil

from workbench.measure.telemetry.reasons import TelemetryUnavailable, describe

if TYPE_CHECKING:
    import torch
# torch (and NVML, which needs it) load inside the window: `Measurement` reads `Conditions`, and the
# cost commands that read measurements answer `--help` without paying for torch.

# Other processes averaging more than a quarter of one core: enough to slow a 2-thread torch run
# measurably on a 2-core machine (measured: one busy process made a 23-pass run 4-17 s instead of 0.5 s),
# and well above the few percent a quiet desktop's background services use.
BUSY_CORE_SHARE = 0.25
CpuSample = tuple[float, float]  # (busy CPU seconds of the whole machine, CPU seconds of this process)


def cpu_sample() -> CpuSample:
    """Busy CPU seconds of every core together, and this process's own CPU seconds, now."""
    times = psutil.cpu_times()
    idle = times.idle + getattr(times, "iowait", 0.0)  # waiting for disk is not running anything
    total = sum(times)
    # guest time is already inside user time on Linux; counting it twice would invent load
    total -= getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)
    own = psutil.Process().cpu_times()
    return total - idle, own.user + own.system


@dataclass(frozen=True)
class GpuConditions:
    """NVML's view of the GPU at the end of a window; every figure None with a reason when unread."""

    sm_clock_mhz: float | None = None
    temperature_c: float | None = None
    throttle_reasons: tuple[str, ...] | None = None  # () = not throttled
    missing: str | None = None


@dataclass(frozen=True)
class Conditions:
    """The machine's state over one timed window (see the module docstring for how each is read)."""

    window_s: float
    other_cpu_s: float | None  # CPU seconds other processes used during the window
    other_cpu_missing: str | None
    load_avg_1m: float | None
    cpu_count: int | None
    torch_threads: int
    cpu_freq_mhz: float | None
    cpu_freq_missing: str | None
    gpu: GpuConditions = field(default_factory=GpuConditions)

    @property
    def other_core_share(self) -> float | None:
        """Other processes' average use during the window, in cores (0.5 = half of one core)."""
        if self.other_cpu_s is None or self.window_s <= 0:
            return None
        return max(self.other_cpu_s, 0.0) / self.window_s

    @property
    def busy(self) -> bool | None:
        """True when other processes used more than `BUSY_CORE_SHARE` of a core; None when unknown."""
        share = self.other_core_share
        return None if share is None else share > BUSY_CORE_SHARE

    def busy_note(self) -> str:
        """One line for people: why the run is labelled busy, or '' when it is not."""
        share = self.other_core_share
        if share is None or share <= BUSY_CORE_SHARE:
            return ""
        return (
            f"machine was busy: other processes used {share:.0%} of a core during this run "
            f"(threshold {BUSY_CORE_SHARE:.0%}); its speed says little about the model"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form, as kept in `GenerationResult.telemetry["conditions"]`."""
        data = asdict(self)
        data["gpu"]["throttle_reasons"] = (
            list(self.gpu.throttle_reasons or []) if self.gpu.throttle_reasons is not None else None
        )
        data["other_core_share"], data["busy"] = self.other_core_share, self.busy  # derived, for SQL and eyes
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Conditions:
        """Back from `to_dict()` (a stored run, a `compare --json` object); derived keys are recomputed."""
        gpu = dict(data.get("gpu") or {})
        reasons = gpu.get("throttle_reasons")
        gpu["throttle_reasons"] = tuple(reasons) if reasons is not None else None
        known = {name for name in cls.__dataclass_fields__ if name != "gpu"}
        return cls(**{name: data.get(name) for name in known}, gpu=GpuConditions(**gpu))  # type: ignore[arg-type]


class ConditionsWindow:
    """Reads the machine's conditions over a window: `start()` before the timed work, `stop()` after.

    `sample` is injectable so tests can feed known counters; the default reads psutil.
    """

    def __init__(self, device: torch.device | str = "cpu", sample: Callable[[], CpuSample] = cpu_sample) -> None:
        import torch

        self.device = torch.device(device)
        self._sample = sample
        self._start: CpuSample | None = None
        self._start_error: str | None = None
        self._start_s = 0.0

    def start(self) -> None:
        try:
            self._start = self._sample()
        except Exception as error:  # a sandbox without /proc: the run goes on, the figure is missing
            self._start, self._start_error = None, describe(error)
        self._start_s = time.perf_counter()

    def stop(self) -> Conditions:
        import torch

        window_s = time.perf_counter() - self._start_s
        other, other_missing = self._other_cpu()
        freq, freq_missing = _cpu_freq()
        try:
            load: float | None = os.getloadavg()[0]
        except OSError:  # not every platform has a load average
            load = None
        return Conditions(
            window_s=window_s,
            other_cpu_s=other,
            other_cpu_missing=other_missing,
            load_avg_1m=load,
            cpu_count=os.cpu_count(),
            torch_threads=torch.get_num_threads(),
            cpu_freq_mhz=freq,
            cpu_freq_missing=freq_missing,
            gpu=gpu_conditions(self.device),
        )

    def _other_cpu(self) -> tuple[float | None, str | None]:
        if self._start is None:
            return None, f"CPU times unreadable: {self._start_error or 'window never started'}"
        try:
            end = self._sample()
        except Exception as error:
            return None, f"CPU times unreadable: {describe(error)}"
        machine, own = end[0] - self._start[0], end[1] - self._start[1]
        # Counters tick every 10 ms and are read at slightly different moments: a tiny negative is zero.
        return max(machine - own, 0.0), None


def _cpu_freq() -> tuple[float | None, str | None]:
    try:
        freq = psutil.cpu_freq()
    except Exception as error:
        return None, f"psutil: {describe(error)}"
    if freq is None or not freq.current:
        return None, "the kernel exposes no CPU frequency here (common in VMs and containers)"
    return float(freq.current), None


def gpu_conditions(device: torch.device | str) -> GpuConditions:
    """SM clock, temperature and throttle reasons of the GPU behind `device`; never raises."""
    import torch

    from workbench.measure.telemetry.nvml import find_gpu, nvml

    if torch.device(device).type != "cuda":
        return GpuConditions(missing=f"run on {torch.device(device).type}: no GPU")
    try:
        target, lib = find_gpu(device), nvml()
        board = target.board
        clock = float(lib.nvmlDeviceGetClockInfo(board, lib.NVML_CLOCK_SM))
        temperature = float(lib.nvmlDeviceGetTemperature(board, lib.NVML_TEMPERATURE_GPU))
        mask = lib.nvmlDeviceGetCurrentClocksThrottleReasons(board)
    except TelemetryUnavailable as error:
        return GpuConditions(missing=error.reason)
    except Exception as error:
        return GpuConditions(missing=f"NVML: {describe(error)}")
    return GpuConditions(sm_clock_mhz=clock, temperature_c=temperature, throttle_reasons=throttle_names(lib, mask))


def throttle_names(lib: Any, mask: int) -> tuple[str, ...]:
    """Names of the set bits of an NVML throttle-reason mask, read from pynvml's own constants
    (so a reason added by a new driver needs no change here); idle is not a throttle."""
    prefix = "nvmlClocksThrottleReason"
    names = []
    for name in sorted(dir(lib)):
        value = getattr(lib, name)
        if not name.startswith(prefix) or not isinstance(value, int) or name.endswith(("None", "All", "Unknown")):
            continue
        if value and mask & value == value and value & (value - 1) == 0 and name != f"{prefix}GpuIdle":
            names.append(name.removeprefix(prefix))
    return tuple(names)
