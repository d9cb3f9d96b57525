"""Asking the log under watch: rate limits waited out, its errors read as data."""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any

import httpx

from entrypoints.log_monitor.failures import LogUnreachable, MonitorFailed

_RATE_LIMITED_TRIES = 20


def get(client: httpx.Client, path: str, **kwargs: Any) -> httpx.Response:
    """A GET that waits out the workspace's rate limit (``Retry-After``): checking many
    checkpoints seen elsewhere takes a request each, more than a small plan's minute."""
    return ask(client, path, (200,), **kwargs)


def ask(client: httpx.Client, path: str, answers: Collection[int] = (200, 400, 404, 409),
         **kwargs: Any) -> httpx.Response:
    """``get``, taking the ``answers`` given as answers (a proof's 404 or 409 says
    something of the log); any other is ``LogUnreachable``."""
    for _ in range(_RATE_LIMITED_TRIES):
        try:
            response = client.get(path, **kwargs)
        except httpx.HTTPError as exc:
            raise LogUnreachable(f"could not reach the log ({type(exc).__name__})") \
                from None
        if response.status_code != 429:
            break
        time.sleep(_retry_after(response))
    if response.status_code not in answers:
        if _error_field(response, "code") == "log_diverged":
            raise MonitorFailed(f"the log says it no longer holds what it signed (GET {path}"
                                f"{_said(response)})")
        raise LogUnreachable(f"GET {path} answered {response.status_code}{_said(response)}")
    return response


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(max(float(response.headers.get("Retry-After", "1")), 0.1), 60.0)
    except ValueError:
        return 1.0


def _said(response: httpx.Response) -> str:
    """The error's message, in the API's error shape: a revoked key or a deleted
    workspace (401) reads differently from a log that is down (503)."""
    message = _error_field(response, "message")
    if message is None:
        return ""
    # The log is the party under watch: nothing it says reaches the terminal as control
    # characters, nor at any length.
    return ": " + "".join(ch for ch in message if ch.isprintable())[:200]


def _error_field(response: httpx.Response, name: str) -> str | None:
    try:
        value = response.json()["error"][name]
    except (ValueError, KeyError, TypeError):
        return None
    return value if isinstance(value, str) else None
