"""The software and hardware a run happened on, as a flat record for the results store.

Platform, CPU model, Python and package versions are read once per process: they do not change
while it runs. Package versions come from installed metadata, so nothing heavy is imported to learn
them (`transformers` takes seconds to import). The GPU is identified per run instead, since one
process can use several: `cuda_device_name` asks torch only if torch is already loaded.
"""

from __future__ import annotations

import functools
import platform
import sys
from importlib import metadata
from pathlib import Path

PACKAGES = (
    "torch",
    "transformers",
    "diffusers",
    "tokenizers",
    "accelerate",
    "safetensors",
    "gguf",
    "huggingface-hub",
    "numpy",
    "pandas",
    "nvidia-ml-py",
)


@functools.cache
def environment() -> dict[str, str | None]:
    """Platform, CPU, and versions of Python, torch, transformers and workbench."""
    return {
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "python_version": platform.python_version(),
        "torch_version": package_version("torch"),
        "transformers_version": package_version("transformers"),
        "workbench_version": metadata.version("workbench"),
    }


@functools.cache
def package_versions() -> dict[str, str | None]:
    """Installed version of each package workbench's numbers depend on; `None` when not installed."""
    return {name: package_version(name) for name in PACKAGES}


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str | None:
    # platform.processor() is empty or just "x86_64" on Linux; /proc/cpuinfo has the model name.
    try:
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Hardware"):
                return value.strip()
    except OSError:
        pass
    return platform.processor() or None


def cuda_device_name(device: str) -> str | None:
    """torch's name for a CUDA device string like "cuda:0"; `None` for other devices."""
    torch = sys.modules.get("torch")  # a run on CUDA has loaded torch already; do not load it here
    if torch is None or not device.startswith("cuda") or not torch.cuda.is_available():
        return None
    try:
        return torch.cuda.get_device_name(torch.device(device))
    except (RuntimeError, AssertionError):
        return None
