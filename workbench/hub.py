"""Reaching the Hugging Face hub without ever hanging on it.

A hub id loads from the local cache when it is there. Otherwise the hub is tried only when it
answers a plain TCP connection within a few seconds and HF_HUB_OFFLINE is not set; if it does not,
the caller gets a `ModelUnavailableError` that says what is missing and how to get it, at once.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path
from urllib.parse import urlparse

from workbench.errors import ModelUnavailableError

CONNECT_TIMEOUT_S = 3.0


def cached_snapshot(repo_id: str) -> Path | None:
    """Local folder of a cached hub model with its config, or None."""
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:  # any failure here just means "not usable from the cache"
        return None
    return folder if (folder / "config.json").exists() else None


def hub_reachable() -> tuple[bool, str]:
    """(reachable, reason). Honours HF_HUB_OFFLINE; never waits longer than CONNECT_TIMEOUT_S."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return False, "HF_HUB_OFFLINE is set"
    from huggingface_hub import constants

    endpoint = urlparse(constants.ENDPOINT)
    host, port = endpoint.hostname or "", endpoint.port or (443 if endpoint.scheme == "https" else 80)
    outcome: list[tuple[bool, str]] = []

    def attempt() -> None:
        try:
            with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
                outcome.append((True, ""))
        except OSError as error:
            outcome.append((False, f"{host}:{port} did not answer ({error.__class__.__name__}: {error})"))

    # The name lookup inside create_connection ignores its timeout; a daemon thread bounds the whole try.
    thread = threading.Thread(target=attempt, name="workbench-hub-probe", daemon=True)
    thread.start()
    thread.join(CONNECT_TIMEOUT_S + 0.5)
    return outcome[0] if outcome else (False, f"{host}:{port} did not answer within {CONNECT_TIMEOUT_S:.0f} s")


def resolve_hub_model(repo_id: str) -> str:
    """A cached folder for `repo_id`, or the id itself when the hub can be reached."""
    cached = cached_snapshot(repo_id)
    if cached is not None:
        return str(cached)
    reachable, reason = hub_reachable()
    if not reachable:
        raise ModelUnavailableError(
            f"{repo_id!r} is not in the local Hugging Face cache and the hub cannot be reached ({reason}). "
            f"On a machine with internet run `huggingface-cli download {repo_id}`, or load an embedded model "
            "(see workbench.models())."
        )
    return repo_id
