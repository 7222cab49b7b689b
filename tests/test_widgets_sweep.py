"""The sweep helper and the frontier plot (engine side: `workbench.experiments.sweep` never imports ipywidgets)."""

from __future__ import annotations

import subprocess
import sys

import matplotlib

matplotlib.use("Agg")  # no display here; must come before pyplot is imported

import pandas as pd
import pytest
from test_widgets import one_torch_thread  # noqa: F401  (a module fixture: fast steady steps here too)

import workbench
from workbench.experiments.sweep import pareto_front, plot_frontier, sweep
from workbench.measure.store import ResultsStore

PROMPT = "once upon a time"


def distinct_words(result) -> float:
    """Share of distinct tokens in the output (a stand-in quality score; higher is better)."""
    return len(set(result.token_ids)) / max(len(result.token_ids), 1)


def test_sweep_runs_every_combination_once(diffusion, tmp_path):
    store = ResultsStore(tmp_path / "sweep.sqlite")
    frame = sweep(
        diffusion,
        PROMPT,
        steps=[1, 3],
        block_size=[4, 8],
        quality=distinct_words,
        seed=0,
        max_new_tokens=8,
        early_exit=False,
        store=store,
        progress=False,
    )
    assert len(frame) == 4 and len(store) == 4
    assert sorted(zip(frame["steps"], frame["block_size"])) == [(1, 4), (1, 8), (3, 4), (3, 8)]
    canvases = 8 // frame["block_size"]
    assert list(frame["forward_passes"]) == list(frame["steps"] * canvases)  # no early exit: all steps run
    assert frame["quality"].between(0, 1).all() and frame.attrs["quality"] == "distinct_words"
    assert frame["avg_power_w"].isna().all()  # no GPU here: missing, not zero
    assert {"tokens_per_second", "time_to_first_token_s", "total_s", "text", "finish_reason"} <= set(frame.columns)


def test_a_bad_value_fails_before_anything_runs(diffusion, autoregressive):
    calls = []
    with pytest.raises(workbench.InvalidSettingError, match="steps=0"):
        sweep(diffusion, PROMPT, steps=[2, 0], quality=calls.append, progress=False)
    assert calls == []
    with pytest.raises(workbench.InvalidSettingError, match="not a setting of autoregressive models"):
        sweep(autoregressive, PROMPT, steps=[2], progress=False)


@pytest.mark.parametrize("steps", [5, [], "8"])
def test_a_grid_that_is_not_a_list_is_refused(diffusion, steps):
    with pytest.raises(workbench.InvalidSettingError, match="a non-empty list of values to sweep"):
        sweep(diffusion, PROMPT, steps=steps, progress=False)


def test_an_autoregressive_model_sweeps_temperature(autoregressive):
    frame = sweep(autoregressive, PROMPT, temperature=[0, 1.0], seed=0, max_new_tokens=4, progress=False)
    assert list(frame["temperature"]) == [0.0, 1.0] and frame["quality"].isna().all()


def test_pareto_front_keeps_only_runs_nothing_beats_on_both_axes():
    runs = pd.DataFrame({"tokens_per_second": [10, 20, 30, 15, 30], "quality": [0.9, 0.8, 0.5, 0.6, 0.4]})
    front = pareto_front(runs, "tokens_per_second", "quality")
    assert list(front.index) == [0, 1, 2]  # 3 is beaten by 1; 4 by 2


def test_plot_frontier_labels_axes_with_units(diffusion):
    frame = sweep(diffusion, PROMPT, steps=[1, 2], quality=distinct_words, seed=0, max_new_tokens=8, progress=False)
    ax = plot_frontier(frame)
    assert "tokens per second" in ax.get_xlabel()
    assert "distinct_words" in ax.get_ylabel() and "higher is better" in ax.get_ylabel()
    assert ax.get_title().startswith("Speed vs quality")
    assert len(ax.collections[0].get_offsets()) == 2
    with pytest.raises(
        workbench.InvalidSettingError, match="y='quality' is not allowed: a column of the sweep with values"
    ):
        plot_frontier(frame.assign(quality=None))


def test_sweep_does_not_import_ipywidgets():  # checked in sys.modules of a fresh interpreter
    code = "import sys, workbench.experiments.sweep; sys.exit('ipywidgets' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=workbench.__path__[0] + "/..").returncode == 0


def test_sweep_repeats_give_medians_intervals_and_the_busy_flag(diffusion, tmp_path):
    store = ResultsStore(tmp_path / "sweep.sqlite")
    frame = sweep(diffusion, PROMPT, steps=[1, 2], seed=0, max_new_tokens=4, repeats=6, store=store, progress=False)
    assert list(frame["repeats"]) == [6, 6] and len(store) == 12  # timed runs only: the warm-ups are not stored
    assert (frame["tokens_per_second_low"] <= frame["tokens_per_second"]).all()
    assert (frame["tokens_per_second"] <= frame["tokens_per_second_high"]).all()
    assert frame["busy"].isin([True, False]).all()
    single = sweep(diffusion, PROMPT, steps=[1], seed=0, max_new_tokens=4, progress=False)
    assert single["tokens_per_second_low"].isna().all()  # one run: a figure, no interval
    with pytest.raises(workbench.InvalidSettingError, match="repeats=0"):
        sweep(diffusion, PROMPT, steps=[1], repeats=0, progress=False)
