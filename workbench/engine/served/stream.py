"""One streamed completion from an OpenAI-compatible server, read in a worker thread.

`StreamReader` posts a `/completions` request with `stream=True` and puts every `data:` event on a
queue as a `Chunk` stamped with its arrival time, then one final `Done` or `Failure`. The caller
reads the queue with its own deadlines (first token, between chunks, whole call) and can walk
away at any moment: a stop, Ctrl-C or a deadline never waits on a blocked socket read. The worker
sees `cancel` after the next line, or its read timeout ends it; leaving the `with` block closes the
connection, which is how an OpenAI-compatible server learns to abort the request.

httpx rather than the `openai` client: httpx gives separate connect and read timeouts (the read
timeout is the between-chunks deadline on the socket itself), no hidden retries that would distort
timings, and it is already installed with JupyterLab. The only parsing here is the SSE framing
OpenAI-compatible servers use: `data: <json>` lines ending with `data: [DONE]`.

Left out: chat completions (the in-process engines take a raw prompt, so the served one does too),
multiple choices per request, and named SSE events (servers that send them put drafts there, which
plain clients ignore; so does this one).
"""

from __future__ import annotations

import json
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx


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
    """Reads one streamed completion into `events`; `cancel` makes it stop and close the connection."""

    def __init__(self, client: httpx.Client, body: dict[str, Any], hide: str | None, timeout: httpx.Timeout) -> None:
        self.events: queue.Queue[Event] = queue.Queue()
        self.cancel = threading.Event()
        self._client = client
        self._body = body
        self._timeout = timeout
        self._hide = hide  # the API key: scrubbed from anything the server echoes back
        self._thread = threading.Thread(target=self._read, name="workbench-served-stream", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _read(self) -> None:
        try:
            with self._client.stream("POST", "completions", json=self._body, timeout=self._timeout) as response:
                if response.status_code != 200:
                    response.read()
                    self._put(
                        Failure(
                            f"HTTP {response.status_code}: {_server_message(response)}", status=response.status_code
                        )
                    )
                    return
                for line in response.iter_lines():
                    if self.cancel.is_set():
                        return
                    if line.startswith("data:"):
                        event = self._parse(line[5:].strip())
                        self._put(event)
                        if not isinstance(event, Chunk):
                            return
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
            data = json.loads(payload)
            if "error" in data:  # vLLM reports a failure inside an open stream this way
                error = data["error"]
                return Failure(
                    f"the server reported an error mid-stream: {error.get('message', error) if isinstance(error, dict) else error}"
                )
            choices = data.get("choices") or []
            choice = choices[0] if choices else {}
            token_ids = choice.get("token_ids")
            return Chunk(
                arrived_s=arrived,
                text=str(choice.get("text") or ""),
                token_ids=[int(t) for t in token_ids] if token_ids is not None else None,
                finish_reason=choice.get("finish_reason"),
                usage=data.get("usage"),
            )
        except (ValueError, TypeError, AttributeError) as error:
            return Failure(f"malformed stream event {payload[:80]!r} ({type(error).__name__})")

    def _put(self, event: Event) -> None:
        if isinstance(event, Failure) and self._hide:
            event.reason = event.reason.replace(self._hide, "[API key hidden]")
        self.events.put(event)


def _server_message(response: httpx.Response) -> str:
    """The error message an OpenAI-compatible server puts in its JSON body, else the body's start."""
    try:
        body = response.json()
        error = body.get("error", body) if isinstance(body, dict) else body
        message = error.get("message", error) if isinstance(error, dict) else error
    except ValueError:
        message = response.text
    return str(message)[:300]
