"""The benchmarks keep working: the engine benchmark compares equal work only, the GPU check runs on a CPU."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "engine_vs_transformers.py"


def _benchmark():
    spec = importlib.util.spec_from_file_location("engine_vs_transformers", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


def test_equal_work_passes_and_unequal_work_is_refused():
    bench = _benchmark()
    bench.check_equal_work({"eager": bench.Work(64, 32, 32), "transformers": bench.Work(64, 32, 32)})
    with pytest.raises(SystemExit) as refused:
        bench.check_equal_work({"eager": bench.Work(64, 32, 32), "transformers": bench.Work(64, 64, 16)})
    assert refused.value.code == 2 and "different work" in str(refused.value)
    assert "transformers: 64 tokens, 64 logits passes, canvas 16" in str(refused.value)


def test_the_script_refuses_a_real_unequal_pair():
    # transformers gets a 16-token canvas, the engine a 32-token one: same tokens, twice the passes.
    run = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--kinds",
            "diffusion",
            "--new-tokens",
            "32",
            "--steps",
            "2",
            "--pairs",
            "4",
            "--block-size",
            "32",
            "--transformers-canvas",
            "16",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert run.returncode == 2, run.stderr[-2000:]
    assert "refusing to compare: the sides did different work" in run.stderr
    assert "eager: 32 tokens, 2 logits passes, canvas 32" in run.stderr
    assert "transformers: 32 tokens, 4 logits passes, canvas 16" in run.stderr


def test_the_gpu_check_runs_on_a_cpu_and_reports_energy_as_missing(tmp_path):
    """The GPU script keeps up with the code it calls (it once indexed a typed reading as a dict)."""
    out = tmp_path / "gpu_check.json"
    command = [sys.executable, str(SCRIPT.parent / "gpu_check.py"), "--device", "cpu", "--window-s", "0.3"]
    command += ["--hidden", "256", "--layers", "1", "--canvases", "16", "--json", str(out)]
    run = subprocess.run(
        command, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    assert run.returncode == 0, run.stderr[-2000:]
    found = json.loads(out.read_text())
    assert found["idle_power_w"] is None and found["device"]["device_name"] is None
    for row in found["energy"]:
        assert row["tokens"] > 0 and row["forward_passes"] > 0 and row["tokens_per_s"] > 0
        # No GPU: every energy figure is missing with its reason, never a zero.
        assert row["gpu_energy_j"] is None and row["joules_per_token"] is None and row["gpu_energy_missing"]
    assert [row["canvas"] for row in found["step_latency_by_canvas"]] == [16]


@pytest.mark.parametrize(
    "script, arguments, named",
    [
        ("gpu_check.py", ["--device", "cpu", "--hidden", "100"], "--hidden=100: must be a multiple of 256"),
        ("gpu_check.py", ["--device", "cpu", "--layers", "0"], "--layers=0: must be at least 1"),
        ("gpu_check.py", ["--device", "cpu", "--window-s", "0"], "--window-s=0.0: must be above 0 seconds"),
        ("gpu_check.py", ["--canvases", "0,x"], "'0,x': comma-separated whole numbers from 1 to 8192"),
        ("realistic_shapes.py", ["--prompt-tokens", "0"], "--prompt-tokens=0: must be at least 1"),
    ],
)
def test_the_gpu_scripts_refuse_bad_input_by_name(script, arguments, named):
    # Refused before any model is built (on a GPU, before device time is spent).
    run = subprocess.run(
        [sys.executable, str(SCRIPT.parent / script), *arguments], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 2 and named in run.stderr, run.stderr[-1000:]
