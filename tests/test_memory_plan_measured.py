"""The plan against measured peak memory on this CPU, each model in a fresh Python process.

How it is measured: the child imports torch, transformers and workbench and runs a small matrix
multiply (the runtime the plan calls overhead), reads its resident set size, resets the kernel's
peak-RSS mark (writing 5 to /proc/self/clear_refs, so a transient spike while importing cannot hide
the model), loads the model, generates with EOS off, and reads the peak (VmHWM; RSS sees torch's
allocations, unlike tracemalloc). The difference is compared with the plan's total for the context the run really used
(the runtime, ~442 MB here, is already outside the available memory the plan compares with).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from workbench.loading.memory import plan

CHILD = """
import json, sys
import torch
from transformers import AutoModelForCausalLM, DiffusionGemmaForBlockDiffusion
from workbench.loading.load import load
torch.ones(64, 64) @ torch.ones(64, 64)
def status(field):
    with open("/proc/self/status") as lines:
        return next(int(line.split()[1]) * 1024 for line in lines if line.startswith(field + ":"))
runtime = status("VmRSS")
with open("/proc/self/clear_refs", "w") as marks:
    marks.write("5")  # the peak RSS restarts from the current RSS
peak = lambda: status("VmHWM")
name, dtype, new_tokens = sys.argv[1], sys.argv[2], int(sys.argv[3])
handle = load(name, device="cpu", dtype=dtype)
handle.eos_ids = set()  # every run makes exactly new_tokens tokens
extra = {"steps": 4, "early_exit": False} if handle.kind == "diffusion" else {}
result = handle.generate("Once upon a time", max_new_tokens=new_tokens, seed=0, temperature=0, **extra)
print(json.dumps({"runtime": runtime, "peak": peak(), "prompt_tokens": result.prompt_tokens}))
"""


def _measure(name: str, dtype: str, new_tokens: int) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, name, dtype, str(new_tokens)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("name", "dtype", "precision"),
    [
        ("tiny-ar", "float32", "fp32"),
        ("tiny-diffusion", "float32", "fp32"),
        pytest.param("gemma-3-270m", "bfloat16", "bf16", marks=pytest.mark.slow),
    ],
)
def test_plan_within_15_percent_of_measured_peak(name, dtype, precision):
    new_tokens = 64
    measured = _measure(name, dtype, new_tokens)
    predicted = plan(name, hardware="cpu", precision=precision, context_tokens=measured["prompt_tokens"] + new_tokens)
    model_bytes = predicted.total_bytes  # on a CPU the plan's overhead is 0: the runtime is outside MemAvailable
    used = measured["peak"] - measured["runtime"]
    # Within 15%; for the ~40 MB embedded models the allocator's and the weights file's pages that RSS
    # keeps vary by about 15 MB between otherwise equal environments (measured: 42.7 vs 51.5 MB for
    # tiny-diffusion), so they get that much absolute slack. gemma-3-270m (1.4 GB) is held to 15%.
    tolerance = max(0.15 * used, 16 * 2**20)
    assert abs(model_bytes - used) < tolerance, (name, model_bytes, used, predicted.parts)
