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
