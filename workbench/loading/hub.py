"""Reaching the Hugging Face hub without ever hanging on it.

A hub id loads from the local cache when it is there. Otherwise the hub is tried only when it
answers a real request about that model (its model API, over HTTP and TLS) within a few seconds and
HF_HUB_OFFLINE is not set; if it does not, the caller gets a `ModelUnavailableError` that says what
is missing and how to get it, within 10 s. A hub that answers the probe must then deliver the
model's config.json within `DEADLINES.config_s` (30 s): huggingface_hub retries a stalled request
for minutes, so the fetch runs in a worker thread the caller stops waiting for. Both deadlines are
the caller's to set: `workbench.loading.hub.DEADLINES.config_s = 120` before `load()`. The weights
then download under huggingface_hub's own per-read timeouts (HF_HUB_DOWNLOAD_TIMEOUT, 10 s by
default), so a server that stalls mid-download fails rather than hangs; a whole-download deadline is
left out (52 GB take as long as they take).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from workbench.errors import ModelUnavailableError

PROBE_TIMEOUTS = httpx.Timeout(connect=3.0, read=4.0, write=3.0, pool=3.0)  # each wait inside the probe


@dataclass
class HubDeadlines:
    """How long `load()` waits on the hub, in seconds; change `workbench.loading.hub.DEADLINES`."""

    probe_s: float = 8.0  # the whole probe (connect, TLS, answer): offline loading fails within 10 s
    config_s: float = 30.0  # config.json, once the probe answered (a few KB; retries included)


DEADLINES = HubDeadlines()


def cached_snapshot(repo_id: str) -> Path | None:
    """Local folder of a cached hub model with its config, or None."""
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:  # any failure here just means "not usable from the cache"
        return None
    return folder if (folder / "config.json").exists() else None


def hub_reachable(repo_id: str) -> tuple[bool, str]:
    """(reachable, reason): does the hub answer a real HTTP request about `repo_id`, within deadlines?

    A TCP connection is not enough: a host that accepts and then stays silent, or speaks something
    other than TLS, would hang or break the download later. So this asks the hub's model API and
    waits `DEADLINES.probe_s` at most for the whole exchange (connect, TLS, first byte, body).
    Honours HF_HUB_OFFLINE.
    """
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return False, "HF_HUB_OFFLINE is set"
    from huggingface_hub import constants
    from huggingface_hub.utils import build_hf_headers

    url = f"{constants.ENDPOINT.rstrip('/')}/api/models/{repo_id}"
    outcome: list[tuple[bool, str]] = []

    def attempt() -> None:
        try:
            response = httpx.get(url, headers=build_hf_headers(), timeout=PROBE_TIMEOUTS, follow_redirects=True)
        except httpx.TimeoutException as error:
            outcome.append((False, f"{url} accepted no request or sent nothing in time ({type(error).__name__})"))
        except Exception as error:  # TLS mismatch, refused, bad name: any failure means "not reachable"
            outcome.append((False, f"{url} could not be reached ({type(error).__name__}: {error})"))
        else:
            outcome.append(_verdict(response.status_code, url))

    # Name lookups ignore httpx's timeouts; a daemon thread bounds the whole exchange.
    deadline = DEADLINES.probe_s
    finished = _within(deadline, attempt, "workbench-hub-probe")
    return outcome[0] if finished and outcome else (False, f"{url} did not answer within {deadline:g} s")


def _within(deadline_s: float, work: Callable[[], Any], name: str) -> bool:
    """Run `work` in a daemon thread; True when it ended within the deadline (else it is left behind)."""
    thread = threading.Thread(target=work, name=name, daemon=True)
    thread.start()
    thread.join(deadline_s)
    return not thread.is_alive()


def fetch_config(repo_id: str) -> None:
    """Download `repo_id`'s config.json into the cache within `DEADLINES.config_s`, or raise."""
    from huggingface_hub import hf_hub_download

    errors: list[Exception] = []

    def attempt() -> None:
        try:
            hf_hub_download(repo_id, "config.json")
        except Exception as error:  # any failure: reported below with its type
            errors.append(error)

    deadline = DEADLINES.config_s
    if not _within(deadline, attempt, "workbench-hub-config"):
        raise ModelUnavailableError(
            f"the hub answered about {repo_id!r} but did not deliver its config.json within {deadline:g} s "
            "(a stalled hub; to wait longer set workbench.loading.hub.DEADLINES.config_s)"
        )
    if errors:
        raise ModelUnavailableError(
            f"the hub answered about {repo_id!r} but its config.json failed ({type(errors[0]).__name__}: {errors[0]})"
        )


def _verdict(status: int, url: str) -> tuple[bool, str]:
    if status == 200:
        return True, ""
    if status in (401, 403):
        return False, f"{url} answered HTTP {status}: a gated model; accept its licence and run `hf auth login`"
    if status == 404:
        return False, f"{url} answered HTTP 404: no such model on the hub"
    return False, f"{url} answered HTTP {status}"


def resolve_hub_model(repo_id: str) -> str:
    """A cached folder for `repo_id`, or the id itself when the hub can be reached."""
    cached = cached_snapshot(repo_id)
    if cached is not None:
        return str(cached)
    reachable, reason = hub_reachable(repo_id)
    if not reachable:
        raise ModelUnavailableError(
            f"{repo_id!r} is not in the local Hugging Face cache and the hub cannot be reached ({reason}). "
            f"On a machine with internet run `huggingface-cli download {repo_id}`, or load an embedded model "
            "(see workbench.models())."
        )
    fetch_config(repo_id)  # the config first, under a deadline: what reads it next finds it cached
    return repo_id
