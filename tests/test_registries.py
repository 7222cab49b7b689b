"""Samplers and evaluations are registered by name: one new file makes a new choice everywhere."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.engine.diffusion.samplers import make_sampler, sampler_choices
from workbench.errors import InvalidSettingError
from workbench.evaluation import evaluations, run_evaluation

PROMPT = "once upon a time"
REPO = Path(__file__).resolve().parents[1]

THROWAWAY = '''
"""A throwaway sampler for the registry test: commits the leftmost open position each step."""

import torch

from workbench.engine.diffusion.samplers.base import LockingSampler
from workbench.engine.diffusion.samplers.registry import register_sampler


@register_sampler("leftmost", parameters=("threshold",), help="throwaway: one position per step, left to right")
class Leftmost(LockingSampler):
    def accept(self, entropy, confidence, locked, step, steps):
        first_open = (~locked).int().argmax(dim=-1, keepdim=True)
        return locked | torch.zeros_like(locked).scatter(-1, first_open, ~locked.all(dim=-1, keepdim=True))
'''

PROBE = """
import json, sys, warnings
import workbench.engine.diffusion.samplers as samplers
samplers.__path__.append(sys.argv[1])  # the folder holding the one new file
import workbench
from workbench.cli import build_parser
from workbench.widgets.controls import Controls

dg = workbench.load(sys.argv[2], device="cpu")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    result = dg.generate("once upon a time", sampler="leftmost", steps=8, block_size=8, max_new_tokens=8, seed=0,
                         early_exit=False)
compare = build_parser()._subparsers._group_actions[0].choices["compare"]
print(json.dumps({
    "accepted_per_step": [sum(step.accepted) for step in result.trace],
    "recorded": result.settings["sampler"],
    "in_help": "leftmost" in compare.format_help(),
    "in_panel": "leftmost" in Controls().sampler.options,
}))
"""


def test_one_new_sampler_file_reaches_generate_the_cli_help_and_the_panel(tmp_path, diffusion_folder):
    (tmp_path / "leftmost.py").write_text(THROWAWAY)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path), str(diffusion_folder)],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["recorded"] == "leftmost" and seen["in_help"] and seen["in_panel"]
    assert seen["accepted_per_step"] == list(range(1, 9))  # one more committed position every step


def test_an_unknown_sampler_is_refused_everywhere(diffusion):
    assert "leftmost" not in sampler_choices()  # the throwaway lived in another process only
    with pytest.raises(InvalidSettingError, match="sampler='nucleus'"):
        diffusion.settings(sampler="nucleus")
    settings = diffusion.settings()
    forged = type(settings)(**{**settings.__dict__, "sampler": "nucleus"})  # past the settings' own check
    with pytest.raises(InvalidSettingError, match="one of"):
        make_sampler(forged)


def test_every_evaluation_runs_by_name_and_refuses_what_it_cannot_measure(diffusion, autoregressive):
    dg_runs = [diffusion.generate(PROMPT, steps=4, block_size=8, max_new_tokens=16, seed=i) for i in range(2)]
    ar_runs = [autoregressive.generate(PROMPT, max_new_tokens=16, seed=i) for i in range(2)]
    tokenizer = diffusion.tokenizer
    assert {"seams", "revisions", "convergence", "guardrails", "perplexity"} <= set(evaluations())
    convergence = run_evaluation("convergence", dg_runs)
    assert convergence.loc[0, "canvases"] == 4 and convergence.loc[0, "cap"] == 4
    assert set(run_evaluation("seams", dg_runs + ar_runs, tokenizer=tokenizer)["check"]) == {"grammar", "consistency"}
    assert len(run_evaluation("revisions", dg_runs, tokenizer=tokenizer)) == 1
    guards = run_evaluation("guardrails", dg_runs + ar_runs, tokenizer=tokenizer, blocklist=["cat"])
    assert set(guards["unit"]) == {"canvas", "token", "sentence"} and set(guards["check"]) == {
        "blocklist", "ends with a sentence"}  # fmt: skip
    perplexity = run_evaluation("perplexity", dg_runs, reference=autoregressive)
    assert len(perplexity) == 2

    refusals = [
        (("seams", dg_runs), {"tokenizer": tokenizer}, "results"),  # no AR runs to compare with
        (("seams", dg_runs + ar_runs), {}, "tokenizer"),
        (("convergence", ar_runs), {}, "results"),  # no diffusion traces in AR runs
        (("perplexity", dg_runs), {}, "reference"),
        (("seamz", dg_runs), {}, "name"),
        (("convergence", []), {}, "results"),
    ]
    for args, keywords, parameter in refusals:
        with pytest.raises(InvalidSettingError) as caught:
            run_evaluation(*args, **keywords)
        assert caught.value.parameter == parameter


def test_workbench_evaluate_runs_one_by_name_from_the_shell():
    done = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "evaluate", "convergence", "--stories", "2", "--steps", "4",
         "--block-size", "16", "--max-new-tokens", "32", "--json"],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads(done.stdout)
    assert rows[0]["canvases"] == 4 and rows[0]["cap"] == 4
    wrong = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "evaluate", "seamz"], capture_output=True, text=True, timeout=120
    )
    assert wrong.returncode == 2 and "NAME='seamz'" in wrong.stderr and wrong.stderr.count("\n") == 1
