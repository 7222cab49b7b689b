"""GPU checks to run whenever a GPU machine is at hand (the test suite never needs one).

Prints, from one run on the attached GPU:
1. the device fingerprint NVML gives (name, UUID, driver, power limit, memory);
2. idle power, then energy for generation windows of at least `--window-s` seconds (the NVML
   counter refreshes about every 100 ms, so short windows read low): J/token all-in and marginal,
   tokens/s, for the AR and the diffusion model, in bf16;
3. per-step latency of a random-init DiffusionGemma at a realistic width across canvas lengths: if
   the time per step stays flat while the canvas grows, the decoder is memory-bound; once it grows in
   proportion, it is compute-bound (the crossover the roofline notebook predicts).

    python benchmarks/gpu_check.py --ar tiny-ar --diffusion tiny-diffusion
"""

from __future__ import annotations

import argparse
import json
import time

import torch

import workbench
from workbench.measure.measurement import IdlePower
from workbench.measure.telemetry.energy import EnergyMeter
from workbench.measure.telemetry.gpu import device_info
from workbench.measure.telemetry.power import measure_idle_power


def energy_runs(name: str, prompt: str, window_s: float, idle: IdlePower | None, device: str, **settings) -> dict:
    """Back-to-back generations inside ONE energy window of at least `window_s` seconds.

    Summing many short per-run windows would add up each one's counter-refresh error; one long
    window reads the counter twice, so its error shrinks as the window grows. A figure the meter
    could not take stays None with its reason (on a CPU: no NVML).
    """
    handle = workbench.load(name, device=device, dtype="bfloat16")
    cold = handle.generate(prompt, **settings)  # warm-up: kernels, allocator, clocks (reported apart)
    results = []
    with EnergyMeter(handle.device, idle_power_w=idle, warn=False) as meter:
        started = time.perf_counter()
        while time.perf_counter() - started < window_s:
            results.append(handle.generate(prompt, **settings))
    reading = meter.reading
    tokens = sum(r.new_tokens for r in results)
    per_token = lambda joules: None if joules is None else round(joules / tokens, 4)  # noqa: E731
    return {
        "model": name,
        "cold_tokens_per_s": cold.tokens_per_second,
        "cold_first_token_s": cold.time_to_first_token_s,
        "runs": len(results),
        "tokens": tokens,
        "window_s": round(reading.window_s, 2),
        "tokens_per_s": round(tokens / reading.window_s, 1),
        "forward_passes": sum(r.forward_passes or 0 for r in results),
        "gpu_energy_j": reading.gpu_energy_j,
        "gpu_energy_missing": reading.gpu_energy_missing,
        "gpu_energy_method": reading.gpu_energy_method,
        "joules_per_token": per_token(reading.gpu_energy_j),
        "marginal_joules_per_token": per_token(reading.marginal_energy_j),
        "marginal_energy_missing": reading.marginal_energy_missing,
        "avg_power_w": reading.avg_power_w,
        "short_window_warning": reading.short_window_warning,
    }


