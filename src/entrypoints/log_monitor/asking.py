"""Asking the log under watch: rate limits waited out, its errors read as data."""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any

import httpx

from entrypoints.log_monitor.failures import LogUnreachable, MonitorFailed

_RATE_LIMITED_TRIES = 20
_PASSING_WAITS = (0.5, 1.0, 2.0)
"""Waits before asking again after a failure that passes (a connection cut, 502-504): a
server process restarting, or the database failing over, would otherwise fail a run that
reads thousands of tiles. The server's ``Retry-After`` overrides each, up to 10 s."""
_PASSING = (502, 503, 504)


def get(client: httpx.Client, path: str, **kwargs: Any) -> httpx.Response:
    """A GET that waits out the workspace's rate limit (``Retry-After``): checking many
    checkpoints seen elsewhere takes a request each, more than a small plan's minute."""
    return ask(client, path, (200,), **kwargs)


def ask(client: httpx.Client, path: str, answers: Collection[int] = (200, 400, 404, 409),
         **kwargs: Any) -> httpx.Response:
    """``get``, taking the ``answers`` given as answers (a proof's 404 or 409 says
    something of the log); any other is ``LogUnreachable``, once the rate limit was
    waited out and a failure that passes was asked again a few times."""
    rate_limited, waits = 0, iter(_PASSING_WAITS)
    while True:
        try:
            response = client.get(path, **kwargs)
        except httpx.HTTPError as exc:
            if (wait := next(waits, None)) is None:
                raise LogUnreachable(f"could not reach the log ({type(exc).__name__})") \
                    from None
            time.sleep(wait)
            continue
        if response.status_code == 429 and rate_limited < _RATE_LIMITED_TRIES:
            rate_limited += 1
            time.sleep(_retry_after(response, 1.0, 60.0))
        elif response.status_code in _PASSING and _error_field(response, "code") != \
                "query_timeout" and (wait := next(waits, None)) is not None:
            time.sleep(_retry_after(response, wait, 10.0))
        else:
            break
    if response.status_code not in answers:
        if _error_field(response, "code") == "log_diverged":
            raise MonitorFailed(f"the log says it no longer holds what it signed (GET {path}"
                                f"{_said(response)})")
        raise LogUnreachable(f"GET {path} answered {response.status_code}{_said(response)}")
    return response


def _retry_after(response: httpx.Response, otherwise: float, cap: float) -> float:
    """The server's ``Retry-After`` in seconds, within 0.1 and ``cap``; ``otherwise``
    without one (or an HTTP date, which no Auditrail sends)."""
    try:
        return min(max(float(response.headers["Retry-After"]), 0.1), cap)
    except (KeyError, ValueError):
        return otherwise


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
