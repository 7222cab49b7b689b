"""The training loop: seeded, resumable, time-budgeted, and exporting a ready-to-load model folder.

`train()` builds the tokenizer, corpus and model from a seed, runs AdamW with linear warmup and a
cosine decay, checkpoints model + optimizer + step + RNG state every N steps (`resume=True`
continues from there), and finally writes the folder the engine loads: config, safetensors weights,
tokenizer, generation config, `workbench.json` and `loss.csv`. With `minutes` instead of `steps`, the
step count is fixed once from the speed of the first steps and recorded, so a run can be repeated
exactly with `steps=`. Left out: mixed precision, gradient accumulation, multi-device training.
"""

from __future__ import annotations

import csv
import json
import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch
import transformers
from tqdm.auto import tqdm
from transformers import (
    DiffusionGemmaGenerationConfig,
    GenerationConfig,
    PreTrainedModel,
    PreTrainedTokenizerFast,
)

from workbench.tiny.train.configs import (
    SETTINGS,
    TrainSettings,
    build_model,
    parameter_count,
    story_tokenizer,
)
from workbench.tiny.train.data import Corpus, ar_batch, build_corpus, diffusion_batch
from workbench.tiny.train.objectives import ar_loss, diffusion_loss

CHECKPOINT = "checkpoint.pt"
CALIBRATE_FROM, CALIBRATE_AT = 5, 25  # time steps 5..25 (the first ones pay for warm-up) to size a --minutes run


def pick_device(device: str) -> torch.device:
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        torch.set_num_threads(len(os.sched_getaffinity(0)))  # every core this process may use
    return torch.device(device)


def learning_rate(step: int, total: int | None, s: TrainSettings) -> float:
    """Linear warmup over `warmup_steps`, then cosine down to `min_lr_ratio` at `total`."""
    if step < s.warmup_steps or total is None or total <= s.warmup_steps:
        return s.lr * min(1.0, (step + 1) / s.warmup_steps)
    progress = min(1.0, (step - s.warmup_steps) / (total - s.warmup_steps))
    return s.lr * (s.min_lr_ratio + (1 - s.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def training_step(
    name: str, model: Any, corpus: Corpus, s: TrainSettings, generator: torch.Generator
) -> tuple[torch.Tensor, int]:
    """One batch's loss, and the canvas length it used (0 for AR)."""
    device = next(model.parameters()).device
    if name == "tiny-diffusion":
        canvas_length = s.canvas_lengths[int(torch.randint(len(s.canvas_lengths), (1,), generator=generator))]
        context, canvas = diffusion_batch(corpus, s.batch_size, canvas_length, generator)
        self_condition = bool(torch.rand((), generator=generator) < s.self_conditioning_rate)
        return diffusion_loss(
            model, context, canvas, generator, self_condition, s.ordered_rate, s.high_noise_rate, s.pure_noise_rate
        ), canvas_length
    input_ids, labels = ar_batch(corpus, s.batch_size, generator)
    return ar_loss(model, input_ids.to(device), labels.to(device)), 0


def train(
    name: str,
    out: str | Path,
    *,
    minutes: float | None = None,
    steps: int | None = None,
    resume: bool = False,
    init_from: str | Path | None = None,
    seed: int = 0,
    device: str = "auto",
    settings: TrainSettings | None = None,
    build: Callable[[str, PreTrainedTokenizerFast], Any] = build_model,
    progress: bool = True,
) -> dict:
    """Train `name` for `steps` steps (or about `minutes` minutes) and export it to `out`; returns the summary.

    `init_from` starts from the weights of an exported folder (a shipped model) with a fresh optimizer and
    schedule: training continued across sessions without a checkpoint in the package.
    """
    if (minutes is None) == (steps is None):
        raise ValueError("give exactly one of minutes or steps")
    s = settings or SETTINGS[name]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    dev = pick_device(device)
    torch.manual_seed(seed)  # model initialisation
    tokenizer = story_tokenizer()
    model = build(name, tokenizer).to(dev)
    earlier = None
    if init_from is not None:
        earlier = _load_exported(name, model, Path(init_from))
    corpus = build_corpus(tokenizer, s.corpus_stories, seed, max(s.canvas_lengths, default=0))
    optimizer = torch.optim.AdamW(model.parameters(), lr=s.lr, betas=s.betas, weight_decay=s.weight_decay)
    generator = torch.Generator().manual_seed(seed + 1)  # batches, noise, self-conditioning coin flips
    step, elapsed, total, rows = 0, 0.0, steps, []

    checkpoint_path = out / CHECKPOINT
    if resume and checkpoint_path.exists():
        state = torch.load(checkpoint_path, weights_only=True)  # tensors and plain data: never runs a pickle's code
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        step, elapsed, total, rows = state["step"], state["elapsed"], state["total"], state["rows"]
        total = steps or total

    model.train()
    bar = tqdm(total=total, initial=step, desc=name, disable=not progress)
    calibration_start = None
    while total is None or step < total:
        started = time.perf_counter()
        lr = learning_rate(step, total, s)
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss, canvas_length = training_step(name, model, corpus, s, generator)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        elapsed += time.perf_counter() - started
        rows.append(
            {
                "step": step,
                "loss": round(loss.item(), 5),
                "lr": lr,
                "canvas_length": canvas_length,
                "elapsed_s": round(elapsed, 2),
            }
        )
        bar.update(1)
        bar.set_postfix(loss=f"{sum(r['loss'] for r in rows[-20:]) / len(rows[-20:]):.3f}")
        if total is None and step == CALIBRATE_FROM:
            calibration_start = elapsed
        if total is None and step == CALIBRATE_AT and calibration_start is not None and minutes is not None:
            per_step = (elapsed - calibration_start) / (CALIBRATE_AT - CALIBRATE_FROM)
            total = max(step + 1, int(minutes * 60 / per_step))
            bar.total = total
            bar.refresh()
        if step % s.checkpoint_every == 0 or step == total:
            _save_checkpoint(checkpoint_path, model, optimizer, generator, step, elapsed, total, rows)
    bar.close()
    summary = {
        "steps": step,
        "seconds": round(elapsed, 1),
        "final_loss": round(sum(r["loss"] for r in rows[-100:]) / len(rows[-100:]), 4),
        "parameters": parameter_count(model),
        "seed": seed,
        "continued_from": earlier,
        "device": str(dev) if dev.type != "cuda" else torch.cuda.get_device_name(dev),
        "threads": torch.get_num_threads(),
        "settings": {k: v for k, v in asdict(s).items() if k != "default_settings"},
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "python": platform.python_version(),
        },
    }
    export(name, model, tokenizer, out, s, summary, rows)
    return summary


def _load_exported(name: str, model: Any, folder: Path) -> dict:
    """Load an exported folder's weights into `model`; returns that folder's training summary."""
    manifest = json.loads((folder / "workbench.json").read_text())
    expected = "diffusion" if name == "tiny-diffusion" else "autoregressive"
    if manifest.get("kind") != expected:
        raise ValueError(f"init_from={str(folder)!r} holds a {manifest.get('kind')!r} model; {name} needs {expected!r}")
    # from_pretrained knows which weights the architecture shares (encoder = decoder, tied lm_head); a strict
    # load then proves the folder holds exactly this architecture.
    exported = type(model).from_pretrained(folder, local_files_only=True)
    model.load_state_dict(exported.state_dict())
    return manifest["training"]


def _save_checkpoint(path: Path, model, optimizer, generator, step, elapsed, total, rows) -> None:
    # Write then rename, so an interrupted save never leaves a half-written checkpoint behind.
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "generator": generator.get_state(),
        "step": step,
        "elapsed": elapsed,
        "total": total,
        "rows": rows,
    }
    torch.save(state, path.with_suffix(".tmp"))
    os.replace(path.with_suffix(".tmp"), path)


def trained_canvas_lengths(summary: dict) -> list[int]:
    """Every canvas length the weights were trained on, over this run and the runs it continued."""
    lengths: set[int] = set()
    stage: dict | None = summary
    while stage is not None:
        lengths.update(stage["settings"].get("canvas_lengths", ()))
        stage = stage.get("continued_from")
    return sorted(lengths)


def export(
    name: str,
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerFast,
    out: Path,
    s: TrainSettings,
    summary: dict,
    rows: list[dict],
) -> None:
    """Write the folder `from_pretrained` and the engine read (fp32 safetensors; checkpoint stays aside)."""
    defaults = s.default_settings
    special = {
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    if name == "tiny-diffusion":
        model.generation_config = DiffusionGemmaGenerationConfig(
            max_new_tokens=defaults["max_new_tokens"],
            max_denoising_steps=defaults["steps"],
            t_min=defaults["t_min"],
            t_max=defaults["t_max"],
            **special,
        )
        # transformers' generate() (and a vLLM server) read the canvas from the config: make it the engine's default
        model.config.canvas_length = defaults["block_size"]
        kind, block_sizes = "diffusion", trained_canvas_lengths(summary)
    else:
        model.generation_config = GenerationConfig(
            do_sample=True,
            temperature=defaults["temperature"],
            top_k=0,
            max_new_tokens=defaults["max_new_tokens"],
            **special,
        )
        kind, block_sizes = "autoregressive", []
    model.eval()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    manifest = {
        "name": name,
        "kind": kind,
        "trained_block_sizes": block_sizes,
        "default_settings": defaults,
        "training": summary,
    }
    (out / "workbench.json").write_text(json.dumps(manifest, indent=2) + "\n")
    with open(out / "loss.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def with_overrides(name: str, **changes) -> TrainSettings:
    """A model's settings with some fields changed (tests use small batches and corpora)."""
    return replace(SETTINGS[name], **changes)
