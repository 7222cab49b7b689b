"""What an OpenAI-compatible server may send, as pydantic schemas: one validation layer for wire data.

Every field the served handle reads from the network is checked here against its type and range,
strictly (the JSON string "123" is not a list of token ids, "4096" is not a context length), and
nothing else in `workbench.engine.served` reads raw JSON. `stream_event()` turns one `data:` payload
of a streamed `/completions` response into a `WireChunk` or raises `WireError` with a short reason
(the field and what was wrong, never the value: a value may hold a secret); `model_list()` and
`server_version()` do the same for `/models` and vLLM's `/version`, `error_message()` reads an error
answer. Unknown fields are ignored, as
OpenAI-compatible servers add their own. Left out: chat-completion chunks, logprobs, several choices.
"""

from __future__ import annotations

from typing import Annotated, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MAX_CONTEXT = 1 << 30  # a context length above a billion tokens is a wrong report, not a model
TokenId = Annotated[int, Field(ge=0, lt=1 << 31)]
Count = Annotated[int, Field(ge=0, lt=1 << 40)]
Short = Annotated[str, Field(max_length=1000)]  # a finish reason, an owner, a version: words, not pages


class WireError(ValueError):
    """Wire data that does not match its schema; the message names the field, never its value."""


class _Wire(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


Schema = TypeVar("Schema", bound=_Wire)


class WireChoice(_Wire):
    text: str | None = None
    token_ids: list[TokenId] | None = None  # vLLM's extension (return_token_ids)
    finish_reason: Short | None = None


class WireUsage(_Wire):
    prompt_tokens: Count | None = None
    completion_tokens: Count | None = None


class WireErrorBody(_Wire):
    message: str | None = None


class WireChunk(_Wire):
    """One streamed event: a choice with text, a usage report, or an error (vLLM's mid-stream failure)."""

    choices: list[WireChoice] = Field(default_factory=list, max_length=1)
    usage: WireUsage | None = None
    error: WireErrorBody | str | None = None


class WireErrorResponse(_Wire):
    """An error answer: {"error": {"message": ...}} (OpenAI, vLLM) or {"message": ...}."""

    error: WireErrorBody | str | None = None
    message: str | None = None


class WireModel(_Wire):
    id: Annotated[str, Field(min_length=1, max_length=1000)]
    owned_by: Short | None = None
    max_model_len: Annotated[int, Field(gt=0, le=MAX_CONTEXT)] | None = None


class WireModelList(_Wire):
    data: list[WireModel]


class WireVersion(_Wire):
    version: Annotated[str, Field(min_length=1, max_length=100)]


def stream_event(payload: str | bytes) -> WireChunk:
    return _parse(WireChunk, payload, "stream event")


def model_list(payload: str | bytes) -> WireModelList:
    return _parse(WireModelList, payload, "model list")


def server_version(payload: str | bytes) -> WireVersion:
    return _parse(WireVersion, payload, "version")


def error_message(payload: bytes) -> str:
    """The message of an error answer, else the body's text (the caller scrubs and cuts it)."""
    try:
        body = WireErrorResponse.model_validate_json(payload)
    except ValidationError:
        return payload.decode("utf-8", errors="replace")
    message = body.error if isinstance(body.error, str) else body.error.message if body.error else body.message
    return message or payload.decode("utf-8", errors="replace")


def _parse(schema: type[Schema], payload: str | bytes, what: str) -> Schema:
    try:
        return schema.model_validate_json(payload)
    except ValidationError as error:
        raise WireError(f"not an OpenAI-compatible {what}: {describe(error)}") from None


def describe(error: ValidationError) -> str:
    """The first problems of a validation error as "field: what is wrong", without the input values."""
    problems = [
        f"{'.'.join(str(part) for part in problem['loc']) or 'the body'}: {problem['msg']}"
        for problem in error.errors(include_input=False, include_url=False)[:3]
    ]
    more = error.error_count() - len(problems)
    return "; ".join(problems) + (f" (and {more} more)" if more > 0 else "")
