"""Every embedded model loads and generates with the network really unreachable.

The check runs in a child process inside a fresh network namespace (`unshare -n`: no interface but
a downed loopback), so nothing can be fetched even by accident; where namespaces are not allowed it
falls back to HF_HUB_OFFLINE=1 with the hub endpoint pointed at a closed local port.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from workbench.loading.registry import REGISTRY, available_offline

SCRIPT = r"""
import json, workbench
out = {}
for name in ("tiny-ar", "tiny-diffusion", "gemma-3-270m"):
    handle = workbench.load(name, device="cpu")
    prompt = "The capital of France is the city of" if name == "gemma-3-270m" else "Once upon a time"
    result = handle.generate(prompt, seed=0, temperature=0, max_new_tokens=8)
    out[name] = {"kind": handle.kind, "text": result.text, "new_tokens": result.new_tokens}
print(json.dumps(out))
"""


def _isolated_command() -> list[str]:
    if shutil.which("unshare") and subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0:
        return ["unshare", "-n", sys.executable, "-c", SCRIPT]
    return [sys.executable, "-c", SCRIPT]


@pytest.mark.slow
def test_all_embedded_models_load_offline():
    missing = [name for name in ("tiny-ar", "tiny-diffusion") if not available_offline(REGISTRY[name])]
    assert not missing, f"embedded weights missing: {missing}"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_ENDPOINT": "http://127.0.0.1:9"}
    done = subprocess.run(_isolated_command(), capture_output=True, text=True, timeout=900, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    runs = json.loads(done.stdout.strip().splitlines()[-1])
    assert runs["tiny-ar"]["kind"] == "autoregressive" and runs["tiny-diffusion"]["kind"] == "diffusion"
    assert all(run["new_tokens"] >= 1 for run in runs.values())
    assert "Paris" in runs["gemma-3-270m"]["text"]
