"""Every wait has an end the caller can set (class 4 of issue 26): generated and enumerated cases.

A hub that answers its probe and then stalls, a config with absurd sizes, a slow stream after Stop,
a load sweep's warm-up, a guardrail check that never returns, durations no timer can hold: each ends
within its deadline with a clear error or a reported reason. Servers bind 127.0.0.1 and every test
is bounded in time.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from evaluation_helpers import TOKENIZER, result
from fake_openai_server import FakeServer

import workbench
from workbench.engine.served import Deadlines
from workbench.evaluation import guardrails
from workbench.evaluation.soak import soak
from workbench.experiments.load_sweep import load_sweep
from workbench.loading import hub
from workbench.loading.memory import plan

pytestmark = pytest.mark.timeout(90)
TINY = Path(workbench.__file__).parent / "tiny" / "weights" / "tiny-ar"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer() as running:
        yield running


# -- a stalled hub -------------------------------------------------------------------------------------


class _StallingHub(BaseHTTPRequestHandler):
    """Answers the model API (the probe) at once; every other request (config.json) never gets an answer."""

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self) -> None:
        if self.path.startswith("/api/models/"):
            body = json.dumps({"id": "org/stalled"}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            time.sleep(60)  # a daemon thread: the server's shutdown does not wait for it

    do_GET = do_HEAD = _answer


def test_a_hub_that_stalls_after_the_probe_fails_within_the_config_deadline(monkeypatch, tmp_path):
    from huggingface_hub import constants

    stalling = ThreadingHTTPServer(("127.0.0.1", 0), _StallingHub)
    stalling.daemon_threads = True
    threading.Thread(target=stalling.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{stalling.server_address[1]}"
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", endpoint + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(hub.DEADLINES, "config_s", 2.0)
    started = time.monotonic()
    try:
        with pytest.raises(workbench.ModelUnavailableError, match=r"config\.json within 2 s"):
            workbench.load("org/stalled")
    finally:
        stalling.shutdown()
        stalling.server_close()
    assert time.monotonic() - started < 8.0


# -- absurd config sizes ---------------------------------------------------------------------------------

ABSURD = [
    ("num_hidden_layers", 10**9),
    ("num_hidden_layers", 1e9),
    ("num_hidden_layers", -1),
    ("num_hidden_layers", 0),
    ("num_hidden_layers", "2"),
    ("num_hidden_layers", True),
    ("hidden_size", 10**9),
    ("hidden_size", 2.5),
    ("intermediate_size", 10**12),
    ("num_attention_heads", 10**7),
    ("num_key_value_heads", -4),
    ("head_dim", 10**8),
    ("vocab_size", 10**12),
    ("max_position_embeddings", 10**15),
]


@pytest.mark.parametrize("field, value", ABSURD)
def test_a_config_with_absurd_sizes_is_refused_before_anything_is_built(tmp_path, field, value):
    folder = tmp_path / "absurd"
    shutil.copytree(TINY, folder)
    config = json.loads((folder / "config.json").read_text())
    config[field] = value
    config.pop("layer_types", None)  # else its length, not the size, is what transformers complains about
    (folder / "config.json").write_text(json.dumps(config))
    started = time.monotonic()
    for attempt in (lambda: plan(str(folder)), lambda: workbench.load(str(folder))):
        with pytest.raises(workbench.ModelUnavailableError, match=field):
            attempt()
    assert time.monotonic() - started < 20.0


# -- served streams --------------------------------------------------------------------------------------


def test_stop_closes_a_slow_stream_at_once_and_the_server_sees_it(server):
    handle = workbench.load(server.url, model="slow")
    handle.deadlines = Deadlines(connect_s=1.0, first_token_s=5.0, between_chunks_s=30.0, total_s=60.0)
    stop = threading.Event()
    started = time.monotonic()
    outcome = handle.generate("Once", max_new_tokens=3, temperature=0, stop=stop, callback=lambda _: stop.set())
    assert outcome.finish_reason == "stopped" and time.monotonic() - started < 2.0
    waited = time.monotonic()
    while not server.disconnected_after_s and time.monotonic() - waited < 3.0:
        time.sleep(0.02)
    assert server.disconnected_after_s and server.disconnected_after_s[-1] < 1.5  # not at the next chunk (8 s)


def test_runs_in_a_row_on_one_handle_all_finish_after_each_close(server):
    handle = workbench.load(server.url, model="ok")
    outcomes = [handle.generate("Once", max_new_tokens=3, temperature=0).finish_reason for _ in range(4)]
    assert outcomes == ["length"] * 4


def test_the_load_sweep_warm_up_keeps_to_timeout_s(server):
    handle = workbench.load(server.url, model="stall")  # one chunk, then nothing for 8 s
    handle.deadlines = Deadlines(connect_s=1.0, first_token_s=30.0, between_chunks_s=30.0, total_s=60.0)
    started = time.monotonic()
    frame = load_sweep(handle, "Once", levels=(1,), timeout_s=1.0, max_new_tokens=3)
    assert time.monotonic() - started < 4.0  # warm-up and one level, 1 s each, plus set-up
    assert frame["unfinished"].iloc[0] == 1


@pytest.mark.parametrize("timeout_s", [1e12, 1e300, 86_401.0])
def test_a_load_sweep_budget_no_timer_can_hold_is_refused(server, timeout_s):
    handle = workbench.load(server.url, model="ok")
    with pytest.raises(workbench.InvalidSettingError, match="timeout_s"):
        load_sweep(handle, "Once", levels=(1,), timeout_s=timeout_s)


# -- guardrail checks and soaks ------------------------------------------------------------------------


@pytest.mark.parametrize("hangs_at", [1, 3])
def test_a_check_that_never_returns_is_reported_failed_within_its_deadline(hangs_at):
    calls = []

    def check(text: str) -> bool:
        calls.append(text)
        if len(calls) == hangs_at:
            threading.Event().wait(60)  # never returns within the test
        return True

    run = result("Once upon a time , there was a little cat .", kind="autoregressive")
    started = time.monotonic()
    report = guardrails.guard_run(run, TOKENIZER, check, check_timeout_s=0.5)
    assert time.monotonic() - started < 3.0
    assert report.failed == 1 and report.checks_run == hangs_at
    assert report.problem and "did not return within 0.5 s" in report.problem


@pytest.mark.parametrize("duration_s", [1e12, 1e300, 7 * 24 * 3600.0 + 1])
def test_a_soak_longer_than_a_timer_can_hold_is_refused(autoregressive, duration_s):
    with pytest.raises(workbench.InvalidSettingError, match="duration_s"):
        soak(autoregressive, "Once", duration_s=duration_s, progress=False)
