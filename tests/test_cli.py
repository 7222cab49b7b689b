"""The command line, run as a user runs it: a real subprocess, its stdout, stderr and exit status."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"},
    )


def test_compare_json_on_given_models(ar_folder, diffusion_folder, tmp_path):
    store_path = tmp_path / "runs.sqlite"
    done = run_cli(
        "compare",
        "once upon a time",
        "--ar",
        str(ar_folder),
        "--diffusion",
        str(diffusion_folder),
        "--max-new-tokens",
        "8",
        "--steps",
        "3",
        "--device",
        "cpu",
        "--json",
        "--store",
        str(store_path),
    )
    assert done.returncode == 0, done.stderr
    runs = json.loads(done.stdout)["median_runs"]
    assert [run["kind"] for run in runs] == ["autoregressive", "diffusion"]
    assert runs[1]["settings"]["steps"] == 3 and runs[1]["forward_passes"] >= 1
    assert all(run["new_tokens"] <= 8 for run in runs)
    # No GPU here: energy is missing *with a reason*, never 0.
    for run in runs:
        telemetry = run["telemetry"]
        if telemetry["gpu_energy_j"] is None:
            assert telemetry["gpu_energy_missing"] and telemetry["joules_per_token"] is None
            assert telemetry["joules_per_token_missing"]
    from workbench.measure.store import ResultsStore

    stored = ResultsStore(store_path).to_dataframe(tags={"phase": "cold"})  # one cold run each, then warm repeats
    assert sorted(stored["kind"]) == ["autoregressive", "diffusion"]
    assert len(ResultsStore(store_path).to_dataframe(tags={"phase": "warm"})) == 2 * json.loads(done.stdout)["repeats"]


def test_compare_table(ar_folder, diffusion_folder, capsys):
    from workbench.cli import main

    status = main(
        [
            "compare",
            "a cat",
            "--ar",
            str(ar_folder),
            "--diffusion",
            str(diffusion_folder),
            "--max-new-tokens",
            "8",
            "--steps",
            "2",
            "--device",
            "cpu",
            "--no-store",
        ]
    )
    out = capsys.readouterr().out
    assert status == 0
    assert "tokens/s" in out and "diffusion" in out and "autoregressive" in out and "energy" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--steps", "0"], "steps=0 is not allowed"),
        (["--temperature", "-1"], "temperature=-1.0 is not allowed"),
        (["--sampler", "nope"], "sampler='nope' is not allowed"),
        (["--max-new-tokens", "0"], "max_new_tokens=0 is not allowed"),
    ],
)
def test_errors_are_one_line_and_exit_2(ar_folder, diffusion_folder, capsys, args, message):
    from workbench.cli import main

    status = main(
        [
            "compare",
            "a cat",
            "--ar",
            str(ar_folder),
            "--diffusion",
            str(diffusion_folder),
            "--device",
            "cpu",
            "--no-store",
            *args,
        ]
    )
    lines = capsys.readouterr().err.splitlines()
    errors = [line for line in lines if line.startswith("workbench: error:")]
    assert status == 2 and len(errors) == 1 and message in errors[0]
    assert all(line.startswith("workbench: ") for line in lines)  # progress lines and the error, nothing else


def test_a_real_process_prints_no_traceback(ar_folder, diffusion_folder):
    done = run_cli(
        "compare", "", "--ar", str(ar_folder), "--diffusion", str(diffusion_folder), "--device", "cpu", "--no-store"
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == ["workbench: error: prompt='' is not allowed: a non-empty string"]


def test_models_lists_the_embedded_models():
    done = run_cli("models", "--json")
    assert done.returncode == 0, done.stderr
    names = [row["name"] for row in json.loads(done.stdout)]
    assert names[:3] == ["tiny-ar", "tiny-diffusion", "gemma-3-270m"]


def test_a_mistyped_option_is_one_line(capsys):
    from workbench.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["compare", "a cat", "--stepz", "3"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert err.count("\n") == 1 and "unrecognized arguments: --stepz" in err and "--help" in err


def test_help_and_version_answer_without_loading_torch():
    import subprocess
    import sys

    code = (
        "import sys; from workbench.cli import main\ntry:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
        "print('torch' in sys.modules, 'transformers' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.splitlines() == ["workbench 0.1.0", "False False"], done.stderr


def test_import_workbench_is_cheap():
    import subprocess
    import sys

    code = "import sys, workbench\nprint(sorted(m for m in ('torch', 'transformers', 'pandas') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr
