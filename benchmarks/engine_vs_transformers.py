"""Engine overhead: workbench's own loops vs transformers' generate() on the same model and settings.

Prints, from one run, the engine's tokens/s divided by transformers' tokens/s for the autoregressive
and the diffusion backend (target >= 0.95: recording the per-step trace should cost at most 5%).
Runs alternate between the two so that machine noise hits both alike; each pair gives a ratio, and
the median of 20 paired ratios is printed with its middle half (25th-75th percentile), so one run
says both the figure and how far to trust it (5 unpaired repeats swung 0.73-1.88 on a shared CPU).

    python benchmarks/engine_vs_transformers.py                 # embedded tiny models
    python benchmarks/engine_vs_transformers.py --ar gemma-3-270m --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import workbench


def _rate(fn) -> tuple[float, int]:
    """(tokens/s, tokens) of one call; `fn` returns how many new tokens it made."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    started = time.perf_counter()
    tokens = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return tokens / (time.perf_counter() - started), tokens


Spread = tuple[float, float, float]  # median, 25th and 75th percentile of the paired ratios


def compare_ar(name: str, prompt: str, new_tokens: int, repeats: int, device: str) -> Spread:
    handle = workbench.load(name, device=device)
    ids = handle.tokenizer(prompt, return_tensors="pt")["input_ids"].to(handle.device)

    # EOS disabled on both sides (in _ratio) so every run produces exactly `new_tokens` tokens.
    def ours() -> int:
        return handle.generate(prompt, max_new_tokens=new_tokens, temperature=0, seed=0).new_tokens

    def theirs() -> int:
        out = handle.model.generate(ids, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False)
        return out.shape[1] - ids.shape[1]

    return _ratio(handle, ours, theirs, repeats)


def compare_diffusion(name: str, prompt: str, new_tokens: int, steps: int, repeats: int, device: str) -> Spread:
    handle = workbench.load(name, device=device)
    ids = handle.tokenizer(prompt, return_tensors="pt")["input_ids"].to(handle.device)

    def ours() -> int:
        return handle.generate(prompt, max_new_tokens=new_tokens, steps=steps, early_exit=False, seed=0).new_tokens

    def theirs() -> int:
        # A confidence threshold no canvas reaches turns transformers' early exit off, like ours.
        out = handle.model.generate(
            ids, max_new_tokens=new_tokens, max_denoising_steps=steps, confidence_threshold=1e-30
        )
        return out.sequences.shape[1] - ids.shape[1]

    return _ratio(handle, ours, theirs, repeats)


def _ratio(handle, ours, theirs, repeats: int) -> Spread:
    saved = handle.model.generation_config.eos_token_id, handle.eos_ids
    handle.model.generation_config.eos_token_id, handle.eos_ids = None, set()  # every run makes new_tokens
    try:
        ours(), theirs()  # warm-up
        ratios = []
        for index in range(repeats):  # alternating (and which goes first), so noise hits both alike
            first, second = (ours, theirs) if index % 2 == 0 else (theirs, ours)
            (rate_a, tokens_a), (rate_b, tokens_b) = _rate(first), _rate(second)
            if tokens_a != tokens_b:
                raise SystemExit(f"not comparable: one side made {tokens_a} tokens, the other {tokens_b}")
            ratios.append(rate_a / rate_b if first is ours else rate_b / rate_a)
    finally:
        handle.model.generation_config.eos_token_id, handle.eos_ids = saved
    low, middle, high = statistics.quantiles(ratios, n=4)
    return middle, low, high


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ar", default="tiny-ar")
    parser.add_argument("--diffusion", default="tiny-diffusion")
    parser.add_argument("--prompt", default="Once upon a time")
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=20, help="paired runs per backend (at least 4)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    if args.repeats < 4:
        parser.error(f"--repeats={args.repeats}: at least 4, for a median and a middle half")
    ar = compare_ar(args.ar, args.prompt, args.new_tokens, args.repeats, args.device)
    _report("autoregressive", args.ar, ar, args.repeats)
    dg = compare_diffusion(args.diffusion, args.prompt, args.new_tokens, args.steps, args.repeats, args.device)
    _report("diffusion", args.diffusion, dg, args.repeats)


def _report(kind: str, name: str, spread: Spread, repeats: int) -> None:
    median, low, high = spread
    print(
        f"{kind:<15} {name}: engine / transformers tokens/s = {median:.3f} (middle half {low:.3f}-{high:.3f}, "
        f"{repeats} paired runs; target >= 0.95)"
    )


if __name__ == "__main__":
    main()
