"""The log as ``auditrail log monitor`` reaches it in tests: the app through httpx's WSGI
transport, and what the log's operator (or its upkeep) does while a run reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from entrypoints import log_monitor

_CLIENT = httpx.Client  # as imported, before any test patches it


class Meanwhile(httpx.BaseTransport):
    """Serves ``app``; once it has answered the first GET of ``path``, calls ``then``: the
    run holds that answer and goes on reading a log that has moved."""

    def __init__(self, app: Any, path: str, then: Callable[[], None]) -> None:
        self._app = httpx.WSGITransport(app=app)
        self._path, self._then = path, then
        self.happened = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._app.handle_request(request)
        if request.url.path == self._path and not self.happened:
            response.read()
            self.happened = True
            self._then()
        return response


class Interrupted(httpx.BaseTransport):
    """Serves ``app``, but meets its first requests with ``failures`` in turn: an answer
    given instead of the app's, or an exception raised (a connection cut)."""

    def __init__(self, app: Any, failures: list[httpx.Response | Exception]) -> None:
        self._app = httpx.WSGITransport(app=app)
        self._failures = list(failures)
        self.requests = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if not self._failures:
            return self._app.handle_request(request)
        failure = self._failures.pop(0)
        if isinstance(failure, Exception):
            raise failure
        return failure


def monitor_through(monkeypatch: pytest.MonkeyPatch, transport: httpx.BaseTransport) -> None:
    """The monitor's requests to ``http://log`` go to ``transport``; others (witnesses)
    over the network as usual."""
    def client(**kwargs: Any) -> httpx.Client:
        if str(kwargs.get("base_url", "")).startswith("http://log"):
            return _CLIENT(transport=transport, **kwargs)
        return _CLIENT(**kwargs)

    monkeypatch.setattr(log_monitor.httpx, "Client", client)
