"""Training code on toy-sized models (seconds), and the shipped tiny models loaded offline."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from workbench.tiny.train import build_model, parameter_count, story_tokenizer, train
from workbench.tiny.train.configs import SETTINGS
from workbench.tiny.train.data import build_corpus, diffusion_batch
from workbench.tiny.train.loop import with_overrides
from workbench.tiny.train.objectives import HIGH_NOISE_FLOOR, corrupt

WEIGHTS = Path(__file__).resolve().parents[1] / "workbench" / "tiny" / "weights"
TOY = {
    "tiny-diffusion": {
        "hidden_size": 32,
        "intermediate_size": 32,
        "moe_intermediate_size": 16,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "head_dim": 16,
        "global_head_dim": 16,
    },
    "tiny-ar": {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "head_dim": 16,
    },
}


def toy_build(name, tokenizer):
    return build_model(name, tokenizer, **TOY[name])


def toy_train(name: str, out: Path, steps: int, resume: bool = False, lr: float = 3e-3) -> dict:
    settings = with_overrides(
        name,
        batch_size=4,
        corpus_stories=64,
        checkpoint_every=2,
        warmup_steps=2,
        lr=lr,
        canvas_lengths=(8, 16) if name == "tiny-diffusion" else (),
    )
    return train(
        name, out, steps=steps, resume=resume, seed=3, device="cpu", settings=settings, build=toy_build, progress=False
    )


def _losses(folder: Path) -> list[tuple[str, ...]]:
    return [tuple(line.split(",")[:4]) for line in (folder / "loss.csv").read_text().splitlines()]


def test_real_configs_have_matched_parameter_counts():
    tokenizer = story_tokenizer()
    diffusion, ar = (parameter_count(build_model(n, tokenizer)) for n in ("tiny-diffusion", "tiny-ar"))
    assert abs(diffusion - ar) / max(diffusion, ar) < 0.10


def test_diffusion_batches_cut_every_story_at_one_point():
    tokenizer = story_tokenizer()
    corpus = build_corpus(tokenizer, 32, seed=0)
    generator = torch.Generator().manual_seed(0)
    context, canvas = diffusion_batch(corpus, 8, 16, generator)
    assert context.shape[0] == canvas.shape[0] == 8 and canvas.shape[1] == 16
    assert (context[:, 0] == tokenizer.bos_token_id).all()
    noisy = corrupt(canvas, len(tokenizer), generator)
    assert noisy.shape == canvas.shape and (noisy != canvas).any()


def test_ordered_corruption_keeps_a_clean_prefix_and_noises_only_after_it():
    canvas = torch.arange(16).repeat(200, 1) + 300  # ids no noise draw (< 256) can reproduce
    generator = torch.Generator().manual_seed(0)
    noisy = corrupt(canvas, 256, generator, ordered_rate=1.0)
    corrupted = noisy != canvas
    first = torch.where(corrupted.any(1), corrupted.int().argmax(1), 16)
    assert (first > 0).any() and corrupted.any()  # some rows keep a clean prefix, some rows are corrupted
    # every row is clean before its first corrupted position, so prefix lengths vary from row to row
    assert len(set(first.tolist())) > 8
    iid = corrupt(canvas, 256, torch.Generator().manual_seed(0), ordered_rate=0.0) != canvas
    # iid corruption hits position 0 far more often than ordered corruption does
    assert iid[:, 0].float().mean() > corrupted[:, 0].float().mean() + 0.2


def test_high_and_pure_noise_shares_draw_corruption_rates_from_the_top_of_the_range():
    canvas = torch.full((400, 256), 300)  # an id no noise draw (< 256) can reproduce
    rate = {
        share: (corrupt(canvas, 256, torch.Generator().manual_seed(0), high_noise_rate=share) != canvas).float().mean(1)
        for share in (0.0, 0.5, 1.0)
    }
    assert rate[1.0].min() > HIGH_NOISE_FLOOR - 0.1  # every example drew t from [floor, 1]
    assert (rate[0.0] < 0.5).float().mean() > 0.4  # t ~ U(0, 1): about half the examples below 0.5
    assert 0.15 < (rate[0.5] < 0.5).float().mean() < 0.35  # half of the examples moved up
    all_noise = corrupt(canvas, 256, torch.Generator().manual_seed(0), pure_noise_rate=0.5) != canvas
    assert 0.4 < all_noise.all(1).float().mean() < 0.6  # t = 1 replaces every token of half the examples


def test_training_continues_from_an_exported_folder(tmp_path):
    first = toy_train("tiny-diffusion", tmp_path / "first", steps=2)
    # lr 0: the continued run must export exactly the weights it started from (encoder = decoder, tied lm_head)
    frozen = with_overrides("tiny-diffusion", batch_size=4, corpus_stories=64, canvas_lengths=(4,), lr=0.0)
    second = train(
        "tiny-diffusion",
        tmp_path / "second",
        steps=1,
        init_from=tmp_path / "first",
        device="cpu",
        settings=frozen,
        build=toy_build,
        progress=False,
    )
    assert second["continued_from"]["steps"] == first["steps"] == 2
    a, b = (load_file(tmp_path / run / "model.safetensors") for run in ("first", "second"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # the weights saw canvases of 8 and 16 in the first run and 4 in the second: the manifest names all three
    assert json.loads((tmp_path / "second" / "workbench.json").read_text())["trained_block_sizes"] == [4, 8, 16]
    with pytest.raises(
        Exception, match="holds a 'diffusion' model; tiny-ar needs 'autoregressive'"
    ):  # an AR model cannot start from diffusion weights
        train(
            "tiny-ar",
            tmp_path / "wrong",
            steps=1,
            init_from=tmp_path / "first",
            device="cpu",
            settings=with_overrides("tiny-ar", batch_size=4, corpus_stories=64),
            build=toy_build,
            progress=False,
        )


@pytest.mark.parametrize("name", ["tiny-diffusion", "tiny-ar"])
def test_training_runs_exports_and_resumes_identically(name, tmp_path):
    straight = toy_train(name, tmp_path / "straight", steps=4)
    assert straight["steps"] == 4 and math.isfinite(straight["final_loss"])
    toy_train(name, tmp_path / "resumed", steps=2)  # checkpoint at step 2 (warmup: same lr either way)
    toy_train(name, tmp_path / "resumed", steps=4, resume=True)
    a = load_file(tmp_path / "straight" / "model.safetensors")
    b = load_file(tmp_path / "resumed" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert _losses(tmp_path / "straight") == _losses(tmp_path / "resumed")  # elapsed_s differs, losses must not
    manifest = json.loads((tmp_path / "straight" / "workbench.json").read_text())
    assert manifest["kind"] == ("diffusion" if name == "tiny-diffusion" else "autoregressive")
    assert (tmp_path / "straight" / "tokenizer.json").exists() and (tmp_path / "straight" / "config.json").exists()


class _RunsCode:
    """A pickle that runs code when loaded (what a tampered checkpoint can carry)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_resuming_never_runs_code_from_a_checkpoint(tmp_path):
    out, marker = tmp_path / "run", tmp_path / "code-ran"
    out.mkdir()
    torch.save({"model": _RunsCode(marker)}, out / "checkpoint.pt")
    with pytest.raises(Exception, match="[Ww]eights only load failed|Unsupported global"):
        toy_train("tiny-ar", out, steps=2, resume=True)
    assert not marker.exists()


