"""DiffusionGemma and Gemma 4 26B-A4B at their real geometry, random weights: per-step time at real shapes.

Builds each model from the published configuration (`workbench/loading/memory/configs/`) with a stated
number of layers (memory allows few on a CPU) and random weights, then times, in bf16:

- DiffusionGemma: one denoising step (the decoder over the canvas, reading a cached prompt) at canvas
  16, 32, 64, 128, 256, through `workbench.engine.transformers_adapter` (encode_prefix, denoise_logits);
- Gemma 4: one autoregressive decode step (one token, the same cached prompt).

Each is timed with 1 and with 2 of the built layers in use, so a step splits into a fixed part
(embedding, logits over the 262,144-token vocabulary) and a per-layer part; the full-depth step is
fixed + 30 x per-layer. With `--full-depth` (a GPU with ~60 GB free: 25.2B parameters in bf16) all
30 layers are built and timed directly instead. Printed: per-step time, positions/s (canvas / step time) and, on a GPU with
a matching --hardware profile, the fraction of its roofline (`workbench.cost`): 3.8B active
parameters per position, all 25.2B read by a canvas forward, the 3.8B active ones by a one-token
decode (model card figures). For DiffusionGemma it also prints the tokens/s a canvas implies at the
published mean of 26.6 denoising steps per canvas (prefill left out), to set beside the vendor's
claim of about 1,000 tokens/s on an H100. On a CPU there
is no roofline profile, so that column is None with the reason. The 1-versus-2-layer split needs a
quiet machine: on a shared CPU with --small's 2 repeats it is noise-dominated (the raw 1- and
2-layer times are printed beside the extrapolation so that this shows). The vision tower is built tiny (it
plays no part in text steps). Left out: quality (random weights), early exit, quantized formats.

    python benchmarks/realistic_shapes.py --small      # CPU: canvas 16-64, 2 repeats, a few minutes
    python benchmarks/realistic_shapes.py --hardware rtx-5090   # on that GPU
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from functools import partial

import torch

from workbench.cost import roofline_for
from workbench.engine import transformers_adapter as adapter
from workbench.loading.memory.geometry import CONFIGS_DIR

LAYERS_BUILT = 2
FULL_DEPTH = 30
MEAN_STEPS_PER_CANVAS = 26.6  # published mean for DiffusionGemma (model card)
TINY_VISION = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "num_key_value_heads": 2,
    "head_dim": 16,
}


def build(name: str, device: torch.device, layers: int = LAYERS_BUILT) -> torch.nn.Module:
    from transformers import AutoConfig, DiffusionGemmaForBlockDiffusion, Gemma4ForCausalLM

    fields = {k: v for k, v in json.loads((CONFIGS_DIR / f"{name}.json").read_text()).items() if not k.startswith("_")}
    text = {**fields["text_config"], "num_hidden_layers": layers}
    if layers == LAYERS_BUILT:  # one layer of each attention kind; at full depth the config's own pattern
        text["layer_types"] = ["sliding_attention", "full_attention"]
    if fields["model_type"] == "diffusion_gemma":
        config = AutoConfig.for_model("diffusion_gemma", canvas_length=256, text_config=text, vision_config=TINY_VISION)
        model_class = DiffusionGemmaForBlockDiffusion
    else:
        config = AutoConfig.for_model("gemma4_text", **text)
        model_class = Gemma4ForCausalLM
    with torch.device("meta"):
        model = model_class(config)
    model = model.to(torch.bfloat16).to_empty(device=device)  # bf16 while still on meta: no float32 copy
    with torch.no_grad():
        for parameter in model.parameters():  # random weights at a trained model's scale
            parameter.normal_(0.0, 0.02)
    return model.eval()


def timed(fn, repeats: int, device: torch.device) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def diffusion_step_s(
    model, prompt: int, canvas: int, layers: int, repeats: int, device, built: int = LAYERS_BUILT
) -> float:
    model.config.text_config.num_hidden_layers = built
    cache = adapter.new_cache(model)  # shaped for the built layers
    model.config.text_config.num_hidden_layers = layers  # the encoder and decoder stop after this many
    ids = torch.randint(0, 262_144, (1, prompt), device=device)
    mask = torch.ones((1, prompt), dtype=torch.bool, device=device)
    adapter.encode_prefix(model, ids, mask, cache, torch.arange(prompt, device=device).unsqueeze(0))
    tokens = torch.randint(0, 262_144, (1, canvas), device=device)
    full = torch.ones((1, prompt + canvas), dtype=torch.bool, device=device)
    positions = torch.arange(prompt, prompt + canvas, device=device).unsqueeze(0)
    return timed(lambda: adapter.denoise_logits(model, tokens, None, full, cache, positions), repeats, device)


def ar_step_s(model, prompt: int, layers: int, repeats: int, device, built: int = LAYERS_BUILT) -> float:
    model.config.num_hidden_layers = built
    cache = adapter.new_cache(model)  # shaped for the built layers (the config checks its layer types)
    model.config.num_hidden_layers = layers
    adapter.causal_lm_logits(model, torch.randint(0, 262_144, (1, prompt), device=device), cache)
    token = torch.randint(0, 262_144, (1, 1), device=device)
    # Each timed step appends one token: the context grows from `prompt` by the few repeats, a negligible change.
    return timed(lambda: adapter.causal_lm_logits(model, token, cache), repeats, device)


def full_depth_step(
    step_s: Callable[[int], float], timed_directly: bool
) -> tuple[float, float | None, float | None, float | None]:
    """(step at full depth, 1-layer, 2-layer, per-layer time): `step_s(layers)` at all 30 layers
    when they are built (the last three None), else extrapolated from 1 and 2 layers."""
    if timed_directly:
        return step_s(FULL_DEPTH), None, None, None
    one, two = step_s(1), step_s(2)
    per_layer = max(two - one, 0.0)
    return one - per_layer + FULL_DEPTH * per_layer, one, two, per_layer


def roofline_share(hardware: str | None, positions: int, step_s: float, device) -> tuple[float | None, str]:
    if device.type != "cuda" or hardware is None:
        return None, "no roofline: this is not a GPU run with a --hardware profile"
    # A one-token decode reads its 8 active experts per layer; a canvas routes to nearly all 128.
    read = 3.8 if positions == 1 else 25.2
    roof = roofline_for(hardware, precision="bf16", active_params_billion=3.8, weights_read_billion=read)
    return positions / step_s / roof.tokens_per_s(positions, positions), f"of the {hardware} bf16 roofline"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="CPU-sized: canvas 16-64, 2 repeats")
    parser.add_argument("--full-depth", action="store_true", help="build and time all 30 layers (GPU, ~60 GB)")
    parser.add_argument("--hardware", help="profile of the attached GPU, for the roofline fraction")
    parser.add_argument("--prompt-tokens", type=int, default=64)
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args()
    if args.prompt_tokens < 1:
        parser.error(f"--prompt-tokens={args.prompt_tokens}: must be at least 1 (the cached context before the step)")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    canvases, repeats = ([16, 32, 64], 2) if args.small else ([16, 32, 64, 128, 256], 5)
    built = FULL_DEPTH if args.full_depth else LAYERS_BUILT
    how = "timed directly" if args.full_depth else "extrapolated from 1 and 2"
    print(f"device {device}, bf16, random weights, {built} layers built, full depth ({FULL_DEPTH}) {how}")
    rows: list[dict] = []
    dg = build("diffusiongemma-26b-a4b", device, built)
    for canvas in canvases:
        step, one, two, per_layer = full_depth_step(
            partial(diffusion_step_s, dg, args.prompt_tokens, canvas, repeats=repeats, device=device, built=built),
            args.full_depth,
        )
        share, why = roofline_share(args.hardware, canvas, step, device)
        implied = canvas / (MEAN_STEPS_PER_CANVAS * step)
        rows.append(_row("DiffusionGemma denoising step", canvas, step, one, two, per_layer, share, why, implied))
        print(
            f"DiffusionGemma canvas {canvas:>3}: step {step * 1e3:8.1f} ms at {FULL_DEPTH} layers{_measured(one, two, per_layer)}, "
            f"{canvas / step:8.1f} positions/s, {implied:7.1f} tokens/s at {MEAN_STEPS_PER_CANVAS} steps per canvas, "
            f"roofline fraction {share if share is None else f'{share:.1%}'} ({why})"
        )
    del dg
    if device.type == "cuda":
        torch.cuda.empty_cache()
    ar = build("gemma-4-26b-a4b", device, built)
    step, one, two, per_layer = full_depth_step(
        partial(ar_step_s, ar, args.prompt_tokens, repeats=repeats, device=device, built=built), args.full_depth
    )
    share, why = roofline_share(args.hardware, 1, step, device)
    rows.append(_row("Gemma 4 autoregressive decode", 1, step, one, two, per_layer, share, why, 1 / step))
    print(
        f"Gemma 4 AR decode: step {step * 1e3:8.1f} ms at {FULL_DEPTH} layers{_measured(one, two, per_layer)}, "
        f"{1 / step:8.1f} tokens/s, roofline fraction {share if share is None else f'{share:.1%}'} ({why})"
    )
    if args.json:
        meta = {
            "device": str(device),
            "name": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
            "torch": torch.__version__,
            "layers_built": built,
            "repeats": repeats,
            "prompt_tokens": args.prompt_tokens,
        }
        with open(args.json, "w") as out:
            json.dump({"conditions": meta, "rows": rows}, out, indent=1)


def _measured(one: float | None, two: float | None, per_layer: float | None) -> str:
    if one is None or two is None or per_layer is None:
        return ""
    return f" (measured {one * 1e3:.1f} / {two * 1e3:.1f} ms at 1 / 2 layers, {per_layer * 1e3:.1f} ms/layer)"


def _row(what, positions, step, one, two, per_layer, share, why, tokens_per_s) -> dict:
    ms = lambda s: None if s is None else round(s * 1e3, 3)  # noqa: E731
    return {
        "what": what,
        "positions_per_forward": positions,
        "step_ms": ms(step),
        "one_layer_ms": ms(one),
        "two_layer_ms": ms(two),
        "per_layer_ms": ms(per_layer),
        "positions_per_s": round(positions / step, 1),
        "tokens_per_s": round(tokens_per_s, 1),
        "roofline_fraction": share,
        "roofline_note": why,
    }


if __name__ == "__main__":
    main()
