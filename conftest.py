"""Test-session settings shared by the unit tests and the notebooks run under nbmake.

Runs during the tests (the panel in notebook 01, sweeps, the CLI) write to a results store in a
temporary folder, never to the user's own store; notebook kernels inherit the variable.
"""

from __future__ import annotations

import os
import tempfile


def pytest_configure(config) -> None:
    folder = tempfile.mkdtemp(prefix="workbench-test-store-")
    os.environ["WORKBENCH_STORE"] = os.path.join(folder, "results.sqlite")
