"""Roofline ceilings: the fastest a device could possibly decode, from bandwidth and compute alone.

A decoder forward pass that computes `n` token positions together reads the weights once (plus
KV cache) and does about 2 x active parameters FLOPs per position. So forwards per second are
capped by both bandwidth / bytes per forward (memory roof) and FLOP/s / (2 x active params x n)
(compute roof), and a decoder that finishes `k` tokens per forward makes at most k x that tokens/s:

- batch-1 autoregressive decode: n = k = 1, so tokens/s <= bandwidth / bytes per token;
- block diffusion: n = canvas length, k = canvas / steps, so the compute roof is
  FLOP/s / (2 x active params x steps) and the memory roof is bandwidth / bytes x canvas / steps.

The crossover is the `n` at which a forward's arithmetic intensity (2 x active params x n FLOPs per
byte read) reaches the device's ridge point (FLOP/s per byte/s): below it decoding is memory-bound.
Without a TFLOPS figure at the compute precision there is no compute roof: the ceiling is the memory
roof alone, `bound()` says "unknown" and `tflops_note` says which figure is missing (another
precision's figure is never borrowed: it would set a roof the device does not have).
Weight-only int4 is read at 0.5 byte per parameter but computed at bf16 (the weights are expanded
before the matrix multiply), so it takes the bf16 compute figure unless told otherwise.

For a mixture-of-experts model, one token reads only its active experts, but a 256-position canvas
routes to most of them: pass `weights_read_billion` (up to the total parameter count) for a more
honest memory roof on forwards over more than one position. `RooflinePoint` places a measured run
or a vendor claim on the same axes. Left out: attention FLOPs, kernel efficiency, prefill, and
batching over users.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from workbench.checks import check_choice, check_float, check_int
from workbench.errors import InvalidSettingError
from workbench.hardware import HardwareProfile, hardware_profile

BYTES_PER_PARAM = {"bf16": 2.0, "fp8": 1.0, "fp4": 0.5, "int4": 0.5}
# The tensor-core precision each weight format is computed at, by default.
COMPUTE_PRECISION = {"bf16": "bf16", "fp8": "fp8", "fp4": "fp4", "int4": "bf16"}


@dataclass(frozen=True)
class Roofline:
    """One device running one model at one precision; sizes in billions, bandwidth in GB/s."""

    hardware: str
    bandwidth_gb_s: float
    tflops: float | None  # None = no published figure: the compute roof is not drawn
    precision: str
    active_params_billion: float
    weights_read_billion: float  # read by a multi-position forward (>= active: a MoE canvas routes widely)
    kv_gb_per_forward: float = 0.0
    tflops_note: str = ""  # why there is no compute figure and what stands in for it

    def __post_init__(self) -> None:
        check_float("bandwidth_gb_s", self.bandwidth_gb_s, 0.0, None, low_inclusive=False)
        if self.tflops is not None:
            check_float("tflops", self.tflops, 0.0, None, low_inclusive=False)
        check_choice("precision", self.precision, BYTES_PER_PARAM)
        check_float("active_params_billion", self.active_params_billion, 0.0, None, low_inclusive=False)
        check_float("weights_read_billion", self.weights_read_billion, self.active_params_billion, None)
        check_float("kv_gb_per_forward", self.kv_gb_per_forward, 0.0, None)

    def bytes_per_forward(self, positions_per_forward: float = 1.0) -> float:
        """Bytes read by one forward: a single position reads only its active weights, a wider one
        reads `weights_read_billion` (the experts its positions route to), plus the KV cache."""
        params = self.active_params_billion if positions_per_forward <= 1 else self.weights_read_billion
        return params * 1e9 * BYTES_PER_PARAM[self.precision] + self.kv_gb_per_forward * 1e9

    @property
    def ridge_flop_per_byte(self) -> float | None:
        return None if self.tflops is None else self.tflops * 1e12 / (self.bandwidth_gb_s * 1e9)

    @property
    def crossover_positions_per_forward(self) -> float | None:
        """Positions per forward at which a (multi-position) forward turns compute-bound."""
        if self.ridge_flop_per_byte is None:
            return None
        wide_bytes = self.bytes_per_forward(math.inf)
        return self.ridge_flop_per_byte * wide_bytes / (2 * self.active_params_billion * 1e9)

    def memory_forwards_per_s(self, positions_per_forward: float = 1.0) -> float:
        return self.bandwidth_gb_s * 1e9 / self.bytes_per_forward(positions_per_forward)

    def compute_forwards_per_s(self, positions_per_forward: float = 1.0) -> float:
        if self.tflops is None:
            return math.inf
        return self.tflops * 1e12 / (2 * self.active_params_billion * 1e9 * positions_per_forward)

    def tokens_per_s(self, positions_per_forward: float = 1.0, tokens_per_forward: float = 1.0) -> float:
        """Ceiling on generated tokens/s for n positions computed and k tokens finished per forward."""
        check_float("positions_per_forward", positions_per_forward, 1.0, None)
        check_float("tokens_per_forward", tokens_per_forward, 0.0, positions_per_forward, low_inclusive=False)
        n = positions_per_forward
        forwards = min(self.memory_forwards_per_s(n), self.compute_forwards_per_s(n))
        return forwards * tokens_per_forward

    def bound(self, positions_per_forward: float = 1.0) -> str:
        """'memory' or 'compute': which roof limits a forward over this many positions; 'unknown' without a
        TFLOPS figure (a regime is never read off a missing number)."""
        if self.tflops is None:
            return "unknown"
        n = positions_per_forward
        return "compute" if self.compute_forwards_per_s(n) < self.memory_forwards_per_s(n) else "memory"

    def ar_tokens_per_s(self) -> float:
        """Batch-1 autoregressive decode ceiling."""
        return self.tokens_per_s(1.0, 1.0)

    def diffusion_tokens_per_s(self, canvas_tokens: int = 256, steps_per_canvas: float = 16.0) -> float:
        """Block-diffusion ceiling with every canvas position computed at each of `steps_per_canvas` forwards."""
        check_int("canvas_tokens", canvas_tokens, 1, None)
        check_float("steps_per_canvas", steps_per_canvas, 1.0, None)
        return self.tokens_per_s(float(canvas_tokens), canvas_tokens / steps_per_canvas)

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "ridge_flop_per_byte": self.ridge_flop_per_byte,
            "crossover_positions_per_forward": self.crossover_positions_per_forward,
            "ar_tokens_per_s": self.ar_tokens_per_s(),
        }


def roofline_for(
    hardware: str | HardwareProfile | None = None,
    *,
    precision: str = "bf16",
    active_params_billion: float,
    weights_read_billion: float | None = None,
    kv_gb_per_forward: float = 0.0,
    bandwidth_gb_s: float | None = None,
    tflops: float | None = None,
    compute_precision: str | None = None,
) -> Roofline:
    """A `Roofline` from a profile (e.g. 'rtx-5090') and/or explicit bandwidth and TFLOPS."""
    check_choice("precision", precision, BYTES_PER_PARAM)
    profile = hardware_profile(hardware) if isinstance(hardware, str) else hardware
    tflops_note = ""
    if bandwidth_gb_s is None:
        if profile is None:
            raise InvalidSettingError("bandwidth_gb_s", None, "a bandwidth in GB/s > 0, or a hardware profile")
        bandwidth_gb_s = profile.bandwidth_gb_s
    if tflops is None and profile is not None:
        compute = compute_precision or COMPUTE_PRECISION[precision]
        check_choice("compute_precision", compute, ("bf16", "fp8", "fp4"))
        tflops = profile.tflops(compute)
        if tflops is None:
            published = [f"{p} {profile.tflops(p):g}" for p in ("bf16", "fp8", "fp4") if profile.tflops(p) is not None]
            tflops_note = (
                f"{profile.name} has no published {compute} TFLOPS figure (published: {', '.join(published) or 'none'}); "
                "no other precision's figure is used in its place: the ceiling is the memory roof alone and "
                "whether decoding is memory- or compute-bound is unknown; give a TFLOPS figure (tflops) to decide it"
            )
    elif tflops is None:
        tflops_note = "no TFLOPS figure given: the ceiling is the memory roof alone and the regime is unknown"
    return Roofline(
        hardware=profile.name if profile is not None else "custom",
        bandwidth_gb_s=bandwidth_gb_s,
        tflops=tflops,
        precision=precision,
        active_params_billion=active_params_billion,
        weights_read_billion=active_params_billion if weights_read_billion is None else weights_read_billion,
        kv_gb_per_forward=kv_gb_per_forward,
        tflops_note=tflops_note,
    )


def percent_of_ceiling(measured_tokens_per_s: float, ceiling_tokens_per_s: float) -> float:
    """How close a measured speed came to its ceiling, in percent (over 100: the roof's inputs are off)."""
    check_float("measured_tokens_per_s", measured_tokens_per_s, 0.0, None, low_inclusive=False)
    check_float("ceiling_tokens_per_s", ceiling_tokens_per_s, 0.0, None, low_inclusive=False)
    return 100.0 * measured_tokens_per_s / ceiling_tokens_per_s


def kv_cache_gb(context_tokens: int, layers: int, kv_heads: int, head_dim: int, bytes_per_value: float = 2.0) -> float:
    """KV cache read by one forward over `context_tokens` of context: keys and values, every layer."""
    sizes = {"context_tokens": context_tokens, "layers": layers, "kv_heads": kv_heads, "head_dim": head_dim}
    for name, value in sizes.items():
        check_float(name, value, 0.0, None)
    check_float("bytes_per_value", bytes_per_value, 0.0, None, low_inclusive=False)
    return 2 * layers * kv_heads * head_dim * bytes_per_value * context_tokens / 1e9


@dataclass(frozen=True)
class RooflinePoint:
    """A speed to place against the roofs: a measured run, or a vendor claim (`claim=True`)."""

    label: str
    tokens_per_s: float
    positions_per_forward: float = 1.0  # 1 for batch-1 AR; the canvas length for block diffusion
    tokens_per_forward: float = 1.0  # 1 for AR; canvas / steps for block diffusion
    claim: bool = False

    def __post_init__(self) -> None:
        check_float("tokens_per_s", self.tokens_per_s, 0.0, None, low_inclusive=False)
        check_float("positions_per_forward", self.positions_per_forward, 1.0, None)
        check_float("tokens_per_forward", self.tokens_per_forward, 0.0, self.positions_per_forward, low_inclusive=False)

    @property
    def positions_per_s(self) -> float:
        """Token positions computed per second: every generated token costs n / k positions."""
        return self.tokens_per_s * self.positions_per_forward / self.tokens_per_forward

    def percent_of(self, ceiling: Roofline) -> float:
        limit = ceiling.tokens_per_s(self.positions_per_forward, self.tokens_per_forward)
        return percent_of_ceiling(self.tokens_per_s, limit)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
