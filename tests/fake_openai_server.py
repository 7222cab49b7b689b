"""A small misbehaving OpenAI-compatible server on 127.0.0.1, for the served-model fault tests.

It serves `/v1/models` and a streaming `/v1/completions` whose behaviour is chosen by the request's
model name (all of them are listed, so `load(url, model=NAME)` picks one): a good stream, an HTTP
error, a malformed event, a stall before or after the first chunk, a connection closed mid-stream (plain, or mid-way through
HTTP/1.1 chunked framing, as when a vLLM process dies),
an error body that echoes the caller's Authorization header, a slow stream that notes when the
client goes away ("slow": `disconnected_after_s`), and "raw", which sends what the test set with
`answer(stream=...)`: `{"events": [payload, ...]}` as `data:` lines then [DONE], or `{"status": 500,
"body": "..."}`; so a test can make any malformed or secret-bearing answer. `answer(models=...,
version=...)` replaces the answers to /v1/models and /version. Real sockets, real HTTP: only the server's behaviour is made up.
Every request's Authorization header is kept in `seen_authorization`.
"""

from __future__ import annotations

import json
import select
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

BEHAVIOURS = (
    "ok",
    "http500",
    "http400",
    "malformed",
    "stall-first",
    "stall",
    "close",
    "die",
    "echo-key",
    "slow",
    "raw",
)
STALL_S = 8.0  # longer than any deadline the tests set; the server threads are daemons


def _chunk(text: str, token_id: int, finish: str | None = None) -> dict:
    return {"choices": [{"index": 0, "text": text, "token_ids": [token_id], "finish_reason": finish}]}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # no chunked framing: closing the socket ends the body, as a dying server does

    def log_message(self, *args: object) -> None:  # keep pytest's output clean
        pass

    def do_GET(self) -> None:
        self.server.seen_authorization.append(self.headers.get("Authorization"))  # type: ignore[attr-defined]
        if self.path == "/v1/models" and self.server.models_body is not None:  # type: ignore[attr-defined]
            self._json(200, self.server.models_body)  # type: ignore[attr-defined]
        elif self.path == "/v1/models":
            self._json(200, {"object": "list", "data": [{"id": name, "max_model_len": 256} for name in BEHAVIOURS]})
        elif self.path == "/version" and self.server.version_body is not None:  # type: ignore[attr-defined]
            self._json(200, self.server.version_body)  # type: ignore[attr-defined]
        elif self.path == "/not-openai/v1/models":  # a web server that is not an OpenAI-compatible one
            self._json(200, {"hello": "world"})
        else:
            self._json(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        self.server.seen_authorization.append(self.headers.get("Authorization"))  # type: ignore[attr-defined]
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        behaviour = body["model"]
        if behaviour == "http500":
            return self._json(500, {"error": {"message": "engine dead"}})
        if behaviour == "http400":
            return self._json(400, {"error": {"message": "max_tokens is too large"}})
        if behaviour == "raw":
            return self._raw(self.server.stream_plan)  # type: ignore[attr-defined]
        if behaviour == "echo-key":
            return self._json(500, {"error": {"message": f"bad credentials {self.headers.get('Authorization')}"}})
        if behaviour == "die":  # HTTP/1.1 chunked, as vLLM streams, then the process is gone mid-body
            event = f"data: {json.dumps(_chunk(' once', 11))}\n\n".encode()
            self.wfile.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            self.wfile.flush()
            time.sleep(0.1)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        if behaviour == "slow":
            return self._slow()
        if behaviour == "stall-first":
            time.sleep(STALL_S)
            return
        self._event(_chunk(" once", 11))
        if behaviour == "malformed":
            return self._line("data: {this is not json")
        if behaviour == "stall":
            time.sleep(STALL_S)
            return
        if behaviour == "close":
            return  # HTTP/1.0: the handler returning closes the connection, mid-stream
        self._event(_chunk(" upon", 12))
        self._event(_chunk(" a", 13, finish="length"))
        self._event({"choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": 3}})
        self._line("data: [DONE]")

    def _raw(self, plan: dict[str, Any]) -> None:
        if plan.get("status", 200) != 200:
            payload = plan["body"].encode()
            self.send_response(plan["status"])
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for event in plan["events"]:
            self._line(f"data: {event}")
        self._line("data: [DONE]")

    def _slow(self) -> None:
        """One chunk, then one every STALL_S; notes how long after the first the client went away."""
        self._event(_chunk(" once", 11))
        sent = time.monotonic()
        next_chunk = sent + STALL_S
        while time.monotonic() - sent < 2 * STALL_S:
            readable, _, _ = select.select([self.connection], [], [], 0.02)
            if readable and not self.connection.recv(1):  # end of stream: the client closed
                self.server.disconnected_after_s.append(time.monotonic() - sent)  # type: ignore[attr-defined]
                return
            if time.monotonic() > next_chunk:
                self._event(_chunk(" upon", 12))
                next_chunk += STALL_S

    def _event(self, data: dict) -> None:
        self._line(f"data: {json.dumps(data)}")
        time.sleep(0.02)

    def _line(self, line: str) -> None:
        self.wfile.write(f"{line}\n\n".encode())
        self.wfile.flush()

    def _json(self, status: int, data: dict) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class FakeServer:
    """Context manager: `with FakeServer() as server: server.url` is "http://127.0.0.1:PORT/v1"."""

    def __enter__(self) -> Self:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.seen_authorization = []  # type: ignore[attr-defined]
        self._server.disconnected_after_s = []  # type: ignore[attr-defined]
        self._server.models_body = None  # type: ignore[attr-defined]
        self._server.version_body = None  # type: ignore[attr-defined]
        self._server.stream_plan = {"events": []}  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    @property
    def seen_authorization(self) -> list[str | None]:
        return self._server.seen_authorization  # type: ignore[attr-defined]

    @property
    def disconnected_after_s(self) -> list[float]:
        return self._server.disconnected_after_s  # type: ignore[attr-defined]

    def answer(self, *, models: Any = None, version: Any = None, stream: dict[str, Any] | None = None) -> None:
        """Replace the answers to /v1/models and /version (None: the usual ones) and to model "raw"."""
        self._server.models_body = models  # type: ignore[attr-defined]
        self._server.version_body = version  # type: ignore[attr-defined]
        self._server.stream_plan = stream or {"events": []}  # type: ignore[attr-defined]

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