def step_latency_by_canvas(hidden: int, layers: int, canvases: list[int], device: str, repeats: int = 20) -> list[dict]:
    from transformers import DiffusionGemmaConfig, DiffusionGemmaForBlockDiffusion

    from workbench.engine import transformers_adapter as adapter

    config = DiffusionGemmaConfig(
        text_config=dict(
            vocab_size=32_768,
            hidden_size=hidden,
            intermediate_size=4 * hidden,
            num_hidden_layers=layers,
            num_attention_heads=hidden // 128,
            num_key_value_heads=2,
            head_dim=128,
            global_head_dim=128,
            num_experts=8,
            top_k_experts=2,
            moe_intermediate_size=hidden,
            max_position_embeddings=8192,
        ),
        vision_config=dict(
            model_type="gemma4_vision",
            hidden_size=16,
            intermediate_size=16,
            num_hidden_layers=1,
            num_attention_heads=1,
            num_key_value_heads=1,
            head_dim=16,
        ),
    )
    model = DiffusionGemmaForBlockDiffusion(config).to(device, torch.bfloat16).eval()
    rows = []
    with torch.inference_mode():
        context = torch.randint(0, 32_768, (1, 512), device=device)
        for canvas in canvases:
            cache = adapter.new_cache(model)
            prefix = torch.ones((1, context.shape[1]), dtype=torch.bool, device=device)
            adapter.encode_prefix(model, context, prefix, cache, torch.arange(context.shape[1], device=device)[None])
            tokens = torch.randint(0, 32_768, (1, canvas), device=device)
            attention = torch.ones((1, context.shape[1] + canvas), dtype=torch.bool, device=device)
            positions = torch.arange(context.shape[1], context.shape[1] + canvas, device=device)[None]
            adapter.denoise_logits(model, tokens, None, attention, cache, positions)  # warm-up
            synchronize(device)
            started = time.perf_counter()
            for _ in range(repeats):
                adapter.denoise_logits(model, tokens, None, attention, cache, positions)
            synchronize(device)
            per_step = (time.perf_counter() - started) / repeats
            rows.append(
                {"canvas": canvas, "ms_per_step": round(per_step * 1e3, 3), "positions_per_s": round(canvas / per_step)}
            )
    return rows


def _canvases(text: str) -> list[int]:
    """--canvases: comma-separated canvas lengths, each a whole number from 1 to 8192."""
    try:
        lengths = [int(part) for part in text.split(",")]
    except ValueError:
        lengths = []
    if not lengths or not all(1 <= n <= 8192 for n in lengths):
        raise argparse.ArgumentTypeError(f"{text!r}: comma-separated whole numbers from 1 to 8192, e.g. 16,64,256")
    return lengths


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ar", default="tiny-ar")
    parser.add_argument("--diffusion", default="tiny-diffusion")
    parser.add_argument("--prompt", default="Once upon a time")
    parser.add_argument("--window-s", type=float, default=5.0, help="energy window per model, seconds (> 0)")
    parser.add_argument("--hidden", type=int, default=2048, help="width of the step-latency model: a multiple of 256")
    parser.add_argument("--layers", type=int, default=8, help="layers of the step-latency model (>= 1)")
    parser.add_argument("--canvases", type=_canvases, default="16,32,64,128,256,512,1024", help="comma-separated")
    parser.add_argument(
        "--device", default="cuda", help="cpu only to try the script out: every energy figure is then missing"
    )
    parser.add_argument("--json", help="also write everything printed to this JSON file")
    args = parser.parse_args()
    if not args.window_s > 0:
        parser.error(f"--window-s={args.window_s}: must be above 0 seconds")
    if args.hidden < 256 or args.hidden % 256:
        parser.error(f"--hidden={args.hidden}: must be a multiple of 256 (128-wide heads, 2 key/value heads)")
    if args.layers < 1:
        parser.error(f"--layers={args.layers}: must be at least 1")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU visible: these checks need one (the test suite does not)")
    found: dict = {"device": device_info(args.device), "torch": torch.__version__}
    print(json.dumps(found["device"], indent=1, default=str))
    idle = measure_idle_power(args.device, seconds=5.0)
    found["idle_power_w"] = None if idle is None else idle.watts
    print(f"idle power: {found['idle_power_w']} W")
    found["energy"] = [
        energy_runs(args.ar, args.prompt, args.window_s, idle, args.device, max_new_tokens=128),
        energy_runs(args.diffusion, args.prompt, args.window_s, idle, args.device, max_new_tokens=128, steps=16),
    ]
    for row in found["energy"]:
        print(json.dumps(row, indent=1))
    found["step_latency_by_canvas"] = step_latency_by_canvas(args.hidden, args.layers, args.canvases, args.device)
    for row in found["step_latency_by_canvas"]:
        print(row)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(found, out, indent=1, default=str)


if __name__ == "__main__":
    main()
