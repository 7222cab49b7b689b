"""`ServedModel`: a model behind an OpenAI-compatible server (vLLM, ...), run and measured from here.

`load_served(url)` (what `workbench.load("http://HOST:PORT/v1")` calls) asks the server which models
it serves and which version it is, then `generate(prompt, **settings)` streams a `/completions`
request and returns the same `GenerationResult` as an in-process model. Everything is measured on
the client, so it includes the network: time to first token, the gaps between streamed chunks (as
`step_times_s`), tokens/s, and tokens per chunk. A chunk is not a forward pass (vLLM streams one
chunk per scheduler step for autoregressive models and one per finished canvas for DiffusionGemma),
so `forward_passes`, `prefill_s` and energy are None with the reason in `telemetry`, never 0.

Settings: max_new_tokens, temperature, top_p, top_k and seed go into each request. Diffusion knobs
(steps, sampler, block_size, ...) are fixed when a vLLM server starts, so they are refused here.
The API key comes from $WORKBENCH_API_KEY (or $OPENAI_API_KEY) and is sent only as a header: the
recorded endpoint has no credentials, a key that is not printable ASCII is refused before it is sent,
and `workbench.errors.scrub` removes the key from everything the server sends back (error texts,
generated text, model ids, the version) before any of it is cut, shown, returned or stored.
Everything read from the server is validated by `wire` (pydantic schemas): a malformed listing is a
`ModelUnavailableError` at load, a malformed stream event a result with finish_reason "error".

Every wait has a deadline (`Deadlines`): a server error, a malformed or stalled stream or a
connection that breaks mid-stream gives a partial result with finish_reason "error" and the reason in
`telemetry["error"]`. Left out: chat templates, several choices per request, retries.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx
import torch

from workbench.engine.generator import SettingsNote, StepCallback, start_run
from workbench.engine.result import FinishReason, GenerationResult, StepEvent
from workbench.engine.run_state import RunState
from workbench.engine.served.stream import Chunk, Done, Failure, StreamReader
from workbench.engine.served.wire import WireError, WireModel, model_list, server_version
from workbench.engine.settings import AutoregressiveSettings, GenerationSettings, ModelLimits, resolve_settings
from workbench.errors import SECRET_VARIABLES, InvalidSettingError, ModelUnavailableError, scrub

API_KEY_VARIABLES = SECRET_VARIABLES
MODELS_NAMED = 20  # a wrong model= names this many of the served ones (a server may list thousands)
DEFAULTS: dict[str, Any] = {"max_new_tokens": 64, "temperature": 0.8, "seed": None}  # as the in-process models
REQUEST_KNOBS = ("max_new_tokens", "temperature", "top_p", "top_k", "seed")
SERVER_WIDE = ("steps", "block_size", "sampler", "early_exit", "entropy_bound", "threshold")
SERVER_FINISH: dict[str, FinishReason] = {"length": "length", "stop": "eos"}
UNKNOWN_CONTEXT = 1 << 30  # a server that does not report max_model_len checks the length itself
NOT_MEASURABLE = {
    "forward_passes_missing": "served: the server streams chunks, not forward passes (see stream_chunks)",
    "prefill_s_missing": "served: the server does not report its prefill; time_to_first_token_s includes it and the network",
    "gpu_energy_missing": "served: the energy is spent on the server, which this client cannot meter",
    "joules_per_token_missing": "served: the energy is spent on the server, which this client cannot meter",
}
Kind = Literal["autoregressive", "diffusion"]


@dataclass
class Deadlines:
    """How long a served model may wait, in seconds: pass `load_served(url, deadlines=...)`, or set
    `handle.deadlines` to change them for later runs. Stop and Ctrl-C end a run at once."""

    connect_s: float = 3.0  # opening the connection (an unreachable host fails within this)
    listing_s: float = 5.0  # each read of /models and /version at load (a live server answers in ms)
    first_token_s: float = 120.0  # request sent -> first token (a busy server queues requests)
    between_chunks_s: float = 30.0  # one chunk -> the next
    total_s: float = 600.0  # the whole call


def clean_endpoint(url: str) -> str:
    """The URL without credentials, query or fragment; refuses URLs that are not http(s)."""
    allowed = "an http:// or https:// URL like http://HOST:PORT/v1"
    try:
        parts = urlsplit(url.strip())
        port = parts.port  # raises ValueError for a port that is not a number
    except (AttributeError, ValueError):
        raise InvalidSettingError("spec", "<the URL given>" if isinstance(url, str) else url, allowed) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidSettingError("spec", "<the URL given>", allowed)  # the text may hold a key: never echoed
    hostname = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname  # IPv6 keeps its brackets
    host = hostname if port is None else f"{hostname}:{port}"
    cleaned = urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))
    if parts.username or parts.password or parts.query:
        raise InvalidSettingError(
            "spec",
            cleaned + " (credentials or query removed here)",
            f"a URL without credentials: put the API key in ${API_KEY_VARIABLES[0]} so it is never recorded",
        )
    return cleaned


def load_served(
    url: str, model: str | None = None, kind: Kind | None = None, deadlines: Deadlines | None = None
) -> ServedModel:
    """Connect to an OpenAI-compatible server; `model` defaults to the first one it serves."""
    endpoint = clean_endpoint(url)
    if kind not in (None, "autoregressive", "diffusion"):
        raise InvalidSettingError("kind", kind, "'autoregressive', 'diffusion', or None (assume autoregressive)")
    deadlines = deadlines or Deadlines()
    api_key = _api_key()
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    client = httpx.Client(
        base_url=endpoint + "/",
        headers=headers,
        timeout=httpx.Timeout(deadlines.listing_s, connect=deadlines.connect_s),
    )
    started = time.perf_counter()
    try:
        listing = client.get("models")
    except httpx.HTTPError as error:
        client.close()
        raise ModelUnavailableError(
            f"{endpoint} is unreachable ({type(error).__name__}); is the server running? (vLLM needs minutes to start)"
        ) from None
    if listing.status_code != 200:
        client.close()
        problem = (
            "refused the API key (set $WORKBENCH_API_KEY)"
            if listing.status_code in (401, 403)
            else f"answered HTTP {listing.status_code}"
        )
        raise ModelUnavailableError(f"{endpoint}/models {problem}")
    try:
        served = {entry.id: entry for entry in model_list(listing.content).data}
    except WireError as error:
        client.close()
        raise ModelUnavailableError(
            f"{endpoint}/models did not answer with an OpenAI model list ({scrub(str(error), [api_key])})"
        ) from None
    if not served:
        client.close()
        raise ModelUnavailableError(f"{endpoint} serves no models")
    if model is not None and model not in served:
        client.close()
        named = ", ".join(scrub(name, [api_key], limit=100) for name in list(served)[:MODELS_NAMED])
        more = f" and {len(served) - MODELS_NAMED} more" if len(served) > MODELS_NAMED else ""
        raise InvalidSettingError("model", model, f"one of the {len(served)} models {endpoint} serves: {named}{more}")
    chosen = served[model if model is not None else next(iter(served))]
    return ServedModel(
        endpoint,
        chosen,
        client=client,
        api_key=api_key,
        deadlines=deadlines,
        kind=kind,
        server_version=_server_version(client, endpoint, chosen.owned_by, api_key),
        load_s=time.perf_counter() - started,
    )


def _api_key() -> str | None:
    """The key from the first variable that holds one; refused unless HTTP can carry it as it is."""
    for name in API_KEY_VARIABLES:
        key = os.environ.get(name)
        if key:
            if not (key.isascii() and key.isprintable()):
                # httpx would fail with an error that holds the whole header; the key is not echoed here.
                raise InvalidSettingError(
                    f"${name}",
                    "<the key, not shown>",
                    "printable ASCII characters only (an HTTP header cannot carry others); nothing was sent",
                )
            return key
    return None


def _server_version(client: httpx.Client, endpoint: str, owner: str | None, api_key: str | None) -> str | None:
    """ "vllm 0.32.0": vLLM answers GET /version beside /v1 and owns its models; other servers: None."""
    root = endpoint.removesuffix("/v1")
    try:
        response = client.get(f"{root}/version")
        version = server_version(response.content).version if response.status_code == 200 else None
    except (httpx.HTTPError, WireError):
        return None
    return scrub(f"{owner or 'server'} {version}", [api_key], limit=120) if version else None


class ServedModel:
    """A `Generator` whose work happens on a server (see the module docstring)."""

    is_served = True  # its energy is spent on the server: no local meter applies
    device = "served"
    dtype = "unknown"  # the server does not report it

    def __init__(
        self,
        endpoint: str,
        model: WireModel,
        *,
        client: httpx.Client,
        api_key: str | None,
        deadlines: Deadlines,
        kind: Kind | None,
        server_version: str | None,
        load_s: float,
    ) -> None:
        self.endpoint = endpoint
        self.name = scrub(model.id, [api_key])  # what is shown and recorded
        self._server_id = model.id  # what requests name
        self.source = endpoint
        self.kind: Kind = kind or "autoregressive"
        self.kind_source = (
            "declared by the caller" if kind else "assumed: the server does not say how it generates (pass kind=)"
        )
        self.server_version = server_version
        self.deadlines = deadlines
        self.load_s = load_s
        self.defaults = dict(DEFAULTS)
        self.limits = ModelLimits(context_length=model.max_model_len or UNKNOWN_CONTEXT)
        self._client = client
        self._api_key = api_key  # sent as a header only; never recorded

    def __repr__(self) -> str:
        return f"<ServedModel {self.name!r} at {self.endpoint} ({self.server_version or 'server version unknown'}, {self.kind})>"

    def close(self) -> None:
        self._client.close()

    def settings(self, **given: Any) -> AutoregressiveSettings:
        """The settings a request with these keywords would send (validated; raises InvalidSettingError)."""
        for name in SERVER_WIDE:
            if given.get(name) is not None:
                raise InvalidSettingError(
                    name,
                    given[name],
                    "nothing for a served model: the server fixes it at start-up "
                    "(vLLM: --diffusion-config, --hf-overrides) and a request cannot change it",
                )
        # Validated as autoregressive knobs: those are the ones an OpenAI-compatible request carries.
        resolved = resolve_settings("autoregressive", self.defaults, self.limits, **given)
        assert isinstance(resolved, AutoregressiveSettings)
        return resolved

    def notes(self, settings: GenerationSettings) -> list[SettingsNote]:
        """Nothing to note beyond errors: the in-process handles' notes are about canvases."""
        return []

    def generate(
        self,
        prompt: str,
        *,
        callback: StepCallback | None = None,
        stop: threading.Event | None = None,
        settings: GenerationSettings | None = None,
        **given: Any,
    ) -> GenerationResult:
        """Stream one completion; `callback` gets a `StepEvent` per chunk, `stop` or Ctrl-C end it early.

        Settings come as keywords (checked here) or, already resolved by `handle.settings(...)`, as
        `settings=`, as the in-process handles take them."""
        resolved = start_run(self, prompt, callback, stop, settings, given, AutoregressiveSettings)
        assert isinstance(resolved, AutoregressiveSettings)  # start_run refuses every other type
        sent = {key: value for key, value in resolved.to_dict().items() if key in REQUEST_KNOBS}
        recorded = {**sent, "endpoint": self.endpoint, "server_model": self.name}
        reader = StreamReader(self._client, self._request(prompt, resolved), self._api_key, self._timeout())
        run = _StreamRun()
        run.start()
        reader.start()
        try:
            self._follow(reader, run, callback, stop)
        except KeyboardInterrupt:
            run.finish_reason = "interrupted"
        finally:
            reader.close()  # now, not at the next chunk: the server sees the abort and stops generating
        if run.failure is not None:
            self._raise_if_not_partial(run.failure, recorded)
        return run.result(self, prompt, recorded)

    def _request(self, prompt: str, settings: AutoregressiveSettings) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self._server_id,
            "prompt": prompt,
            "max_tokens": settings.max_new_tokens,
            "temperature": settings.temperature,
            "seed": settings.seed,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if settings.top_p is not None:
            body["top_p"] = settings.top_p
        if settings.top_k is not None:
            body["top_k"] = settings.top_k  # vLLM's extension; a server without it answers 400 (InvalidSettingError)
        if self.server_version and self.server_version.startswith("vllm"):
            body["return_token_ids"] = True  # vLLM's extension: the token ids of each chunk
        return body

    def _timeout(self) -> httpx.Timeout:
        # The socket read timeout only frees the reader thread; the deadlines are enforced in _follow.
        read = max(self.deadlines.first_token_s, self.deadlines.between_chunks_s) + 1.0
        return httpx.Timeout(read, connect=self.deadlines.connect_s)

    def _follow(
        self,
        reader: StreamReader,
        run: _StreamRun,
        callback: StepCallback | None,
        stop: threading.Event | None,
    ) -> None:
        deadlines = self.deadlines
        while True:
            if stop is not None and stop.is_set():
                run.finish_reason = "stopped"
                return
            now = time.perf_counter()
            waits = [(run.started + deadlines.total_s, f"the whole call took over {deadlines.total_s:g} s")]
            if run.time_to_first_token_s is None:
                waits.append((run.started + deadlines.first_token_s, f"no token within {deadlines.first_token_s:g} s"))
            else:
                waits.append(
                    (
                        run.last_s + deadlines.between_chunks_s,
                        f"the stream stalled: no chunk for {deadlines.between_chunks_s:g} s",
                    )
                )
            deadline, why = min(waits)
            if now >= deadline:
                run.fail(why)
                return
            try:
                event = reader.events.get(timeout=min(0.05, deadline - now))  # short: stop must act promptly
            except queue.Empty:
                continue
            if isinstance(event, Chunk):
                if run.add(event) and callback is not None:
                    callback(
                        StepEvent(
                            kind=self.kind,
                            forward_passes=None,
                            elapsed_s=event.arrived_s - run.started,
                            committed_ids=list(run.committed_ids),
                            time_to_first_token_s=run.time_to_first_token_s,
                            text=scrub("".join(run.text), [self._api_key], growing=True),
                        )
                    )
            elif isinstance(event, Done):
                run.finish()
                return
            else:
                run.failure = event
                run.fail(event.reason)
                return

    def _raise_if_not_partial(self, failure: Failure, recorded: dict[str, Any]) -> None:
        """Failures before any generation that the caller must fix are raised, not returned."""
        if failure.connect:
            raise ModelUnavailableError(
                f"{self.endpoint} is unreachable ({failure.reason}); is the server still running?"
            )
        if failure.status in (400, 422):
            raise InvalidSettingError(
                "settings", recorded, f"what {self.endpoint} accepts for {self.name!r}; it answered {failure.reason}"
            )
        if failure.status in (401, 403, 404):
            raise ModelUnavailableError(f"{self.endpoint} refused the request for {self.name!r}: {failure.reason}")


