"""Device-synchronised timing, checked against real sleeps and real torch work (loose bounds: the
machine is shared, so only "not less than slept" and "not absurdly more" are asserted)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from workbench.engine.clock import Stopwatch, now, synchronize

REPO = Path(__file__).resolve().parents[1]


def test_stopwatch_measures_a_real_sleep():
    with Stopwatch("cpu") as watch:
        time.sleep(0.2)
    assert 0.2 <= watch.elapsed_s < 1.5
    assert watch.stop_s - watch.start_s == watch.elapsed_s


def test_stopwatch_lap_keeps_running_and_stop_freezes_it():
    watch = Stopwatch(torch.device("cpu")).start()
    time.sleep(0.05)
    first = watch.lap()
    time.sleep(0.05)
    second = watch.lap()
    assert 0.05 <= first < second
    stopped = watch.stop()
    time.sleep(0.02)
    assert watch.elapsed_s == stopped >= second


def test_reading_an_unstarted_stopwatch_is_an_error():
    with pytest.raises(RuntimeError, match="before start"):
        _ = Stopwatch().elapsed_s


def test_now_is_monotonic_and_synchronize_is_a_no_op_on_cpu():
    synchronize("cpu")
    synchronize(None)  # CUDA never started in this process: nothing to wait for
    readings = [now("cpu") for _ in range(100)]
    assert readings == sorted(readings)


def test_stopwatch_times_real_torch_work():
    torch.manual_seed(0)
    a = torch.randn(256, 256)
    with Stopwatch("cpu") as watch:
        for _ in range(20):
            a = torch.tanh(a @ a.T / 256)
    assert 0 < watch.elapsed_s < 30
    assert torch.isfinite(a).all()


def test_the_clock_and_the_package_import_nothing_heavy():
    # The engine imports the clock on every run: neither it nor the package `__init__` it passes
    # through may load pandas, NVML or the other telemetry modules (those load on first use).
    # Checked in a fresh interpreter's sys.modules, not in the source text.
    # Whatever torch itself loads is the baseline; the clock may add only these four modules
    # (the engine package's `__init__` is a docstring).
    code = (
        "import sys, torch\n"
        "before = set(sys.modules)\n"
        "import workbench.engine.clock\n"
        "print(sorted(set(sys.modules) - before))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    added = "['workbench', 'workbench.engine', 'workbench.engine.clock', 'workbench.errors']"
    assert done.stdout.strip() == added, done.stdout + done.stderr
