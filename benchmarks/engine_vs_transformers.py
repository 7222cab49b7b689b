"""Engine overhead: workbench's own loops vs transformers' generate() on the same model and settings.

Prints, from one run, the engine's tokens/s divided by transformers' tokens/s for the autoregressive
and the diffusion backend (target >= 0.95: recording the per-step trace should cost at most 5%).
Runs alternate between the two so that machine noise hits both alike; the medians are compared.

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


def compare_ar(name: str, prompt: str, new_tokens: int, repeats: int, device: str) -> float:
    handle = workbench.load(name, device=device)
    ids = handle.tokenizer(prompt, return_tensors="pt")["input_ids"].to(handle.device)
    # EOS disabled on both sides so every run produces exactly `new_tokens` tokens.
    ours = lambda: handle.generate(prompt, max_new_tokens=new_tokens, temperature=0, seed=0).new_tokens  # noqa: E731
    theirs = lambda: handle.model.generate(  # noqa: E731
        ids, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False
    ).shape[1] - ids.shape[1]
    return _ratio(handle, ours, theirs, repeats)


def compare_diffusion(name: str, prompt: str, new_tokens: int, steps: int, repeats: int, device: str) -> float:
    handle = workbench.load(name, device=device)
    ids = handle.tokenizer(prompt, return_tensors="pt")["input_ids"].to(handle.device)
    ours = lambda: handle.generate(  # noqa: E731
        prompt, max_new_tokens=new_tokens, steps=steps, early_exit=False, seed=0
    ).new_tokens
    # A confidence threshold no canvas reaches turns transformers' early exit off, like ours.
    theirs = lambda: handle.model.generate(  # noqa: E731
        ids, max_new_tokens=new_tokens, max_denoising_steps=steps, confidence_threshold=1e-30
    ).sequences.shape[1] - ids.shape[1]
    return _ratio(handle, ours, theirs, repeats)


def _ratio(handle, ours, theirs, repeats: int) -> float:
    saved = handle.model.generation_config.eos_token_id, handle.eos_ids
    handle.model.generation_config.eos_token_id, handle.eos_ids = None, set()  # every run makes new_tokens
    try:
        ours(), theirs()  # warm-up
        our_rates, their_rates = [], []
        for _ in range(repeats):  # alternating, so noise on this shared machine hits both alike
            (our_rate, our_tokens), (their_rate, their_tokens) = _rate(ours), _rate(theirs)
            if our_tokens != their_tokens:
                raise SystemExit(f"not comparable: the engine made {our_tokens} tokens, transformers {their_tokens}")
            our_rates.append(our_rate)
            their_rates.append(their_rate)
    finally:
        handle.model.generation_config.eos_token_id, handle.eos_ids = saved
    return statistics.median(our_rates) / statistics.median(their_rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ar", default="tiny-ar")
    parser.add_argument("--diffusion", default="tiny-diffusion")
    parser.add_argument("--prompt", default="Once upon a time")
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    ar = compare_ar(args.ar, args.prompt, args.new_tokens, args.repeats, args.device)
    print(f"autoregressive  {args.ar}: engine / transformers tokens/s = {ar:.3f}  (target >= 0.95)")
    dg = compare_diffusion(args.diffusion, args.prompt, args.new_tokens, args.steps, args.repeats, args.device)
    print(f"diffusion       {args.diffusion}: engine / transformers tokens/s = {dg:.3f}  (target >= 0.95)")


if __name__ == "__main__":
    main()