@dataclass
class _StreamRun(RunState):
    """The shared run record, plus what only a stream has: text pieces, usage, the server's word.

    Times are on the host clock (the device is the CPU, whose synchronise is a no-op): chunks are
    stamped with `time.perf_counter()` by the reader thread. A chunk's gap to the one before is its
    step time; the committed ids are the ones the server sent."""

    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    text: list[str] = field(default_factory=list)
    ids_complete: bool = True  # False when a chunk with text came without its token ids
    arrivals: list[float] = field(default_factory=list)  # chunks that carried text or tokens
    last_s: float = 0.0
    ended: float | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    server_finish: str | None = None
    error: str | None = None
    failure: Failure | None = None

    def start(self) -> None:
        super().start()
        self.last_s = self.started

    def add(self, chunk: Chunk) -> bool:
        """Record a chunk; True when it carried generated text or tokens."""
        self.last_s = chunk.arrived_s
        if chunk.usage:
            self.usage = chunk.usage
        if chunk.finish_reason:
            self.server_finish = chunk.finish_reason
        if not chunk.text and not chunk.token_ids:
            return False
        if chunk.token_ids is None:
            self.ids_complete = False
        self.text.append(chunk.text)
        self.committed_ids.extend(chunk.token_ids or [])
        if self.arrivals:
            self.step_times_s.append(chunk.arrived_s - self.arrivals[-1])
        self.arrivals.append(chunk.arrived_s)
        if self.time_to_first_token_s is None:
            self.time_to_first_token_s = chunk.arrived_s - self.started
        return True

    def finish(self) -> None:
        self.ended = time.perf_counter()
        if self.server_finish in SERVER_FINISH:
            self.finish_reason = SERVER_FINISH[self.server_finish]
        else:
            self.fail(f"the stream ended with finish_reason={self.server_finish!r}")

    def fail(self, reason: str) -> None:
        self.ended = self.ended or time.perf_counter()
        self.finish_reason, self.error = "error", reason

    def result(self, handle: ServedModel, prompt: str, recorded: dict[str, Any]) -> GenerationResult:
        ended = self.ended if self.ended is not None else time.perf_counter()
        new_tokens = len(self.committed_ids) if self.ids_complete else None
        chunks = len(self.arrivals)
        telemetry: dict[str, Any] = {
            "served": True,
            "endpoint": handle.endpoint,
            "server_model": handle.name,
            "server_version": handle.server_version,
            "kind_source": handle.kind_source,
            "stream_chunks": chunks,
            "tokens_per_chunk": new_tokens / chunks if new_tokens is not None and chunks else None,
            "tokens_per_chunk_note": "tokens per streamed chunk, measured on the client; a chunk is not a forward pass",
            "usage_prompt_tokens": self.usage.get("prompt_tokens"),
            "usage_completion_tokens": self.usage.get("completion_tokens"),
            "error": self.error,
            **NOT_MEASURABLE,
        }
        if not self.ids_complete:
            telemetry["token_ids_missing"] = "the server sent text without token ids; tokens/s is not measured"
        return GenerationResult(
            model=handle.name,
            kind=handle.kind,
            prompt=prompt,
            text=scrub("".join(self.text), [handle._api_key]),
            token_ids=list(self.committed_ids) if self.ids_complete else [],
            settings=recorded,
            finish_reason=self.finish_reason,
            device=handle.device,
            dtype=handle.dtype,
            load_s=handle.load_s,
            prefill_s=None,
            time_to_first_token_s=self.time_to_first_token_s,
            total_s=ended - self.started,
            step_times_s=list(self.step_times_s),
            forward_passes=None,
            prompt_tokens=self.usage.get("prompt_tokens"),
            telemetry=telemetry,
        )