def test_ar_loss_goes_down(tmp_path):
    toy_train("tiny-ar", tmp_path, steps=12, lr=1e-2)
    losses = [float(row[1]) for row in _losses(tmp_path)[1:]]
    assert sum(losses[-3:]) < sum(losses[:3])


@pytest.mark.parametrize("name", ["tiny-diffusion", "tiny-ar"])
def test_shipped_weights_load_offline_and_write_stories(name, monkeypatch):
    folder = WEIGHTS / name
    if not (folder / "model.safetensors").exists():
        pytest.skip(f"{name} has not been trained yet")
    monkeypatch.setitem(os.environ, "HF_HUB_OFFLINE", "1")
    from workbench.tiny.train.evaluate import load, sample

    loaded = load(folder)
    assert type(loaded[0]).__name__ == (
        "DiffusionGemmaForBlockDiffusion" if name == "tiny-diffusion" else "Gemma3ForCausalLM"
    )
    result = sample(loaded, stories=4, seed=0, batch_size=4)
    assert result["valid_sentence_share"] >= 0.8, result["texts"]


def test_model_card_is_written_from_measurements(tmp_path):
    from workbench.tiny.stories.quality import with_interval
    from workbench.tiny.train.evaluate import report
    from workbench.tiny.train.model_card import write_model_card

    summary = toy_train("tiny-diffusion", tmp_path, steps=3)
    manifest = json.loads((tmp_path / "workbench.json").read_text())
    manifest["default_settings"].update(max_new_tokens=8, steps=2, block_size=8)  # seconds, not minutes
    (tmp_path / "workbench.json").write_text(json.dumps(manifest))
    evaluation = report(tmp_path, stories=2)
    card = write_model_card(tmp_path, evaluation).read_text()
    assert (tmp_path / "loss.png").stat().st_size > 1000
    assert f"{summary['parameters']:,}" in card and f"{summary['steps']:,} in" in card
    steps_rows = [line for line in card.splitlines() if line.startswith("| 4 |") or line.startswith("| 48 |")]
    assert len(steps_rows) == 2  # the quality-vs-steps table has a row per measured step count
    defaults = evaluation["defaults"]
    assert with_interval(*[defaults[f"valid_sentence_share{end}"] for end in ("", "_low", "_high")]) in card


