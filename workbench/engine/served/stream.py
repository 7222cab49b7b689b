"""One streamed completion from an OpenAI-compatible server, read in a worker thread.

`StreamReader` posts a `/completions` request with `stream=True` and puts every `data:` event on a
queue as a `Chunk` stamped with its arrival time, then one final `Done` or `Failure`. The caller
reads the queue with its own deadlines (first token, between chunks, whole call) and can walk
away at any moment: a stop, Ctrl-C or a deadline never waits on a blocked socket read. `close()`
shuts the connection's socket down at once, from the caller's thread, so a slow stream does not stay
open until its next chunk: closing the connection is how an OpenAI-compatible server learns to abort
the request (vLLM aborts it when the client goes away).

httpx rather than the `openai` client: httpx gives separate connect and read timeouts (the read
timeout is the between-chunks deadline on the socket itself), no hidden retries that would distort
timings, and it is already installed with JupyterLab. The only parsing here is the SSE framing
OpenAI-compatible servers use: `data: <json>` lines ending with `data: [DONE]`; each event's JSON is
validated by `wire` (a malformed one ends the stream as a `Failure` naming the field). Every reason
text passes through `scrub` (the API key and URL credentials removed before any cut).

Left out: chat completions (the in-process engines take a raw prompt, so the served one does too),
multiple choices per request, and named SSE events (servers that send them put drafts there, which
plain clients ignore; so does this one).
"""

from __future__ import annotations

import queue
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx

from workbench.engine.served.wire import WireError, error_message, stream_event
from workbench.errors import scrub

REASON_LIMIT = 400  # characters of a failure's reason, a server's error text included (after scrubbing)
PAYLOAD_LIMIT = 80  # characters of a malformed event quoted in a reason (after scrubbing)


@dataclass
class Chunk:
    arrived_s: float  # time.perf_counter() when the event was read
    text: str
    token_ids: list[int] | None  # vLLM sends them when asked (return_token_ids); other servers: None
    finish_reason: str | None
    usage: dict[str, Any] | None


@dataclass
class Done:
    """The server ended the stream properly (`data: [DONE]`)."""


@dataclass
class Failure:
    reason: str
    status: int | None = None  # the HTTP status when the server answered with an error
    connect: bool = False  # the connection could not be opened at all


Event = Chunk | Done | Failure


class StreamReader:
    """Reads one streamed completion into `events`; `close()` ends it and its connection at once."""

    def __init__(self, client: httpx.Client, body: dict[str, Any], hide: str | None, timeout: httpx.Timeout) -> None:
        self.events: queue.Queue[Event] = queue.Queue()
        self.cancel = threading.Event()
        self._client = client
        self._body = body
        self._timeout = timeout
        self._hide = hide  # the API key: scrubbed from anything the server echoes back
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, name="workbench-served-stream", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Stop reading and shut the connection down now, waking a read blocked on a slow server."""
        with self._lock:
            self.cancel.set()
            if self._socket is not None:
                try:
                    self._socket.shutdown(socket.SHUT_RDWR)  # the server sees the client go at once
                except OSError:
                    pass  # already closed by either side

    def _keep_socket(self, response: httpx.Response) -> None:
        stream = response.extensions.get("network_stream")
        found = stream.get_extra_info("socket") if stream is not None else None
        with self._lock:
            self._socket = found if isinstance(found, socket.socket) else None
        if self.cancel.is_set():  # closed while the request was being sent
            self.close()

    def _forget_socket(self) -> None:
        # Before the connection goes back to httpx's pool: a later close() must not shut down a
        # connection that another request may reuse.
        with self._lock:
            self._socket = None

    def _read(self) -> None:
        try:
            with self._client.stream("POST", "completions", json=self._body, timeout=self._timeout) as response:
                self._keep_socket(response)
                try:
                    if response.status_code != 200:
                        response.read()
                        self._forget_socket()
                        failure = f"HTTP {response.status_code}: {_server_message(response)}"
                        self._put(Failure(failure, status=response.status_code))
                        return
                    for line in response.iter_lines():
                        if self.cancel.is_set():
                            return
                        if line.startswith("data:"):
                            event = self._parse(line[5:].strip())
                            if not isinstance(event, Chunk):
                                self._forget_socket()  # before the caller, told the stream ended, closes
                                self._put(event)
                                return
                            self._put(event)
                finally:
                    self._forget_socket()
            self._put(Failure("the server closed the stream before it finished (no [DONE])"))
        except httpx.ConnectError as error:
            self._put(Failure(f"cannot connect: {error}", connect=True))
        except httpx.ConnectTimeout:
            self._put(Failure("cannot connect: timed out", connect=True))
        except httpx.ReadTimeout:
            self._put(Failure("the server sent nothing within the read timeout"))
        except httpx.HTTPError as error:  # reset, closed mid-chunk, protocol error
            self._put(Failure(f"the connection broke mid-stream: {type(error).__name__}: {error}"))
        except Exception as error:  # anything else must still end the wait now, not at a deadline
            self._put(Failure(f"reading the stream failed: {type(error).__name__}: {error}"))

    def _parse(self, payload: str) -> Event:
        if payload == "[DONE]":
            return Done()
        arrived = time.perf_counter()
        try:
            data = stream_event(payload)
        except WireError as error:
            quoted = scrub(payload, [self._hide], limit=PAYLOAD_LIMIT)  # scrubbed before the cut
            return Failure(f"malformed stream event {quoted!r} ({error})")
        if data.error is not None:  # vLLM reports a failure inside an open stream this way
            message = data.error if isinstance(data.error, str) else data.error.message or "no message"
            return Failure(f"the server reported an error mid-stream: {message}")
        choice = data.choices[0] if data.choices else None
        return Chunk(
            arrived_s=arrived,
            text=(choice.text or "") if choice else "",
            token_ids=list(choice.token_ids) if choice and choice.token_ids is not None else None,
            finish_reason=choice.finish_reason if choice else None,
            usage=data.usage.model_dump() if data.usage else None,
        )

    def _put(self, event: Event) -> None:
        if isinstance(event, Failure):  # the one cut of a reason, after the scrub
            event.reason = scrub(event.reason, [self._hide], limit=REASON_LIMIT)
        self.events.put(event)


def _server_message(response: httpx.Response) -> str:
    """The error message an OpenAI-compatible server puts in its JSON body, else the body (uncut:
    `StreamReader._put` scrubs the reason, then cuts it)."""
    return error_message(response.content)
