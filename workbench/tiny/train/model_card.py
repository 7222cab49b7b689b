"""Model cards for the embedded models: README.md and a loss-curve picture beside the weights.

`write_model_card(folder, evaluation)` reads what training left in the folder (`workbench.json`,
`loss.csv`, and `experiments.json` when training tried levers before the run that shipped) and what
`workbench.tiny.train.evaluate.report` measured, and writes `README.md` (data, size, every training stage
with its steps and time, loss, quality and speed tables, the experiments and what they gave, how to
reproduce) and `loss.png`. Every figure in the card is read from those files: nothing is typed in by hand. Left out: any claim about
text outside the story grammar (these models know nothing else).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from workbench.tiny.stories.quality import with_interval
from workbench.tiny.train.objectives import HIGH_NOISE_FLOOR

QUALITY_COLUMNS = {
    "valid_sentence_share": "grammatical sentences",
    "consistent_story_share": "consistent stories",
    "fully_valid_story_share": "fully valid stories",
    "tokens_per_s": "tokens/s (batch 1, CPU)",
}


def _markdown(header: list[str], rows: list[list[str]]) -> str:
    return "\n".join("| " + " | ".join(line) + " |" for line in [header, ["---"] * len(header), *rows])


def _cell(row: dict, column: str) -> str:
    """A value, as a share with its 95% interval where the row has one."""
    value = row[column]
    if f"{column}_low" in row:
        return with_interval(value, row[f"{column}_low"], row[f"{column}_high"])
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def _table(rows: list[dict], first: str) -> str:
    """A Markdown table of the quality columns (pandas' to_markdown would need `tabulate`)."""
    columns = [first, *[c for c in QUALITY_COLUMNS if c in rows[0]]]
    header = [first.replace("_", " "), *[QUALITY_COLUMNS[c] for c in columns[1:]]]
    return _markdown(header, [[_cell(row, c) for c in columns] for row in rows])


def _vocab_size(folder: Path) -> int:
    config = json.loads((folder / "config.json").read_text())
    return config.get("text_config", config)["vocab_size"]  # DiffusionGemma nests its text config


def training_stages(training: dict) -> list[dict]:
    """The runs a model went through, oldest first (each later one continued from the one before)."""
    stages: list[dict] = []
    stage: dict | None = training
    while stage is not None:
        stages.insert(0, stage)
        stage = stage.get("continued_from")
    return stages


ADDED_SHARES = (
    "ordered_rate",
    "high_noise_rate",
    "pure_noise_rate",
)  # settings added after the first stages ran (0 there)


def _changed_settings(name: str, settings: dict) -> list[str]:
    """`--set` options that turn today's `configs.SETTINGS` into the settings a stage ran with."""
    from dataclasses import asdict

    from workbench.tiny.train.configs import SETTINGS

    current = {k: v for k, v in asdict(SETTINGS[name]).items() if k != "default_settings"}
    options = []
    for key, value in current.items():
        used = settings.get(key, 0.0 if key in ADDED_SHARES else value)  # a stage older than the field did without
        if isinstance(value, tuple):
            value, used = list(value), list(used)
        if used != value:
            shown = ",".join(map(str, used)) if isinstance(used, list) else str(used)
            options.append(f"--set {key}={shown}")
    return options


def _noise_shares(settings: dict, separator: str) -> str:
    """The shares trained at high noise or all noise and then `separator` ("" for stages that used neither)."""
    high, pure = settings.get("high_noise_rate", 0.0), settings.get("pure_noise_rate", 0.0)
    parts = [f"t ~ U({HIGH_NOISE_FLOOR:g}, 1) on {high:.0%}"] if high else []
    parts += [f"t = 1 (all noise) on {pure:.0%}"] if pure else []
    return f"{', '.join(parts)} of examples{separator}" if parts else ""


def _stage_line(index: int, stage: dict) -> str:
    s = stage["settings"]
    diffusion = bool(s.get("canvas_lengths"))
    shape = (
        f"canvas {' / '.join(map(str, s['canvas_lengths']))}, ordered corruption on {s.get('ordered_rate', 0.0):.0%} "
        f"of examples, {_noise_shares(s, ', ')}"
        f"self-conditioning on {s['self_conditioning_rate']:.0%} of steps, "
        if diffusion
        else ""
    )
    return (
        f"- stage {index}: {stage['steps']:,} steps in {stage['seconds'] / 60:.1f} minutes on {stage['device']} "
        f"({stage['threads']} threads); {shape}lr {s['lr']:g}, {s['warmup_steps']} warm-up steps, batch "
        f"{s['batch_size']}; loss (mean of its last 100 steps) {stage['final_loss']:.3f}"
    )


EXPERIMENT_COLUMNS = {  # frontier rows shown for each experiment: (sampler, steps, block_size, threshold) -> label
    ("entropy-bound", 32, 32, None): "entropy-bound 32 steps",
    ("entropy-bound", 16, 32, None): "entropy-bound 16 steps",
    ("entropy-bound", 16, 64, None): "entropy-bound 16 steps, block 64",
    ("quota", 16, 32, 0.9): "quota 0.9, 16 steps",
    ("confidence", 16, 32, 0.9): "confidence 0.9, 16 steps",
}


def _experiments(folder: Path) -> list[str]:
    """The experiments section, from `experiments.json` (each with its quick-frontier rows)."""
    path = folder / "experiments.json"
    if not path.exists():
        return []
    experiments = json.loads(path.read_text())
    header = ["experiment", "what was tried", "minutes", *EXPERIMENT_COLUMNS.values()]
    rows = []
    for e in experiments:
        cells = {}
        for r in e["frontier"]:
            key = (r["sampler"], r.get("steps"), r.get("block_size"), r.get("threshold"))  # two thresholds share steps
            if key in EXPERIMENT_COLUMNS:
                cells[EXPERIMENT_COLUMNS[key]] = (
                    f"{r['grammatical']:.0%} / {r['consistent']:.0%} / {r['tokens_per_forward']:.1f}"
                )
        rows.append(
            [e["name"], e["what"], f"{e['minutes']:g}", *[cells.get(c, "-") for c in EXPERIMENT_COLUMNS.values()]]
        )
    table = _markdown(header, rows)
    stories = {e["stories"] for e in experiments}
    return [
        "## Experiments",
        "",
        "Levers tried, each row saying what it started from, each measured with "
        "`benchmarks/diffusion_frontier.py` (`--quick` for the short runs; "
        f"{' / '.join(map(str, sorted(stories)))} stories per setting, all on the tuning prompt "
        '"Once upon a time ," with seeds 0..N-1, so these rows compare runs with each other and flatter the '
        "shipped defaults: the held-out figures are the ones above; "
        "cells: grammatical sentences / consistent stories / tokens per forward pass).",
        "",
        table,
        "",
        *[f"- {e['name']}: {e['finding']}" for e in experiments],
        "",
    ]


def _frontier(folder: Path) -> list[str]:
    """The sampler x steps x block size table from `frontier.json` (benchmarks/diffusion_frontier.py --json)."""
    path = folder / "frontier.json"
    if not path.exists():
        return []
    run = json.loads(path.read_text())
    rows = run["rows"] if isinstance(run, dict) else run  # older files hold the rows alone
    header = [
        "sampler",
        "steps",
        "block size",
        "grammatical",
        "consistent",
        "tokens/forward",
        "tokens/s vs reference",
        "tokens/s vs AR",
    ]
    cells = []
    for r in rows:
        sampler = r["sampler"] + (f" {r['threshold']:g}" if r.get("threshold") is not None else "")
        shares = [_cell(r, k) if f"{k}_low" in r else f"{r[k]:.0%}" for k in ("grammatical", "consistent")]
        cells.append(
            [
                sampler + (" (defaults)" if r.get("default") and r.get("steps") is not None else ""),
                *[f"{r[k]:g}" if r.get(k) is not None else "-" for k in ("steps", "block_size")],
                *shares,
                f"{r['tokens_per_forward']:.2f}",
                f"{r['vs_reference']:.2f}",
                f"{r['vs_ar']:.2f}",
            ]
        )
    table = _markdown(header, cells)
    if isinstance(run, dict):
        stories = (
            f"{run['stories']} stories per setting from the held-out prompts {', '.join(map(repr, run['prompts']))} "
            f"(cycled) with seeds {run['seeds'][0]}-{run['seeds'][1]}, disjoint from the prompt and seeds the "
            'defaults were tuned on ("Once upon a time ," with seeds 0-39); shares of the sentences the model '
            "wrote, with 95% intervals (bootstrap over stories for sentences, Wilson for stories); "
            f"{run['minutes']:g} minutes with {run['threads']} torch thread(s)"
            + (f"; {run['speed_note']}" if run.get("speed_note") else "")
        )
    else:
        stories = 'every setting writes the same stories from "Once upon a time ," with seeds 0..N-1'
    return [
        "## Samplers, steps and block sizes (workbench engine)",
        "",
        f"From one run of `benchmarks/diffusion_frontier.py` ({stories}; through `<eos>`, batch 1 on this "
        "CPU). Speeds are ratios measured in that run: to entropy-bound at 48 steps with block 32 (the "
        "reference), and to the autoregressive twin `tiny-ar` (last row). Locking samplers (quota, "
        "confidence) commit tokens for good.",
        "",
        table,
        "",
    ]


def _sampled(evaluation: dict) -> str:
    """Which stories the quality figures come from, and how long measuring took."""
    if "prompts" not in evaluation:  # an evaluation from before the held-out prompts
        return f"{evaluation['stories']} stories sampled from `<bos>` (seed {evaluation['seed']})"
    return (
        f"{evaluation['stories']} stories per row continuing the held-out prompts "
        f"{', '.join(map(repr, evaluation['prompts']))} (cycled; `torch.manual_seed({evaluation['seed']} + k)` "
        "before prompt k), disjoint from the prompt and seeds the defaults were tuned on "
        '("Once upon a time ," with seeds 0-39); shares count only the sentences the model wrote, each with '
        "its 95% interval (a bootstrap over stories for sentences, Wilson's interval for stories)"
        + (
            f"; the whole evaluation took {evaluation['minutes']:g} minutes with {evaluation['threads']} torch "
            "thread(s)"
            if "minutes" in evaluation
            else ""
        )
    )


def plot_loss(loss: pd.DataFrame, title: str, path: Path) -> None:
    # A bare Figure renders to a file with no GUI backend and no process-wide pyplot state.
    fig = Figure(figsize=(6, 3.2))
    ax = fig.add_subplot()
    ax.plot(loss["step"], loss["loss"], lw=0.5, alpha=0.35, color="tab:blue", label="per batch")
    ax.plot(loss["step"], loss["loss"].rolling(50, min_periods=1).mean(), color="tab:blue", label="mean of 50")
    ax.set(title=title, xlabel="training step", ylabel="cross-entropy (nats per token)", yscale="log")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def write_model_card(folder: str | Path, evaluation: dict) -> Path:
    """Write README.md and loss.png into `folder`; returns the README's path."""
    folder = Path(folder)
    manifest = json.loads((folder / "workbench.json").read_text())
    training = manifest["training"]
    settings = training["settings"]
    loss = pd.read_csv(folder / "loss.csv")
    name = manifest.get("name", folder.name)
    diffusion = manifest["kind"] == "diffusion"
    stages = training_stages(training)
    architecture = "DiffusionGemmaForBlockDiffusion" if diffusion else "Gemma3ForCausalLM"
    plot_loss(loss, f"{name}: training loss", folder / "loss.png")

    checkpoints = [loss.iloc[min(len(loss) - 1, i)] for i in (0, len(loss) // 10, len(loss) // 2, len(loss) - 1)]
    loss_line = ", ".join(f"step {int(r.step)}: {r.loss:.2f}" for r in checkpoints)
    objective = (
        "DiffusionGemma's denoising objective: a random cut of each story gives a clean context (through the "
        "causal encoder) and a canvas of the next " + " / ".join(map(str, settings["canvas_lengths"])) + " tokens (one "
        "length drawn per batch), corrupted "
        f"with uniformly random tokens at a rate t ~ U(0, 1) per example ({_noise_shares(settings, '; ')}on "
        f"{settings.get('ordered_rate', 0.0):.0%} of examples only after a clean prefix of random length, the "
        "state a locking sampler leaves); cross-entropy over every canvas "
        f"position; self-conditioning on {settings['self_conditioning_rate']:.0%} of the steps."
        if diffusion
        else "next-token cross-entropy over whole stories."
    )
    defaults = evaluation["defaults"]
    lines = [
        f"# {name}",
        "",
        f"A {'block-diffusion' if diffusion else 'autoregressive'} `{architecture}` trained by workbench on short "
        "stories generated by its own grammar (`workbench.tiny.stories`), with a word-level tokenizer "
        f"({_vocab_size(folder)} slots). It writes simple stories and nothing "
        "else: it exists so that every comparison in workbench runs offline on readable text. Licence: Apache-2.0.",
        "",
        "## Size and training",
        "",
        f"- parameters: {training['parameters']:,} (unique, tied embeddings counted once)",
        f"- data: {settings['corpus_stories']:,} stories from the grammar, seed {training['seed']}",
        f"- objective: {objective}",
        f"- optimiser: AdamW, lr {settings['lr']:g} (betas {tuple(settings['betas'])}), weight decay "
        f"{settings['weight_decay']:g}, {settings['warmup_steps']} warm-up steps then cosine to "
        f"{settings['min_lr_ratio']:g} x lr; batch {settings['batch_size']}",
        f"- steps: {training['steps']:,} in {training['seconds'] / 60:.1f} minutes on {training['device']} "
        f"({training['threads']} threads); torch {training['versions']['torch']}, transformers "
        f"{training['versions']['transformers']}",
        f"- loss (mean of the last 100 steps): {training['final_loss']:.3f}; along the way: {loss_line}",
        *(
            [
                f"- trained in {len(stages)} stages, each starting from the weights the one before exported "
                f"({sum(st['steps'] for st in stages):,} steps, {sum(st['seconds'] for st in stages) / 60:.0f} "
                "minutes in all; the loss curve shows the last stage):",
                *[_stage_line(i, st) for i, st in enumerate(stages, 1)],
            ]
            if len(stages) > 1
            else []
        ),
        "",
        "![training loss](loss.png)",
        "",
        "## Quality and speed",
        "",
        f"Measured with transformers' own `generate()` on {_sampled(evaluation)}, scored by the exact checks in "
        "`workbench.tiny.stories.checks`; speed at batch 1 on the CPU that wrote this card, new tokens through "
        "`<eos>` per second (a noisy, shared machine: read ratios, not absolute values)."
        + (f" {evaluation['speed_note']}" if evaluation.get("speed_note") else ""),
        "",
        f"Default settings ({json.dumps(manifest['default_settings'])}):",
        "",
        _table([{"settings": "defaults", **defaults}], "settings"),
        "",
    ]
    if diffusion:
        lines += [
            "Denoising steps per canvas (everything else at the defaults): the quality-vs-steps curve.",
            "",
            _table(evaluation["steps"], "steps"),
            "",
            f"Block size (canvas length; trained with {manifest['trained_block_sizes']}):",
            "",
            _table(evaluation["block_size"], "block_size"),
            "",
        ]
    else:
        lines += ["Temperature (0 = greedy):", "", _table(evaluation["temperature"], "temperature"), ""]
    lines += [
        *_frontier(folder),
        *_experiments(folder),
        "## Reproduce",
        "",
        "```bash",
        *[
            " ".join(
                [
                    f"python -m workbench.tiny.train --model {name} --steps {st['steps']} --seed {st['seed']}",
                    f"--out DIR{i}" if len(stages) > 1 else "--out DIR",
                    *([f"--init-from DIR{i - 1}"] if i > 1 else []),
                    *_changed_settings(name, st["settings"]),
                ]
            )
            for i, st in enumerate(stages, 1)
        ],
        f"python -m workbench.tiny.train.evaluate DIR{len(stages) if len(stages) > 1 else ''} "
        f"--stories {evaluation['stories']} --card",
        "```",
        "",
        "The same steps and seed give the same weights on the same torch version, device and thread count.",
        "",
    ]
    readme = folder / "README.md"
    readme.write_text("\n".join(lines))
    return readme
