"""The quick-start notebook in a real JupyterLab, driven by a real Chromium (REFERENCE §7).

Starts JupyterLab on 127.0.0.1 (no token) on a copy of `notebooks/01_quick_start.ipynb` in a
temporary folder (so autosave never writes outputs into the committed notebook), runs all cells,
moves the steps slider, presses the panel's Run button and waits until the canvas shows the
resolved text from the embedded models. A screenshot goes to `artifacts/browser/`. Needs Debian's
`/usr/bin/chromium` (never `playwright install`): without it the test is skipped, or fails under CI.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "01_quick_start.ipynb"
ARTIFACTS = REPO / "artifacts" / "browser"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
SERVER_START_S = 90
RUN_ALL_S = 150  # kernel start, imports, two model loads, two generations and a race on 2 busy cores
RUN_S = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: apt-get update && apt-get install -y chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    pytest.importorskip("playwright.sync_api", reason="pip install playwright (never `playwright install`)")
    return CHROMIUM


@pytest.fixture
def lab(tmp_path):
    """JupyterLab serving a copy of the notebook; yields its base URL and kills the server after."""
    shutil.copy(NOTEBOOK, tmp_path / NOTEBOOK.name)
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(REPO), os.environ.get("PYTHONPATH")])
        ),  # the kernel imports this checkout
        "WORKBENCH_STORE": str(tmp_path / "results.sqlite"),  # the panel's runs do not go into the user's store
        "OMP_NUM_THREADS": "1",  # two torch threads on two shared cores spin against each other
        "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
    }
    log = (tmp_path / "jupyterlab.log").open("w")
    # Started directly (no shell in between) so that `server.pid` is the server and killing it ends it.
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--allow-root", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         "--ServerApp.token=", "--ServerApp.port_retries=0", f"--ServerApp.root_dir={tmp_path}"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status", timeout=2).read()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start; log:\n{(tmp_path / 'jupyterlab.log').read_text()[-3000:]}")
                time.sleep(0.5)
        yield base
    finally:
        server.terminate()  # the server shuts its kernels down on SIGTERM
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def test_quick_start_notebook_runs_and_the_panel_works(chromium, lab):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(f"{lab}/lab/tree/{NOTEBOOK.name}?reset")
            page.locator(".jp-Notebook").wait_for(timeout=SERVER_START_S * 1000)
            # A fresh JupyterLab may ask which kernel to start; accept the notebook's own (Python 3).
            choose = page.get_by_role("button", name="Select Kernel")
            try:
                choose.wait_for(timeout=10_000)
                choose.click()
            except PlaywrightTimeout:
                pass  # no dialog: the kernel started by itself
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()

            # Run All ends with the notebook's own race: run 1 on the canvas, and a summary in the status.
            status = page.locator(".wb-status")
            expect(status).to_contain_text("Done.", timeout=RUN_ALL_S * 1000)
            expect(page.locator('.wb-canvas[data-run="1"][data-frame="final"]')).to_be_visible()

            steps = page.locator(".wb-steps")
            # Run All leaves the view at the notebook's end; JupyterLab skips rendering cells out of
            # view (CSS content-visibility), and a skipped readout's text reads as empty.
            steps.scroll_into_view_if_needed()
            readout = steps.locator(".widget-readout")
            # textContent, not innerText: a cell JupyterLab has not painted yet has an empty innerText.
            expect(readout).to_have_text(re.compile(r"^\d+$"), timeout=30_000)
            before = int(readout.text_content() or "")
            steps.locator(".noUi-handle").focus()
            for _ in range(before // 2):  # halve the steps with the keyboard, as a person might
                page.keyboard.press("ArrowLeft")
            moved = int(readout.text_content() or "")
            assert moved < before

            page.locator(".wb-run button, button.wb-run").first.click()
            canvas = page.locator('.wb-canvas[data-run="2"][data-frame="final"]')
            canvas.wait_for(timeout=RUN_S * 1000)
            canvas.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "quick_start_panel.png"))
            page.locator(".wb-panel").screenshot(path=str(ARTIFACTS / "quick_start_panel_widget.png"))

            assert "Resolved text" in canvas.inner_text()
            words = [word.strip() for word in canvas.locator(".wb-token").all_inner_texts()]
            assert words and any(re.search(r"\w", word) for word in words)
            final_text = canvas.locator(".wb-final-text").inner_text()
            assert final_text.strip() != "Final text so far: (nothing final yet)"
            # The kernel got the slider's new value: the run's settings in the results table say so.
            expect(page.locator(".wb-results")).to_contain_text(f"steps={moved} ")
        finally:
            browser.close()
