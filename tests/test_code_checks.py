"""Lint, format and type checks, run as tests so the README's one test command covers them.

ruff (lint rules and formatting) and mypy are configured in pyproject.toml and installed by the
`test` extra; a failure prints the tool's own report.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("workbench", "tests", "benchmarks", "conftest.py")


def _run(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *arguments], cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("check", [("check",), ("format", "--check")])
def test_ruff(check):
    done = _run("ruff", *check, *SOURCES)
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy():
    done = _run("mypy")
    assert done.returncode == 0, done.stdout + done.stderr


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    """import-linter over the `workbench` package found under `root`, with the contracts in pyproject.toml."""
    script = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run(
        [sys.executable, "-c", script, "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_layer_contracts_hold():
    done = _lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "BROKEN" not in done.stdout and done.stdout.count("KEPT") >= 2


@pytest.mark.parametrize(
    ("module", "bad_import"),
    [
        ("engine/result.py", "import workbench.widgets.throttle"),  # the engine reaching up into the widgets
        ("engine/settings.py", "import workbench.tiny.stories"),  # the engine knowing the tiny models
        ("hardware.py", "import workbench.cost.local"),  # the shared base reaching up
    ],
)
def test_a_wrong_import_breaks_the_contracts(tmp_path, module, bad_import):
    import shutil

    shutil.copytree(ROOT / "workbench", tmp_path / "workbench", ignore=shutil.ignore_patterns("weights", "__pycache__"))
    target = tmp_path / "workbench" / module
    target.write_text(target.read_text() + f"\n{bad_import}  # deliberately wrong\n")
    done = _lint_imports(tmp_path)
    assert done.returncode != 0 and "BROKEN" in done.stdout, done.stdout + done.stderr
