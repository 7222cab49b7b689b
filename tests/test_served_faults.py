"""Served models against small misbehaving HTTP servers on 127.0.0.1: every fault ends in bounded
time, as a partial result with finish_reason "error" and the reason, or as the one error a user can
act on; the API key never leaks. The real vLLM server is in test_served.py."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time

import pytest
from fake_openai_server import FakeServer

import workbench
from workbench.engine.served import Deadlines
from workbench.errors import HIDDEN
from workbench.measure.store import ResultsStore

SECRET = "sk-workbench-test-secret-9f8e7d"
SHORT = Deadlines(connect_s=1.0, first_token_s=1.5, between_chunks_s=1.0, total_s=5.0)
pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def server():
    with FakeServer() as running:
        yield running


def served(server: FakeServer, behaviour: str):
    handle = workbench.load(server.url, model=behaviour)
    handle.deadlines = SHORT
    return handle


def test_a_good_stream_is_measured_per_chunk(server):
    result = served(server, "ok").generate("Once upon a time", max_new_tokens=3, temperature=0)
    assert result.text == " once upon a" and result.token_ids == [11, 12, 13]
    assert result.finish_reason == "length" and result.prompt_tokens == 4
    assert 0 < result.time_to_first_token_s < result.total_s
    assert len(result.step_times_s) == 2 and all(
        gap > 0.01 for gap in result.step_times_s
    )  # the server sleeps 20 ms per event
    assert result.telemetry["stream_chunks"] == 3 and result.telemetry["tokens_per_chunk"] == 1.0
    assert result.forward_passes is None and result.tokens_per_forward is None and result.prefill_s is None
    assert "served" in result.telemetry["forward_passes_missing"]
    assert result.settings["endpoint"] == server.url and result.telemetry["server_version"] is None  # no /version here


@pytest.mark.parametrize(
    "behaviour, reason",
    [
        ("http500", "HTTP 500: engine dead"),
        ("malformed", "malformed stream event"),
        ("stall", "the stream stalled: no chunk for 1 s"),
        ("stall-first", "no token within 1.5 s"),
        ("close", "closed the stream before it finished"),
        ("die", "the connection broke mid-stream"),
    ],
)
def test_faults_give_a_partial_result_with_the_reason_in_bounded_time(server, behaviour, reason):
    started = time.monotonic()
    result = served(server, behaviour).generate("Once upon a time", max_new_tokens=3, temperature=0)
    assert time.monotonic() - started < 3.0
    assert result.finish_reason == "error"
    assert reason in result.telemetry["error"]
    expected_text = "" if behaviour in ("http500", "stall-first") else " once"  # what arrived before the fault is kept
    assert result.text == expected_text and len(result.token_ids) == len(expected_text.split())


def test_whole_call_deadline(server):
    handle = served(server, "stall")
    handle.deadlines = Deadlines(connect_s=1.0, first_token_s=5.0, between_chunks_s=5.0, total_s=0.8)
    result = handle.generate("Once upon a time", max_new_tokens=3, temperature=0)
    assert result.finish_reason == "error" and "whole call took over 0.8 s" in result.telemetry["error"]
    assert result.total_s < 2.0


def test_a_refused_request_is_an_invalid_setting(server):
    with pytest.raises(workbench.InvalidSettingError, match="max_tokens is too large"):
        served(server, "http400").generate("Once upon a time", max_new_tokens=3)


def test_unreachable_url_fails_fast():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(workbench.ModelUnavailableError, match="unreachable"):
        workbench.load(f"http://127.0.0.1:{port}/v1")
    assert time.monotonic() - started < 3.0


def test_a_server_that_accepts_but_never_answers_fails_within_seconds():
    with socket.socket() as silent:  # the kernel completes the handshake; nobody ever reads or writes
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        started = time.monotonic()
        with pytest.raises(workbench.ModelUnavailableError, match="unreachable"):
            workbench.load(f"http://127.0.0.1:{silent.getsockname()[1]}/v1")
        assert time.monotonic() - started < 8.0


def test_a_server_that_is_not_openai_compatible_is_unavailable(server):
    with pytest.raises(workbench.ModelUnavailableError, match="did not answer with an OpenAI model list"):
        workbench.load(server.url.replace("/v1", "/not-openai/v1"))
    with pytest.raises(workbench.ModelUnavailableError, match="answered HTTP 404"):
        workbench.load(server.url.replace("/v1", "/elsewhere/v1"))


def test_stop_closes_a_stalled_stream_promptly(server):
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    handle = served(server, "stall")
    handle.deadlines = Deadlines(first_token_s=5.0, between_chunks_s=5.0)
    started = time.monotonic()
    result = handle.generate("Once upon a time", max_new_tokens=3, temperature=0, stop=stop)
    assert result.finish_reason == "stopped" and result.stopped and result.text == " once"
    assert time.monotonic() - started < 1.0


def test_ctrl_c_interrupts_a_stalled_stream(server):
    handle = served(server, "stall")
    handle.deadlines = Deadlines(first_token_s=5.0, between_chunks_s=5.0)
    threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
    result = handle.generate("Once upon a time", max_new_tokens=3, temperature=0)
    assert result.finish_reason == "interrupted" and result.text == " once"


def test_settings_the_server_fixes_at_start_are_refused(server):
    handle = served(server, "ok")
    resolved = handle.settings(max_new_tokens=3, temperature=0)
    assert handle.generate("Once upon a time", settings=resolved).token_ids == [11, 12, 13]  # as the race passes them
    with pytest.raises(workbench.InvalidSettingError, match="settings"):
        handle.generate("Once upon a time", settings=resolved, seed=1)
    for name, value in (("steps", 8), ("sampler", "quota"), ("block_size", 16)):
        with pytest.raises(workbench.InvalidSettingError, match="fixes it at start-up"):
            handle.generate("Once upon a time", **{name: value})
    with pytest.raises(workbench.InvalidSettingError, match="max_new_tokens"):
        handle.generate("Once upon a time", max_new_tokens=10_000)  # over the max_model_len the server reported
    with pytest.raises(workbench.InvalidSettingError, match="model="):
        workbench.load(server.url, model="not-served")
    with pytest.raises(workbench.InvalidSettingError, match="kind"):
        workbench.load("tiny-ar", kind="diffusion")  # kind= is for servers; a folder's config says it


def test_the_api_key_is_sent_but_never_recorded(server, monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBENCH_API_KEY", SECRET)
    ok = served(server, "ok").generate("Once upon a time", max_new_tokens=3, temperature=0)
    echoed = served(server, "echo-key").generate("Once upon a time", max_new_tokens=3, temperature=0)
    assert server.seen_authorization[-1] == f"Bearer {SECRET}"
    assert echoed.finish_reason == "error" and HIDDEN in echoed.telemetry["error"]
    store = ResultsStore(tmp_path / "runs.sqlite")
    store.add(ok)
    store.add(echoed)
    store.export(tmp_path / "runs.csv")
    recorded = [
        ok.to_json(include_trace=True),
        echoed.to_json(),
        repr(ok),
        repr(served(server, "ok")),
        (tmp_path / "runs.csv").read_text(),
    ]
    recorded += [
        path.read_bytes().decode("latin-1") for path in tmp_path.iterdir() if path.name.startswith("runs.sqlite")
    ]
    assert not [text for text in recorded if SECRET in text]
    for url in (
        f"http://user:{SECRET}@127.0.0.1:1/v1",
        f"http://127.0.0.1:1/v1?key={SECRET}",
        f"ftp://{SECRET}@host/v1",
        f"http://127.0.0.1:{SECRET}/v1",
    ):
        with pytest.raises(workbench.InvalidSettingError) as refused:  # URLs carrying credentials, or broken ones
            workbench.load(url)
        assert SECRET not in str(refused.value)


def test_served_runs_keep_the_store_schema(server, tmp_path):
    store = ResultsStore(tmp_path / "runs.sqlite")
    store.add(served(server, "ok").generate("Once upon a time", max_new_tokens=3, temperature=0))
    row = store.to_dataframe().iloc[0]
    assert row["device"] == "served" and row["forward_passes"] is pd_na() and row["new_tokens"] == 3
    assert server.url in row["settings"] and '"stream_chunks": 3' in row["telemetry"]


def pd_na():
    import pandas as pd

    return pd.NA


def test_the_command_line_says_one_line_and_exits_2(capsys):
    from workbench.cli import main

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    assert main(["compare", "Once upon a time", "--served", f"http://127.0.0.1:{port}/v1", "--no-store"]) == 2
    assert time.monotonic() - started < 3.0  # the server is tried before the local models load
    assert main(["compare", "Once upon a time", "--served-model", "tiny-ar", "--no-store"]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("workbench: error:")]
    assert len(errors) == 2 and "unreachable" in errors[0] and "--served-model" in errors[1]


def test_load_sweep_is_bounded_in_time_and_checks_its_input(server):
    from workbench.experiments.load_sweep import load_sweep

    stalled = served(server, "stall")
    stalled.deadlines = Deadlines(first_token_s=5.0, between_chunks_s=5.0)
    started = time.monotonic()
    frame = load_sweep(stalled, "Once upon a time", levels=(2,), timeout_s=0.5, warmup=False, max_new_tokens=3)
    assert time.monotonic() - started < 2.0
    row = frame.iloc[0]
    assert row["unfinished"] == 2 and row["finished"] == 0 and row["tokens"] == 2  # the chunk each got before the stop
    assert row["per_user_tokens_per_second"] is None and row["ttft_p50_s"] is None  # only finished runs count
    frame = load_sweep(served(server, "ok"), "Once upon a time", levels=(1, 2), requests_per_level=2, max_new_tokens=3)
    assert list(frame["tokens"]) == [6, 6] and list(frame["finished"]) == [2, 2]
    failing = load_sweep(served(server, "http500"), "Once upon a time", levels=(1,), warmup=False)
    assert failing.iloc[0]["failed"] == 1 and "HTTP 500" in failing.iloc[0]["first_failure"]
    for bad in (
        dict(levels=(0,)),
        dict(levels=()),
        dict(levels=(4,), requests_per_level=2),
        dict(timeout_s=0),
        dict(steps=8),
    ):
        with pytest.raises(workbench.InvalidSettingError):
            load_sweep(served(server, "ok"), "Once upon a time", **bad)
    with pytest.raises(workbench.InvalidSettingError, match="a served model"):
        load_sweep(workbench.load("tiny-ar"), "Once upon a time")
