"""`plan(model, hardware=..., precision=...)`: will a run fit in memory, before anything is downloaded?

A run needs, at its peak: the weights at the chosen precision (exact counts from the model's
configuration, see `geometry`), the KV cache for the whole context (a sliding-window layer keeps at
most its window, a full-attention layer every token, each with its own KV heads and head size),
the canvas's logits working set for block diffusion (canvas x vocabulary in fp32, several copies
alive within one step), the activations of the largest single forward (the prompt's prefill or one
canvas step), on a CPU the checkpoint being loaded, and a stated framework overhead. Against a hardware profile's memory
(`workbench/data/hardware.csv`), the attached GPU's free memory, or this machine's available
RAM, the plan answers: fits or not, by how much, and what would fit instead.

Left out: batch > 1, speculative buffers, tensor parallelism over several GPUs, a static cache's
padding to the maximum length, and offloading to CPU (which `device_map="auto"` breaks for
DiffusionGemma's tied encoder/decoder anyway).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from workbench.errors import InvalidSettingError
from workbench.loading.memory.geometry import Geometry, geometry
from workbench.loading.memory.precision import BY_SIZE, PRECISIONS, Precision

GIB = 2**30
# The scheduler keeps, within one step: the model's logits, the previous step's (self-conditioning),
# the temperature-scaled copy, its softmax, and Categorical's normalised log-probabilities and their
# product with the probabilities (entropy): six canvas x vocab arrays at the peak.
LOGITS_COPIES = 6
# Live per-position tensors of one forward, in units of the hidden size (residual stream, norms,
# attention input/output, MLP input/output); MLP and expert intermediates are counted separately.
HIDDEN_COPIES = 8
# GPU: CUDA context and cuBLAS workspaces (0.5-1 GB in practice) plus allocator fragmentation.
GPU_CONTEXT_BYTES = 1 * GIB
GPU_FRAGMENTATION = 0.05
DEFAULT_CONTEXT_TOKENS = 4096  # the prompt length of vLLM's published DiffusionGemma benchmark (2026)


@dataclass(frozen=True)
class Capacity:
    bytes: int
    source: str
    gpu: bool
    free_now: bool  # measured free memory: the process already running (and its CUDA context) is outside it


@dataclass
class MemoryPlan:
    """One model at one precision and context on one device; sizes in bytes."""

    model: str
    kind: str
    hardware: str
    precision: str
    context_tokens: int
    block_size: int | None
    parts: dict[str, int]  # weights, kv_cache, logits, activations, loading, overhead
    how: dict[str, str]  # one line per part: how it was counted
    capacity_bytes: int
    capacity_source: str
    parameters: int
    suggestions: list[str] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(self.parts.values())

    @property
    def margin_bytes(self) -> int:
        """Capacity minus need: headroom when positive, the shortfall when negative."""
        return self.capacity_bytes - self.total_bytes

    @property
    def fits(self) -> bool:
        return self.margin_bytes >= 0

    def verdict(self) -> str:
        need, have = _gb(self.total_bytes), _gb(self.capacity_bytes)
        if self.fits:
            return f"fits: needs {need} of {have}, {_gb(self.margin_bytes)} to spare"
        return f"does not fit: needs {need} but {self.hardware} has {have}, {_gb(-self.margin_bytes)} short"

    def table(self) -> Any:
        import pandas as pd

        rows = [
            {"part": name, "GB": size / 1e9, "how it is counted": self.how[name]} for name, size in self.parts.items()
        ]
        rows.append({"part": "total", "GB": self.total_bytes / 1e9, "how it is counted": self.verdict()})
        rows.append({"part": "capacity", "GB": self.capacity_bytes / 1e9, "how it is counted": self.capacity_source})
        return pd.DataFrame(rows).set_index("part")

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "total_bytes": self.total_bytes,
            "margin_bytes": self.margin_bytes,
            "fits": self.fits,
            "verdict": self.verdict(),
        }

    def __str__(self) -> str:
        canvas = f", canvas {self.block_size}" if self.block_size else ""
        size = f"{self.parameters / 1e9:.2f}B" if self.parameters >= 1e9 else f"{self.parameters / 1e6:.1f}M"
        lines = [
            f"{self.model} ({size} parameters) in {self.precision}, "
            f"{self.context_tokens:,} tokens of context{canvas}, on {self.hardware}:"
        ]
        lines += [f"  {name:<12}{size / 1e9:>9.2f} GB  {self.how[name]}" for name, size in self.parts.items()]
        lines.append(
            f"  {'total':<12}{self.total_bytes / 1e9:>9.2f} GB  of {_gb(self.capacity_bytes)} ({self.capacity_source})"
        )
        lines.append(self.verdict())
        lines += [f"  - {line}" for line in self.suggestions]
        return "\n".join(lines)


def plan(
    model: str,
    hardware: str = "attached",
    precision: str = "bf16",
    block_size: int | None = None,
    context_tokens: int | None = None,
) -> MemoryPlan:
    """The memory a run of `model` needs on `hardware` and whether it fits (see the module docstring).

    `hardware` is a profile name ('rtx-5090', see workbench/data/hardware.csv), 'attached' (the
    GPU torch sees, its free memory) or 'cpu' (this machine's available RAM). `block_size` is the
    diffusion canvas (default: the model's own); `context_tokens` the prompt plus everything generated
    (default: DEFAULT_CONTEXT_TOKENS, or the model's whole context if that is shorter).
    """
    if precision not in PRECISIONS:
        raise InvalidSettingError("precision", precision, "one of " + ", ".join(PRECISIONS))
    shape = geometry(model)
    block = _block(shape, block_size)
    if context_tokens is None:
        context_tokens = min(DEFAULT_CONTEXT_TOKENS, shape.max_positions)
    if (
        isinstance(context_tokens, bool)
        or not isinstance(context_tokens, int)
        or not 1 <= context_tokens <= shape.max_positions
    ):
        raise InvalidSettingError(
            "context_tokens", context_tokens, f"an integer from 1 to {shape.max_positions:,} for {model!r}"
        )
    capacity = capacity_of(hardware)
    result = _plan(shape, PRECISIONS[precision], block, context_tokens, capacity, hardware)
    result.suggestions = _suggestions(shape, result, capacity)
    return result


def capacity_of(hardware: str) -> Capacity:
    """Bytes of memory a run may use on `hardware`, and where that figure comes from."""
    if hardware == "attached":
        import torch

        if not torch.cuda.is_available():
            raise InvalidSettingError("hardware", hardware, "'cpu' or a profile name: torch sees no GPU here")
        free, total = torch.cuda.mem_get_info()
        return Capacity(
            free, f"free memory of {torch.cuda.get_device_name()} now ({total / 1e9:.1f} GB in all)", True, True
        )
    if hardware == "cpu":
        return Capacity(_available_ram(), "MemAvailable in /proc/meminfo now", False, True)
    from workbench.hardware import hardware_profile

    profile = hardware_profile(hardware)
    # Vendors' "32 GB" of GPU memory is 32 GiB (an RTX 5090 reports 32,607 MiB), so GiB it is.
    return Capacity(
        int(profile.memory_gb * GIB),
        f"{profile.device}: {profile.memory_gb:g} GiB ({profile.source}, {profile.date})",
        True,
        False,
    )


def _available_ram() -> int:
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    raise InvalidSettingError("hardware", "cpu", "a profile name: /proc/meminfo has no MemAvailable on this system")


def _block(shape: Geometry, block_size: int | None) -> int | None:
    if shape.kind != "diffusion":
        if block_size is not None:
            raise InvalidSettingError("block_size", block_size, f"None for {shape.name!r}: it is autoregressive")
        return None
    if block_size is None:
        return shape.canvas_length
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise InvalidSettingError("block_size", block_size, "a positive integer (the canvas length)")
    return block_size


def _plan(
    shape: Geometry, precision: Precision, block: int | None, context: int, capacity: Capacity, hardware: str
) -> MemoryPlan:
    b = precision.compute_bytes
    kept = shape.total_params - shape.matrix_params if precision.quantized else shape.total_params
    quantized = shape.matrix_params if precision.quantized else 0
    weights = math.ceil(quantized * precision.bytes_per_weight + kept * b)
    kv = sum(
        2 * layer.kv_heads * layer.head_dim * b * _cached(layer.sliding, shape.sliding_window, context)
        for layer in shape.layers
    )
    positions = block or 1
    logits = LOGITS_COPIES * positions * shape.vocab_size * (shape.logits_bytes or b)
    activations = max(
        _forward_bytes(shape, context, context, b, capacity.gpu),
        _forward_bytes(shape, positions, context + positions, b, capacity.gpu),
    )
    # On a CPU the checkpoint is memory-mapped while its tensors are copied out, and workbench then
    # checks every weight is finite (a bool per element of the largest): both count in the peak.
    # A GPU sees only the copies; the mapping stays in host memory.
    loading = 0 if capacity.gpu else weights + shape.largest_tensor
    base = weights + kv + logits + activations
    cuda_context = 0 if capacity.free_now else GPU_CONTEXT_BYTES
    overhead = cuda_context + math.ceil(GPU_FRAGMENTATION * base) if capacity.gpu else 0
    window = f"sliding layers hold at most {shape.sliding_window:,}" if shape.sliding_window else "no sliding window"
    how = {
        "weights": f"{shape.total_params:,} parameters: {precision.how}"
        if precision.quantized
        else f"{shape.total_params:,} parameters x {b} bytes",
        "kv_cache": f"{context:,} tokens, {len(shape.layers)} layers ({window}), keys and values at {b} bytes",
        "logits": f"{LOGITS_COPIES} x {positions} positions x {shape.vocab_size:,} vocab x {shape.logits_bytes or b} bytes (one step's working set)",
        "activations": "largest forward: prefill of the context or one step"
        + (", attention scores materialised (CPU)" if not capacity.gpu else ""),
        "loading": "none on the GPU: the checkpoint is read in host memory"
        if capacity.gpu
        else "the mapped checkpoint while it is copied, and the finite-weights check of the largest tensor",
        "overhead": (
            "5% allocator fragmentation (the CUDA context is already outside the free memory)"
            if capacity.free_now
            else "CUDA context and workspaces (1 GiB) + 5% allocator fragmentation"
        )
        if capacity.gpu
        else "none beyond the running Python process, which is already outside MemAvailable",
    }
    return MemoryPlan(
        model=shape.name,
        kind=shape.kind,
        hardware=hardware,
        precision=precision.name,
        context_tokens=context,
        block_size=block,
        parts={
            "weights": weights,
            "kv_cache": kv,
            "logits": logits,
            "activations": activations,
            "loading": loading,
            "overhead": overhead,
        },
        how=how,
        capacity_bytes=capacity.bytes,
        capacity_source=capacity.source,
        parameters=shape.total_params,
    )


def _cached(sliding: bool, window: int | None, context: int) -> int:
    return min(context, window) if sliding and window else context


def _forward_bytes(shape: Geometry, positions: int, keys: int, b: int, gpu: bool) -> int:
    """Live tensors of one forward over `positions` tokens attending to `keys` (see HIDDEN_COPIES)."""
    head_dim = max(layer.head_dim for layer in shape.layers)
    per_position = (
        HIDDEN_COPIES * shape.hidden_size
        + 3 * shape.intermediate_size
        + 3 * shape.top_k_experts * shape.moe_intermediate_size
        + 2 * shape.attention_heads * head_dim
    )
    # GPU attention kernels (flash / memory-efficient) never hold the score matrix; CPU's do, in fp32.
    scores = 0 if gpu else shape.attention_heads * positions * keys * 4
    return positions * per_position * b + scores


def _suggestions(shape: Geometry, result: MemoryPlan, capacity: Capacity) -> list[str]:
    """What would fit: a smaller precision at this context, and the longest context at this precision."""
    lines = []
    longest = _longest_context(shape, result, capacity)
    if longest is None:
        lines.append(f"no context fits in {result.precision}: the weights and fixed costs alone exceed the memory")
    elif longest < result.context_tokens or result.fits:
        lines.append(f"longest context that fits in {result.precision}: {longest:,} tokens")
    if not result.fits:
        smaller = [p for p in BY_SIZE if p.bytes_per_weight < PRECISIONS[result.precision].bytes_per_weight]
        for precision in smaller:
            other = _plan(shape, precision, result.block_size, result.context_tokens, capacity, result.hardware)
            if other.fits:
                lines.append(
                    f"{precision.name} fits at this context: {_gb(other.total_bytes)}, {_gb(other.margin_bytes)} to spare"
                )
                break
        else:
            lines.append("no precision known here fits at this context")
    return lines


def _longest_context(shape: Geometry, result: MemoryPlan, capacity: Capacity) -> int | None:
    precision = PRECISIONS[result.precision]

    def fits(context: int) -> bool:
        return _plan(shape, precision, result.block_size, context, capacity, result.hardware).fits

    if not fits(1):
        return None
    low, high = 1, shape.max_positions
    if fits(high):
        return high
    while high - low > 1:  # memory grows with context, so the boundary is found by bisection
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


def _gb(size: int) -> str:
    return f"{size / 1e9:.1f} GB"
