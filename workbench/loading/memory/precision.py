"""Weight precisions a memory plan knows: bytes per weight, and which weights a format leaves alone.

Quantized formats store the large matrices (attention and MLP projections, experts) in few bits plus
scales, and keep embeddings, norms, routers and the vision tower in the compute dtype (bf16): that is
how transformers' TorchAoConfig, BitsAndBytesConfig and compressed-tensors checkpoints ship. The
byte figures include the scales (one per group, as each format stores them). Left out: formats that
quantize the embeddings too (GGUF Q4_K_M does), and activation quantization.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Precision:
    name: str
    bytes_per_weight: float  # for quantized matrices: data plus scales
    compute_bytes: int  # the dtype activations, KV cache and unquantized weights are held in
    quantized: bool
    how: str  # what it is, for the plan's notes


PRECISIONS: dict[str, Precision] = {
    p.name: p
    for p in (
        Precision("fp32", 4.0, 4, False, "float32 everywhere"),
        Precision("bf16", 2.0, 2, False, "bfloat16 everywhere"),
        Precision("fp16", 2.0, 2, False, "float16 everywhere"),
        # FP8 (compressed-tensors / torchao): 1 byte + one fp32 scale per output channel (~0 per weight).
        Precision("fp8", 1.0, 2, True, "FP8 matrices, per-channel scales; the rest bf16"),
        # torchao int8 weight-only / bitsandbytes LLM.int8: 1 byte + per-channel scale.
        Precision("int8", 1.0, 2, True, "int8 matrices, per-channel scales; the rest bf16"),
        # torchao int4 weight-only: 0.5 byte + bf16 scale and zero point per group of 128 (4 / 128 byte).
        Precision(
            "int4", 0.5 + 4 / 128, 2, True, "int4 matrices, groups of 128 with bf16 scale and zero; the rest bf16"
        ),
        # bitsandbytes NF4 with double quantization: 0.5 byte + 8-bit absmax per 64 + small second level.
        Precision(
            "nf4", 0.5 + 1 / 64 + 4 / (64 * 256), 2, True, "NF4 matrices (bitsandbytes, double quant); the rest bf16"
        ),
        # NVFP4 (compressed-tensors): 0.5 byte + one FP8 scale per group of 16.
        Precision("fp4", 0.5 + 1 / 16, 2, True, "NVFP4 matrices, FP8 scale per 16; the rest bf16"),
    )
}

# Most to least memory; what the plan walks down when suggesting a smaller precision.
BY_SIZE = sorted(PRECISIONS.values(), key=lambda p: (-p.bytes_per_weight, -p.compute_bytes))
