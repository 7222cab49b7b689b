"""A hostile or broken OpenAI-compatible server (tests/fake_openai_server.py, 127.0.0.1): generated cases.

Class 1, secrets: wherever a server puts the API key (an error body, a malformed event, generated
text split across chunks, a model id, /version) and however long the key and the text before it,
no part of it reaches anything that leaves the process: the exception, the result, its telemetry,
the SQLite store, the handle's repr. A key HTTP cannot carry is refused at load without being shown;
a URL with a password is never printed.
Class 2, malformed wire data: every field read from the server is checked against its type and
range; what fails becomes finish_reason "error" with the field named, or a `ModelUnavailableError`
at load, never a raw TypeError or silently wrong data.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fake_openai_server import FakeServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import workbench
from workbench.engine.served import Deadlines
from workbench.measure.store import ResultsStore

SHORT = Deadlines(connect_s=1.0, first_token_s=2.0, between_chunks_s=2.0, total_s=5.0)
pytestmark = pytest.mark.timeout(120)
SECRET_CASES = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
PIECE = 6  # no run of this many characters of the key may survive anywhere


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer() as running:
        yield running


@contextmanager
def api_key(key: str) -> Iterator[None]:
    before = os.environ.get("WORKBENCH_API_KEY")
    os.environ["WORKBENCH_API_KEY"] = key
    try:
        yield
    finally:
        if before is None:
            del os.environ["WORKBENCH_API_KEY"]
        else:
            os.environ["WORKBENCH_API_KEY"] = before


def event(text: str, token_id: int = 1, finish: str | None = None) -> str:
    return json.dumps({"choices": [{"index": 0, "text": text, "token_ids": [token_id], "finish_reason": finish}]})


def leaked(key: str, text: str) -> str | None:
    """The first run of PIECE characters of `key` found in `text`."""
    return next((key[i : i + PIECE] for i in range(len(key) - PIECE + 1) if key[i : i + PIECE] in text), None)


# -- class 1: secrets ---------------------------------------------------------------------------------

KEYS = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ", min_size=8, max_size=120)  # no run of it occurs by chance
PADDING = st.integers(min_value=0, max_value=420)  # puts the key before, across and after the 80/300 cuts
PLACES = st.sampled_from(["error body", "malformed event", "generated text", "model id", "version"])


@SECRET_CASES
@given(key=KEYS, pad=PADDING, place=PLACES, split=st.integers(min_value=1, max_value=7))
def test_no_part_of_the_key_leaves_the_process(server, tmp_path_factory, key, pad, place, split):
    words = "x" * pad + f" Bearer {key} " + "y" * 20
    stream: dict = {"events": [event("fine", finish="length")]}
    if place == "error body":
        stream = {"status": 500, "body": json.dumps({"error": {"message": words}})}
    elif place == "malformed event":
        stream = {"events": [json.dumps({"choices": [{"text": 5, "note": words}]})]}
    elif place == "generated text":  # the key arrives in `split` pieces, each in its own chunk
        cut = [len(words) * i // split for i in range(split + 1)]
        pieces = [words[a:b] for a, b in zip(cut, cut[1:])]
        stream = {"events": [event(p, i) for i, p in enumerate(pieces)] + [event("", 0, "length")]}
    model, models, version = "raw", None, None
    if place == "model id":  # the server names its model after the key; requests still reach it
        model = f"raw-{words}"
        models = {"data": [{"id": "raw"}, {"id": model, "owned_by": words}]}
    elif place == "version":
        models, version = {"data": [{"id": "raw", "owned_by": "vllm"}]}, {"version": words}
    server.answer(models=models, version=version, stream=stream)
    seen: list[str] = []
    try:
        with api_key(key):
            handle = workbench.load(server.url, model=model)
            handle.deadlines = SHORT
            seen += [repr(handle), handle.name, str(handle.server_version)]
            result = handle.generate("Once", max_new_tokens=3, temperature=0, callback=lambda e: seen.append(e.text))
            store = ResultsStore(tmp_path_factory.mktemp("store"))
            store.add(result)
            seen += [json.dumps(result.to_dict(), default=str), Path(store.path).read_bytes().decode("latin-1")]
    except workbench.WorkbenchError as error:
        seen.append(str(error))
    finally:
        server.answer()
    for text in seen:
        assert leaked(key, text) is None, f"{leaked(key, text)!r} of the key reached the output"


@pytest.mark.parametrize(
    "key", ["clé-secrète-123", "ключ-123456", "key\nInjected: 1", "tab\tkey-123", "emoji-🔑-key", "del\x7fkey-123"]
)
def test_a_key_http_cannot_carry_is_refused_at_load_without_showing_it(server, key):
    with api_key(key), pytest.raises(workbench.InvalidSettingError) as caught:
        workbench.load(server.url, model="ok")
    shown = str(caught.value) + repr(caught.value.args) + repr(vars(caught.value))
    assert "WORKBENCH_API_KEY" in shown and key not in shown and key[:6] not in shown


@pytest.mark.parametrize("password", ["PASSWORD-1234", "p%40ss-word-99", "s3cr3t"])
def test_a_url_password_is_never_printed(password):
    from workbench.experiments.compare import compare_runs

    said: list[str] = []
    with pytest.raises(workbench.InvalidSettingError) as caught:
        compare_runs("Once", served=f"http://user:{password}@127.0.0.1:9/v1", progress=said.append)
    assert said and all(password not in line for line in said) and password not in str(caught.value)


# -- class 2: malformed wire data ---------------------------------------------------------------------

MALFORMED_EVENTS = {
    "finish_reason is a list": {"choices": [{"text": "a", "finish_reason": ["length"]}]},
    "finish_reason is a number": {"choices": [{"text": "a", "finish_reason": 1}]},
    "usage is a list": {"choices": [], "usage": [1, 2]},
    "usage is a string": {"choices": [], "usage": "lots"},
    "usage count is negative": {"choices": [], "usage": {"prompt_tokens": -4}},
    "usage count is text": {"choices": [], "usage": {"completion_tokens": "3"}},
    "text is an object": {"choices": [{"text": {"a": 1}}]},
    "text is a list": {"choices": [{"text": ["a"]}]},
    "token_ids is a string": {"choices": [{"text": "a", "token_ids": "123"}]},
    "token_ids hold text": {"choices": [{"text": "a", "token_ids": ["1"]}]},
    "token_ids hold a float": {"choices": [{"text": "a", "token_ids": [1.5]}]},
    "token_ids are negative": {"choices": [{"text": "a", "token_ids": [-1]}]},
    "token_ids are huge": {"choices": [{"text": "a", "token_ids": [10**30]}]},
    "choices is a string": {"choices": "a"},
    "choices hold a number": {"choices": [5]},
    "the event is a list": [1, 2],
    "the event is a string": "hello",
}


@pytest.mark.parametrize("case", list(MALFORMED_EVENTS))
def test_a_malformed_event_ends_the_run_with_the_reason(server, case):
    handle = workbench.load(server.url, model="raw")
    handle.deadlines = SHORT
    events = [event(" once", 11), json.dumps(MALFORMED_EVENTS[case]), event(" upon", 12, "length")]
    server.answer(stream={"events": events})
    result = handle.generate("Once", max_new_tokens=3, temperature=0)
    assert result.finish_reason == "error", f"{case}: accepted as {result.text!r} {result.token_ids}"
    assert "not an OpenAI-compatible stream event" in result.telemetry["error"]
    assert result.text == " once" and result.token_ids == [11]  # what came before the bad event is kept


def test_a_deeply_nested_event_is_malformed_not_a_crash(server):
    handle = workbench.load(server.url, model="raw")
    handle.deadlines = SHORT
    server.answer(stream={"events": ["[" * 100_000]})
    result = handle.generate("Once", max_new_tokens=3, temperature=0)
    assert result.finish_reason == "error" and "malformed stream event" in result.telemetry["error"]


MALFORMED_LISTINGS = {
    "max_model_len is a word": {"data": [{"id": "m", "max_model_len": "lots"}]},
    "max_model_len is a numeral": {"data": [{"id": "m", "max_model_len": "4096"}]},
    "max_model_len is negative": {"data": [{"id": "m", "max_model_len": -1}]},
    "max_model_len is zero": {"data": [{"id": "m", "max_model_len": 0}]},
    "max_model_len is a float": {"data": [{"id": "m", "max_model_len": 2048.5}]},
    "max_model_len is absurd": {"data": [{"id": "m", "max_model_len": 10**20}]},
    "max_model_len is true": {"data": [{"id": "m", "max_model_len": True}]},
    "id is a number": {"data": [{"id": 5}]},
    "id is empty": {"data": [{"id": ""}]},
    "no id": {"data": [{"object": "model"}]},
    "owned_by is a list": {"data": [{"id": "m", "owned_by": ["vllm"]}]},
    "data is a string": {"data": "m"},
    "data holds a number": {"data": [5]},
    "no data": {"object": "list"},
    "the listing is a list": [{"id": "m"}],
}


@pytest.mark.parametrize("case", list(MALFORMED_LISTINGS))
def test_a_malformed_model_list_is_a_clear_load_error(server, case):
    server.answer(models=MALFORMED_LISTINGS[case])
    try:
        with pytest.raises(workbench.ModelUnavailableError, match="did not answer with an OpenAI model list"):
            workbench.load(server.url)
    finally:
        server.answer()


@pytest.mark.parametrize("version", [["0.1"], 5, {"v": 1}, "", None, "x" * 500])
def test_a_malformed_version_is_unknown_not_trusted(server, version):
    server.answer(models={"data": [{"id": "raw", "owned_by": "vllm"}]}, version={"version": version})
    try:
        assert workbench.load(server.url).server_version is None
    finally:
        server.answer()


def test_a_wrong_model_on_a_long_listing_names_a_few_and_the_count(server):
    server.answer(models={"data": [{"id": f"org/model-{i:05d}"} for i in range(10_000)]})
    try:
        with pytest.raises(workbench.InvalidSettingError) as caught:
            workbench.load(server.url, model="org/absent")
    finally:
        server.answer()
    message = str(caught.value)
    assert len(message) < 2000 and "10000 models" in message and "org/model-00000" in message