def test_shipped_diffusion_quality_falls_when_steps_are_cut(monkeypatch):
    folder = WEIGHTS / "tiny-diffusion"
    if not (folder / "model.safetensors").exists():
        pytest.skip("tiny-diffusion has not been trained yet")
    monkeypatch.setitem(os.environ, "HF_HUB_OFFLINE", "1")
    from workbench.tiny.train.evaluate import load, sample

    loaded = load(folder)
    default = sample(loaded, stories=8, seed=0, batch_size=8)["valid_sentence_share"]
    cut = sample(loaded, stories=8, seed=0, batch_size=8, steps=2)["valid_sentence_share"]
    assert default >= 0.8 and cut < default - 0.3, (default, cut)  # the model card has the whole curve


def test_model_card_names_every_stage_and_the_experiments(tmp_path):
    from workbench.tiny.train.model_card import write_model_card

    first = toy_train("tiny-diffusion", tmp_path / "first", steps=2)
    settings = with_overrides(
        "tiny-diffusion",
        batch_size=4,
        corpus_stories=64,
        canvas_lengths=(8,),
        ordered_rate=0.5,
        high_noise_rate=0.5,
        warmup_steps=2,
    )
    second = train(
        "tiny-diffusion",
        tmp_path / "second",
        steps=1,
        init_from=tmp_path / "first",
        device="cpu",
        settings=settings,
        build=toy_build,
        progress=False,
    )
    frontier_row = {"sampler": "entropy-bound", "steps": 16, "block_size": 32, "grammatical": 0.875}
    (tmp_path / "second" / "experiments.json").write_text(
        json.dumps(
            [
                {
                    "name": "toy",
                    "what": "ordered corruption",
                    "minutes": 0.1,
                    "stories": 2,
                    "finding": "nothing changed",
                    "frontier": [
                        {**frontier_row, "consistent": 0.5, "tokens_per_forward": 1.9},
                        # two confidence rows share sampler, steps and block size: the column is threshold 0.9's
                        *[
                            {**frontier_row, "sampler": "confidence", "threshold": threshold, "grammatical": share}
                            | {"consistent": 0.0, "tokens_per_forward": 3.0}
                            for threshold, share in ((0.9, 0.61), (0.7, 0.24))
                        ],
                    ],
                }
            ]
        )
    )
    measured = {"grammatical": 0.95, "consistent": 0.4, "tokens_per_forward": 3.25, "vs_reference": 2.5}
    (tmp_path / "second" / "frontier.json").write_text(
        json.dumps(
            [
                {**frontier_row, "threshold": None, **measured, "vs_ar": 0.8, "default": True},
                {
                    "sampler": "AR (tiny-ar)",
                    "steps": None,
                    "block_size": None,
                    "threshold": None,
                    **measured,
                    "vs_ar": 1.0,
                },
            ]
        )
    )
    row = {"valid_sentence_share": 0.5, "consistent_story_share": 0.0, "fully_valid_story_share": 0.0}
    evaluation = {"defaults": row, "steps": [{"steps": 4, **row}], "block_size": [{"block_size": 8, **row}]}
    card = write_model_card(tmp_path / "second", {**evaluation, "stories": 2, "seed": 0}).read_text()
    assert "trained in 2 stages" in card and f"{first['steps'] + second['steps']:,} steps" in card
    stage_one_share = SETTINGS["tiny-diffusion"].ordered_rate  # toy_train changes sizes, not the corruption
    assert "ordered corruption on 50% of examples" in card and f"ordered corruption on {stage_one_share:.0%}" in card
    # the reproduce commands chain the stages and name what differs from today's settings
    assert "--out DIR2 --init-from DIR1" in card and "--set ordered_rate=0.5" in card
    # a share trained at high noise is named where it was used (the last stage), and only there
    assert card.count("t ~ U(0.75, 1) on 50% of examples") == 2 and "--set high_noise_rate=0.5" in card
    assert "| toy | ordered corruption | 0.1 | - | 88% / 50% / 1.9 | - | - | 61% / 0% / 3.0 |" in card
    assert "- toy: nothing changed" in card


@pytest.mark.parametrize(
    ("option", "named"),
    [
        ("ordered_rate=1.5", "ordered_rate='1.5': allowed are values from 0 to 1"),
        ("canvas_lengths=32,0", "canvas_lengths='32,0': allowed are values from 1"),
        ("lr=fast", "lr='fast': not float values"),
        ("dropout=0.1", "FIELD one of"),
    ],
)
def test_train_cli_refuses_a_bad_setting_by_name(option, named, capsys, tmp_path):
    from workbench.tiny.train.__main__ import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--model", "tiny-diffusion", "--steps", "1", "--out", str(tmp_path), "--set", option])
    assert exit_info.value.code == 2 and named in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # refused before anything was written


def test_train_cli_types_settings_like_the_fields():
    from workbench.tiny.train.__main__ import parse_setting

    assert parse_setting("canvas_lengths=32,64") == ("canvas_lengths", (32, 64))
    assert parse_setting("ordered_rate=0.5") == ("ordered_rate", 0.5) and parse_setting("batch_size=8") == (
        "batch_size",
        8,
    )
