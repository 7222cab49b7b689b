"""The engine benchmark compares equal work only: it refuses a pair of sides that did different work."""

from __future__ import annotations

import importlib.util
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
