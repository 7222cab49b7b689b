"""Quality and speed of a trained tiny model, measured with transformers' own generate().

Quality: stories are continued from the held-out prompts (`workbench.tiny.stories.quality`:
prompts cycled, `torch.manual_seed(seed + k)` before prompt k's batches, seed 1000 by default; the
defaults were tuned on "Once upon a time ," with seeds 0-39) and scored by the exact story checks
(share of grammatical sentences the model wrote, consistent and fully valid stories), each with its
95% interval. Speed: a few stories one at a time (batch 1, the single-user case), new tokens up to and
including `<eos>` per wall-clock second. `python -m workbench.tiny.train.evaluate DIR` prints the tables the model cards
carry; `--card` also writes the card (see `model_card`). Left out: the workbench engine (this
measures the raw transformers path) and GPU timings.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoTokenizer,
    DiffusionGemmaForBlockDiffusion,
    Gemma3ForCausalLM,
)

from workbench.tiny.stories.quality import HELD_OUT_PROMPTS, HELD_OUT_SEED, held_out, quality_with_intervals
from workbench.tiny.train.loop import pick_device


def load(folder: str | Path) -> tuple[Any, Any, dict]:  # model, tokenizer, manifest
    """Model, tokenizer and workbench.json of an exported folder, from local files only."""
    manifest = json.loads((Path(folder) / "workbench.json").read_text())
    cls = DiffusionGemmaForBlockDiffusion if manifest["kind"] == "diffusion" else Gemma3ForCausalLM
    model = cls.from_pretrained(folder, local_files_only=True).eval()
    return model, AutoTokenizer.from_pretrained(folder, local_files_only=True), manifest


def _generate(model: Any, bos: torch.Tensor, settings: dict) -> torch.Tensor:
    if isinstance(model, DiffusionGemmaForBlockDiffusion):
        model.config.canvas_length = settings["block_size"]  # the block size is a config field, not an argument
        out = model.generate(
            bos,
            max_new_tokens=settings["max_new_tokens"],
            max_denoising_steps=settings["steps"],
            t_min=settings["t_min"],
            t_max=settings["t_max"],
        )
        return out.sequences
    temperature = settings["temperature"]
    sampling = {"do_sample": True, "temperature": temperature, "top_k": 0} if temperature > 0 else {"do_sample": False}
    return model.generate(bos, max_new_tokens=settings["max_new_tokens"], **sampling)


def _new_tokens(sequences: torch.Tensor, eos_id: int, prompt_length: int = 1) -> list[list[int]]:
    """Generated ids after the prompt, cut after the first <eos> (generate pads finished rows)."""
    rows = []
    for row in sequences[:, prompt_length:].tolist():
        rows.append(row[: row.index(eos_id) + 1] if eos_id in row else row)
    return rows


@torch.inference_mode()
def sample(folder_or_model, stories: int, seed: int = HELD_OUT_SEED, batch_size: int = 50, **overrides) -> dict:
    """Quality with intervals over `stories` held-out stories, plus the texts; settings default to workbench.json's."""
    model, tokenizer, manifest = load(folder_or_model) if isinstance(folder_or_model, (str, Path)) else folder_or_model
    settings = {**manifest["default_settings"], **overrides}
    plan = [prompt for prompt, _ in held_out(stories)]
    texts, prompts = [], []
    for k, prompt in enumerate(HELD_OUT_PROMPTS):
        ids = tokenizer(prompt, return_tensors="pt").input_ids  # <bos> included
        count = plan.count(prompt)
        torch.manual_seed(seed + k)
        for start in range(0, count, batch_size):
            batch = ids.repeat(min(batch_size, count - start), 1)
            for new in _new_tokens(_generate(model, batch, settings), tokenizer.eos_token_id, ids.shape[1]):
                texts.append(f"{prompt} {tokenizer.decode(new, skip_special_tokens=True)}")
                prompts.append(prompt)
    return {**quality_with_intervals(texts, prompts), "texts": texts}


@torch.inference_mode()
def speed(folder_or_model, stories: int = 6, seed: int = HELD_OUT_SEED, **overrides) -> float:
    """Tokens per second at batch 1 (new tokens through <eos>, after one untimed warm-up story)."""
    model, tokenizer, manifest = load(folder_or_model) if isinstance(folder_or_model, (str, Path)) else folder_or_model
    settings = {**manifest["default_settings"], **overrides}
    torch.manual_seed(seed)
    ids = tokenizer(HELD_OUT_PROMPTS[0], return_tensors="pt").input_ids
    _generate(model, ids, settings)
    tokens, seconds = 0, 0.0
    for _ in range(stories):
        started = time.perf_counter()
        sequences = _generate(model, ids, settings)
        seconds += time.perf_counter() - started
        tokens += len(_new_tokens(sequences, tokenizer.eos_token_id, ids.shape[1])[0])
    return tokens / seconds


def report(folder: str | Path, stories: int = 100, seed: int = HELD_OUT_SEED) -> dict:
    """Defaults for both kinds; for diffusion also a steps sweep and a block-size sweep."""
    loaded = load(folder)
    kind, defaults = loaded[2]["kind"], loaded[2]["default_settings"]

    def row(**overrides) -> dict:
        quality = sample(loaded, stories, seed, **overrides)
        quality.pop("texts")
        return {**overrides, **quality, "tokens_per_s": round(speed(loaded, seed=seed, **overrides), 1)}

    started = time.perf_counter()
    result: dict[str, Any] = {"kind": kind, "defaults": row(), "stories": stories, "seed": seed}
    result["prompts"] = list(HELD_OUT_PROMPTS)
    if kind == "diffusion":
        result["steps"] = [row(steps=s) for s in (4, 8, 16, 32, 48)]
        result["block_size"] = [row(block_size=b) for b in (16, 32, 64)]
        loaded[0].config.canvas_length = defaults["block_size"]
    else:
        result["temperature"] = [row(temperature=t) for t in (0.0, 0.8, 1.0)]
    result["minutes"] = round((time.perf_counter() - started) / 60, 1)
    result["threads"] = torch.get_num_threads()
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m workbench.tiny.train.evaluate", description=__doc__.splitlines()[0]
    )
    parser.add_argument("folder")
    parser.add_argument("--stories", type=int, default=100)
    parser.add_argument("--seed", type=int, default=HELD_OUT_SEED, help="first held-out seed (tuning read 0-39)")
    parser.add_argument("--out", help="also write the result as JSON here")
    parser.add_argument(
        "--card", action="store_true", help="also write the model card (README.md, loss.png) into FOLDER"
    )
    args = parser.parse_args(argv)
    pick_device("cpu")
    result = report(args.folder, args.stories, args.seed)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    if args.card:
        from workbench.tiny.train.model_card import write_model_card

        (Path(args.folder) / "evaluation.json").write_text(text + "\n")
        print("model card:", write_model_card(args.folder, result))


if __name__ == "__main__":
    main()
