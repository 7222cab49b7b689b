"""What weight-only quantization costs on the embedded models: same tokens? same quality? faster?

For each model, runs the same prompts and seeds at full precision and quantized (torchao int8 on
a CPU; pass --quantization for another format on a GPU) and prints: the share of runs whose tokens
are identical, the share of token positions that agree, the speed ratio (quantized tokens/s over
full), the grammatical-sentence share of both (workbench.tiny.stories.checks) and, for diffusion, the
denoising steps per canvas (quantized weights can make the sampler need more steps).

    python benchmarks/quantized_vs_full.py                      # tiny-ar and tiny-diffusion, ~1 min on 2 cores
    python benchmarks/quantized_vs_full.py --seeds 32 --device cuda --quantization torchao-int4
"""

from __future__ import annotations

import argparse
import statistics

import workbench
from workbench.tiny.stories.checks import check_stories


def runs(handle, seeds: int, new_tokens: int) -> list:
    extra = {"steps": 16} if handle.kind == "diffusion" else {}
    return [handle.generate("Once upon a time", max_new_tokens=new_tokens, seed=seed, **extra) for seed in range(seeds)]


def compare(name: str, quantization: str, device: str, seeds: int, new_tokens: int) -> dict:
    full, small = (workbench.load(name, device=device), workbench.load(name, device=device, quantization=quantization))
    runs(full, 1, 8), runs(small, 1, 8)  # warm-up
    a, b = runs(full, seeds, new_tokens), runs(small, seeds, new_tokens)
    pairs = [(x.token_ids, y.token_ids) for x, y in zip(a, b, strict=True)]
    positions = sum(min(len(x), len(y)) for x, y in pairs)
    rate = lambda results: sum(r.new_tokens for r in results) / sum(r.total_s for r in results)  # noqa: E731
    row = {
        "model": name,
        "precision": f"{b[0].settings['precision']} vs {a[0].settings['precision']}",
        "runs identical": sum(x == y for x, y in pairs) / len(pairs),
        "positions equal": sum(p == q for x, y in pairs for p, q in zip(x, y)) / max(positions, 1),
        "speed ratio": rate(b) / rate(a),
        "grammatical (full)": check_stories([r.text for r in a]).valid_sentence_share,
        "grammatical (quantized)": check_stories([r.text for r in b]).valid_sentence_share,
    }
    if full.kind == "diffusion":
        steps = lambda results: statistics.mean(r.forward_passes / max(r.settings["canvases"], 1) for r in results)  # noqa: E731
        row["steps per canvas (full / quantized)"] = f"{steps(a):.1f} / {steps(b):.1f}"
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["tiny-ar", "tiny-diffusion"])
    parser.add_argument("--quantization", default="torchao-int8")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=64)
    args = parser.parse_args()
    for name in args.models:
        row = compare(name, args.quantization, args.device, args.seeds, args.new_tokens)
        print(
            "  ".join(
                f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}" for key, value in row.items()
            )
        )


if __name__ == "__main__":
    main()
