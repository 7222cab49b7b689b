"""Connecting to NVML once per process, and finding the NVML device behind a torch device.

The hard part is the mapping. `cuda:1` is the second device *CUDA* sees, after
`CUDA_VISIBLE_DEVICES` (indices, full or shortened `GPU-` UUIDs, or `MIG-` UUIDs) and CUDA's own
ordering have been applied; NVML numbers every GPU in the machine by PCI bus. So the mapping asks
torch for the device's UUID and looks that up in NVML, which is right whatever the environment
says. Only when torch cannot tell does it read `CUDA_VISIBLE_DEVICES` itself.

Under MIG the torch device is a slice of a GPU. Identity (name, UUID, memory) is read from the
slice; power, energy and clocks exist only for the whole board, so those are read from the parent
GPU and the reading says so. Left out: the pre-R470 `MIG-GPU-<uuid>/<gi>/<ci>` syntax (reported as
unsupported rather than guessed).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import torch

from workbench.measure.telemetry.reasons import TelemetryUnavailable, describe

_lock = threading.Lock()
_library: ModuleType | None = None
_failure: str | None = None


def nvml() -> ModuleType:
    """The initialised `pynvml` module, or `TelemetryUnavailable` saying why there is none.

    Initialised once and never shut down: NVML reference-counts init/shutdown, and a notebook
    measures many runs in one process. A failure is remembered too, so a machine without a driver
    pays for the failed library load once.
    """
    global _library, _failure
    with _lock:
        if _library is None and _failure is None:
            _library, _failure = _initialise()
    if _library is None:
        raise TelemetryUnavailable(_failure or "NVML unavailable")
    return _library


def _initialise() -> tuple[ModuleType | None, str | None]:
    try:
        import pynvml
    except ImportError as error:
        return None, f"nvidia-ml-py is not installed: {describe(error)}"
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as error:
        return None, nvml_failure_reason(error)
    return pynvml, None


def nvml_failure_reason(error: BaseException) -> str:
    """Reason text for a failed `nvmlInit`, naming the NVML error class."""
    name = type(error).__name__
    if name in ("NVMLError_LibraryNotFound", "NVMLError_DriverNotLoaded"):
        return f"no NVIDIA driver: {describe(error)}"
    return f"NVML could not start: {describe(error)}"


@dataclass(frozen=True)
class GpuTarget:
    """Where NVML readings for one torch device come from."""

    handle: Any  # the device torch runs on: a whole GPU, or a MIG slice
    board: Any  # the physical GPU: power, energy, clocks and temperature are read here
    mig: bool
    match: str  # how the torch device was found in NVML, for the record


def find_gpu(device: torch.device | str) -> GpuTarget:
    """The NVML device behind `device`; `TelemetryUnavailable` with the reason when there is none."""
    device = torch.device(device)
    if device.type != "cuda":
        raise TelemetryUnavailable(f"run on {device.type}: no NVIDIA GPU to read (NVML covers CUDA devices only)")
    lib = nvml()
    index = device.index if device.index is not None else _current_cuda_index()
    uuid = _torch_uuid(index)
    if uuid is not None:
        handle, match = _by_uuid(lib, uuid), f"cuda:{index} -> UUID {uuid} (from torch)"
    else:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        entry = visible_entry(index, visible)
        handle = _by_visible_entry(lib, entry)
        match = f"cuda:{index} -> NVML {entry!r} (CUDA_VISIBLE_DEVICES={visible!r})"
    mig = _is_mig(lib, handle)
    board = lib.nvmlDeviceGetDeviceHandleFromMigDeviceHandle(handle) if mig else handle
    if mig:
        match += "; MIG slice: power and energy are for the whole GPU, shared with other slices"
    return GpuTarget(handle=handle, board=board, mig=mig, match=match)


def visible_entry(index: int, visible: str | None) -> str:
    """What CUDA ordinal `index` refers to under `CUDA_VISIBLE_DEVICES` (unset: the index itself)."""
    if visible is None:
        return str(index)
    entries = [entry.strip() for entry in visible.split(",") if entry.strip()]
    if not 0 <= index < len(entries):
        raise TelemetryUnavailable(f"cuda:{index} is not among CUDA_VISIBLE_DEVICES={visible!r}")
    return entries[index]


def _current_cuda_index() -> int:
    # A bare "cuda" means the current device; asking would start CUDA, which index 0 does not need.
    return torch.cuda.current_device() if torch.cuda.is_initialized() else 0


def _torch_uuid(index: int) -> str | None:
    if not torch.cuda.is_available():
        return None
    try:
        raw = str(torch.cuda.get_device_properties(index).uuid)
    except (RuntimeError, AssertionError, AttributeError):
        return None
    return raw.removeprefix("GPU-").removeprefix("MIG-") or None


def _is_mig(lib: ModuleType, handle: Any) -> bool:
    try:
        return bool(lib.nvmlDeviceIsMigDeviceHandle(handle))  # a ctypes c_uint; bool() reads its value
    except lib.NVMLError:
        return False  # drivers before MIG existed do not have the call


def _by_uuid(lib: ModuleType, uuid: str) -> Any:
    # CUDA reports the bare UUID; NVML wants it with the prefix of whatever it is.
    for prefix in ("GPU-", "MIG-"):
        try:
            return lib.nvmlDeviceGetHandleByUUID(prefix + uuid)
        except lib.NVMLError:
            continue
    raise TelemetryUnavailable(f"NVML has no device with UUID {uuid}")


def _by_visible_entry(lib: ModuleType, entry: str) -> Any:
    if entry.isdigit():
        # CUDA numbers GPUs fastest-first unless CUDA_DEVICE_ORDER=PCI_BUS_ID; with one GPU it agrees.
        return lib.nvmlDeviceGetHandleByIndex(int(entry))
    if entry.startswith("MIG-"):
        if "/" in entry:
            raise TelemetryUnavailable(f"CUDA_VISIBLE_DEVICES entry {entry!r}: old MIG syntax is not supported")
        return lib.nvmlDeviceGetHandleByUUID(entry)
    wanted = entry if entry.startswith("GPU-") else "GPU-" + entry
    handles = [lib.nvmlDeviceGetHandleByIndex(i) for i in range(lib.nvmlDeviceGetCount())]
    matches = [h for h in handles if lib.nvmlDeviceGetUUID(h).startswith(wanted)]
    if len(matches) != 1:
        raise TelemetryUnavailable(f"CUDA_VISIBLE_DEVICES entry {entry!r} matches {len(matches)} GPUs in NVML")
    return matches[0]
