"""One place that speaks HTTP: authentication, timeouts, the User-Agent, error bodies
turned into exceptions, and retries where a retry cannot store anything twice."""

from __future__ import annotations

import gzip
import os
import random
import threading
import time
from collections.abc import Mapping
from typing import Any

import httpx

from auditrail_client import __version__
from auditrail_client.errors import (
    ApiError,
    QueryTimeout,
    RateLimited,
    ServerError,
    TransportError,
    error_from,
)

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
RETRY_STATUSES = (429, 502, 503, 504)
MAX_WAIT = 30.0

_MAKING_CLIENT = threading.Lock()
"""Held while a client is made, and taken by ``os.fork``: making one loads TLS
certificates into OpenSSL, and a fork while another thread (an emitter's sender, just
started) is inside that could leave OpenSSL's locks held in the child, whose first
client then waits forever (1 child in 100 in a test of 200 forks)."""

if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_MAKING_CLIENT.acquire,
                        after_in_parent=_MAKING_CLIENT.release,
                        after_in_child=_MAKING_CLIENT.release)


class Transport:
    def __init__(self, url: str, api_key: str, *, timeout: float | httpx.Timeout | None = None,
                 max_retries: int = 2, user_agent: str | None = None,
                 http_transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = url.rstrip("/")
        self._api_key = api_key
        self._timeout = DEFAULT_TIMEOUT if timeout is None else timeout
        self.max_retries = max_retries
        agent = f"auditrail-client-python/{__version__} httpx/{httpx.__version__}"
        self.user_agent = f"{user_agent} {agent}" if user_agent else agent
        self._http_transport = http_transport
        self._client = self.new_http_client()

    def new_http_client(self, timeout: float | httpx.Timeout | None = None) -> httpx.Client:
        """A client of its own, e.g. for a background thread or a forked child."""
        with _MAKING_CLIENT:
            return httpx.Client(base_url=self.base_url, transport=self._http_transport,
                                timeout=self._timeout if timeout is None else timeout,
                                headers={"Authorization": f"Bearer {self._api_key}",
                                         "User-Agent": self.user_agent},
                                follow_redirects=False)

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                json: Any = None, content: bytes | None = None,
                headers: Mapping[str, str] | None = None, retry: bool | None = None,
                read_timeout: float | None = None) -> httpx.Response:
        """The answer, or the API error it carries. ``retry`` (default: GET, and requests
        with an Idempotency-Key) retries connection failures, 429 and 502-504, but not a
        query the server stopped at its time limit. ``read_timeout``: seconds to wait for
        the answer of a request the server takes long to compute, instead of the client's
        timeout; one that times out is not sent again, as the server may still be at it."""
        retry = method == "GET" or "Idempotency-Key" in (headers or {}) \
            if retry is None else retry
        timeout = {} if read_timeout is None else {
            "timeout": httpx.Timeout(read_timeout, connect=self._client.timeout.connect)}
        attempt = 0
        while True:
            try:
                return send(self._client, method, path, params=params, json=json,
                            content=content, headers=headers, **timeout)
            except (TransportError, RateLimited, ServerError) as exc:
                status = getattr(exc, "status", None)
                if not retry or attempt >= self.max_retries or isinstance(exc, QueryTimeout) \
                        or (read_timeout is not None and getattr(exc, "read_timed_out", False)) \
                        or (status is not None and status not in RETRY_STATUSES):
                    raise
                time.sleep(backoff(attempt, getattr(exc, "retry_after", None)))
                attempt += 1

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.request(method, path, **kwargs).json()

    def close(self) -> None:
        self._client.close()


def gzipped(body: bytes) -> tuple[bytes, dict[str, str]]:
    """A JSON body gzip-compressed, and the headers that say so: a tenth of a batch's
    bytes or less (servers before the release that reads gzip bodies refuse them)."""
    return gzip.compress(body, compresslevel=6, mtime=0), {
        "Content-Type": "application/json", "Content-Encoding": "gzip"}


def send(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One attempt: a 2xx/3xx answer, or the exception for what went wrong."""
    params = kwargs.get("params")
    if params:
        kwargs["params"] = {k: _query_value(v) for k, v in params.items() if v is not None}
    try:
        response = client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise TransportError(f"{method} {path}: {type(exc).__name__}: {exc}",
                             read_timed_out=isinstance(exc, httpx.ReadTimeout)) from exc
    if response.status_code < 400:
        return response
    try:
        body = response.json()
    except ValueError:
        body = None
    raise error_from(response.status_code, body, response.headers)


def backoff(attempt: int, retry_after: float | None = None, base: float = 0.5,
            cap: float = MAX_WAIT) -> float:
    """How long to wait before retry ``attempt`` (0-based): what the server asked, else
    exponential with equal jitter, so clients that failed together do not retry together."""
    if retry_after is not None:
        return min(retry_after, cap)
    ceiling = min(cap, base * 2 ** attempt)
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def _query_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


__all__ = ["ApiError", "Transport", "backoff", "gzipped", "send"]
