"""Is a diffusion model's confidence worth trusting? Accuracy per confidence band, per noise level.

A locking sampler (quota, confidence) commits every token whose confidence, the model's own probability
of it, is above a threshold, and never revisits it. That only works if a token given 0.9 is right
about 90% of the time, above all on the nearly all-noise canvases the first steps see. This script
takes fresh stories from the grammar (a seed training never used), cuts each after the prompt
"Once upon a time ,", corrupts the next canvas at exactly rate t with uniform noise (t = 1: all
noise, the first step of every canvas), runs the decoder once, and prints, for the corrupted
positions, how often the argmax is right in each confidence band. Left out: self-conditioning (the
first step has none) and later canvases.

    python benchmarks/diffusion_calibration.py                          # the embedded tiny-diffusion
    python benchmarks/diffusion_calibration.py --diffusion runs/x --noise 1 0.9
"""

from __future__ import annotations

import argparse

import pandas as pd
import torch

import workbench
from workbench.tiny.train.configs import story_tokenizer
from workbench.tiny.train.data import build_corpus

BANDS = [(0.5, 0.9), (0.9, 0.99), (0.99, 1.0)]
PROMPT_TOKENS = 6  # <bos> Once upon a time ,


def calibration(model: torch.nn.Module, context: torch.Tensor, canvas: torch.Tensor, noise_level: float) -> list[dict]:
    """One row per confidence band: corrupted positions in it, their accuracy and mean confidence."""
    generator = torch.Generator().manual_seed(0)
    vocab_size = model.config.text_config.vocab_size
    corrupted = torch.rand(canvas.shape, generator=generator) < noise_level
    noisy = torch.where(corrupted, torch.randint(vocab_size, canvas.shape, generator=generator), canvas)
    with torch.no_grad():
        probs = torch.cat(
            [
                torch.softmax(model(input_ids=c, decoder_input_ids=n).logits.float(), dim=-1)
                for c, n in zip(context.split(100), noisy.split(100))
            ]
        )
    confidence, argmax = probs.max(dim=-1)
    right = argmax == canvas
    rows = []
    for low, high in BANDS:
        band = corrupted & (confidence >= low) & ((confidence < high) | (high == 1.0))
        count = int(band.sum())
        rows.append(
            {
                "noise t": noise_level,
                "confidence band": f"[{low:g}, {high:g}{']' if high == 1.0 else ')'}",
                "positions": count,
                "mean confidence": float(confidence[band].mean()) if count else float("nan"),
                "accuracy": float(right[band].float().mean()) if count else float("nan"),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--diffusion", default="tiny-diffusion", help="registered name or model folder")
    parser.add_argument("--stories", type=int, default=600)
    parser.add_argument("--canvas", type=int, default=32, help="canvas length after the prompt")
    parser.add_argument("--noise", type=float, nargs="+", default=[1.0, 0.9, 0.7, 0.5], help="corruption rates t")
    parser.add_argument("--seed", type=int, default=12345, help="grammar seed of the stories (training used 0)")
    args = parser.parse_args()
    for t in args.noise:
        if not 0 < t <= 1:
            parser.error(f"--noise {t}: allowed are rates in (0, 1]")
    for option, value in (("--stories", args.stories), ("--canvas", args.canvas)):
        if value < 1:
            parser.error(f"{option} {value}: allowed are whole numbers from 1")
    model = workbench.load(args.diffusion, device="cpu").model.eval()
    corpus = build_corpus(story_tokenizer(), args.stories, seed=args.seed, max_canvas=args.canvas)
    context = corpus.ids[:, :PROMPT_TOKENS]
    canvas = corpus.ids[:, PROMPT_TOKENS : PROMPT_TOKENS + args.canvas]
    table = pd.DataFrame([row for t in args.noise for row in calibration(model, context, canvas, t)])
    print(table.to_string(index=False, float_format="{:.3f}".format))
    print("Calibrated: accuracy close to mean confidence in every band. Below it: confidently wrong.")


if __name__ == "__main__":
    main()
