"""Notebook takeaways come from the verdict functions, so a notebook cannot contradict its own numbers.

The functions the notebooks print their takeaways with are run on synthetic numbers whose answer is
known (faster, slower, within the noise, too few, a seam effect or not); then each notebook's code is
read to check that its takeaways call them and that no hand-written comparison or "nan" is left.
The notebooks themselves run under nbmake, with the same functions, on real runs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from workbench.errors import InvalidSettingError
from workbench.evaluation.seams import MIN_STORIES, penalty_verdict
from workbench.measure.verdict import compare_samples

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
AR_SPEEDS = [100.0, 104.0, 98.0, 101.0, 99.0, 103.0, 97.0, 102.0]


def code(name: str) -> str:
    cells = json.loads((NOTEBOOKS / name).read_text())["cells"]
    return "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")


@pytest.mark.parametrize(
    ("diffusion", "outcome"),
    [
        ([1.5 * x for x in AR_SPEEDS], "faster"),
        ([0.5 * x for x in AR_SPEEDS], "slower"),
        ([x * (1.05 if i % 2 else 0.95) for i, x in enumerate(AR_SPEEDS)], "noise"),
        ([1.5 * x for x in AR_SPEEDS[:3]], "too_few"),
    ],
)
def test_the_speed_takeaway_says_only_what_the_numbers_carry(diffusion, outcome):
    ar = AR_SPEEDS[: len(diffusion)]
    verdict = compare_samples(diffusion, ar)
    assert verdict.outcome == outcome
    expected = {
        "faster": "diffusion is faster here",
        "slower": "diffusion is slower here",
        "noise": "within the noise of this machine",
        "too_few": "too few samples to judge: need 6",
    }[outcome]
    assert expected in verdict.words
    assert compare_samples(diffusion, ar, busy=True).outcome == "withheld"


def test_a_seam_effect_needs_an_interval_past_zero_and_enough_stories():
    effect = penalty_verdict(0.10, 0.02, 0.18, stories=40)
    assert effect.outcome == "effect" and "more errors across seams" in effect.words
    assert penalty_verdict(-0.10, -0.18, -0.02, stories=40).words.startswith("a seam effect: fewer errors")


def test_few_stories_get_no_verdict_even_past_zero_and_say_how_many_are_needed():
    few = penalty_verdict(0.30, 0.05, 0.55, stories=8)  # the interval excludes 0, but over 8 stories
    assert few.outcome == "too_few" and "seam effect" not in few.words
    assert few.needed == MIN_STORIES and f"need at least {MIN_STORIES}" in few.words


def test_an_interval_across_zero_is_noise_with_the_stories_it_would_take():
    noise = penalty_verdict(0.02, -0.04, 0.08, stories=40)  # half-width 6 pp around 2 pp: 3x narrower needs 9x
    assert noise.outcome == "noise" and noise.needed == 360 and "about 360 stories" in noise.words
    zero = penalty_verdict(0.0, -0.05, 0.05, stories=40)
    assert zero.outcome == "noise" and zero.needed is None and "no effect shown" in zero.words


def test_a_missing_penalty_says_why_and_never_nan():
    missing = penalty_verdict(None, None, None, stories=0, missing="no units: diffusion crossing")
    assert missing.outcome == "missing" and "no units" in missing.words
    assert "nan" not in penalty_verdict(float("nan"), 0.0, 0.1, stories=40).words.lower()


@pytest.mark.parametrize(
    ("notebook", "calls"),
    [
        ("01_quick_start.ipynb", ["compare_runs(", ".verdict()"]),
        ("02_ar_vs_diffusion.ipynb", ["compare_runs(", ".verdict()", "repeats=SPEED_REPEATS"]),
        ("06_evaluating_block_generation.ipynb", ["penalty_verdict("]),
    ],
)
def test_each_notebook_prints_its_takeaway_from_the_verdict_functions(notebook, calls):
    text = code(notebook)
    for call in calls:
        assert call in text, f"{notebook} does not call {call}"
    assert not re.search(r"""["'](faster|slower|SLOWER)["']\s+if\b""", text), "a hand-made faster/slower verdict"
    assert "float('nan')" not in text and 'float("nan")' not in text, "a 'nan' could reach printed text"


@pytest.mark.parametrize("notebook", ["01_quick_start.ipynb", "02_ar_vs_diffusion.ipynb"])
def test_one_set_of_settings_drives_every_surface(notebook):
    text = code(notebook)
    cells = json.loads((NOTEBOOKS / notebook).read_text())["cells"]
    parameters = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(parameters) == 1
    names = re.findall(r"^([A-Z_]+) =", "".join(parameters[0]["source"]), flags=re.M)
    assert {"MAX_NEW_TOKENS", "STEPS", "BLOCK_SIZE", "TEMPERATURE"} <= set(names)
    # Notebook 02's one-canvas trace is an illustration drawn small on purpose, not a figure compared.
    text = re.sub(r"^TRACE_SETTINGS = .*$", "", text, flags=re.M)
    assert not re.search(r"\b(max_new_tokens|steps|block_size)=\d", text), "a surface with its own settings"


def test_the_panel_starts_from_the_notebook_settings(autoregressive, diffusion):
    from workbench.widgets import ControlPanel

    settings = {"max_new_tokens": 48, "seed": 7, "temperature": "schedule", "steps": 3, "block_size": 8}
    panel = ControlPanel(autoregressive, diffusion, store=None, settings=settings)
    chosen = panel.controls.diffusion_settings()
    assert (chosen["max_new_tokens"], chosen["seed"], chosen["steps"], chosen["block_size"]) == (48, 7, 3, 8)
    assert chosen["temperature"] == "schedule" and panel.controls.ar_settings()["max_new_tokens"] == 48
    both = ControlPanel(autoregressive, diffusion, store=None, settings={"temperature": 0.3})
    assert both.controls.diffusion_settings()["temperature"] == both.controls.ar_settings()["temperature"] == 0.3
    with pytest.raises(InvalidSettingError, match="settings"):
        ControlPanel(autoregressive, diffusion, store=None, settings={"stepz": 3})
