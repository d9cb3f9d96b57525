"""The ``Deliverer`` port on httpx: one client per process, keep-alive per destination,
redirects never followed, a deadline per attempt and a cap on what is read back."""

from __future__ import annotations

import re
import time

import httpcore
import httpx

from adapters.webhooks.formats import request_for
from adapters.webhooks.guard import DestinationRefused, GuardedBackend, Resolver, deadline
from application.ports.delivery import (
    CONNECTION_ERROR,
    DELIVERED,
    HTTP_ERROR,
    REFUSED,
    TIMEOUT,
    Destination,
    Payload,
    SendResult,
)
from domain.deliveries import Attempt
from domain.json_rules import CONTROL_CHARACTERS

RESPONSE_EXCERPT_BYTES = 1024
"""What is read of an answer at most: enough to say why it failed, and no more, whatever
the receiver sends back."""
EXCERPT_CHARACTERS = 200


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's transport with its connection pool on the guarded network backend."""

    def __init__(self, backend: GuardedBackend, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry, network_backend=backend)


def guarded_client(backend: GuardedBackend, timeout_seconds: float, user_agent: str,
                   limits: httpx.Limits) -> httpx.Client:
    """A client whose every connection goes through the guard, that follows no redirect."""
    # trust_env=False: a proxy from the environment would be connected to instead of the
    # destination, and the guard would judge the proxy's address.
    return httpx.Client(
        transport=_GuardedTransport(backend, limits), follow_redirects=False,
        trust_env=False, headers={"User-Agent": user_agent, "Accept-Encoding": "identity"},
        timeout=httpx.Timeout(timeout_seconds, connect=min(5.0, timeout_seconds)))


class HttpDeliverer:
    def __init__(self, allow_private: bool, timeout_seconds: float, user_agent: str,
                 resolve: Resolver | None = None) -> None:
        self._backend = (GuardedBackend(allow_private, resolve) if resolve is not None
                         else GuardedBackend(allow_private))
        self._timeout = timeout_seconds
        self._client = guarded_client(self._backend, timeout_seconds, user_agent,
                                      httpx.Limits(max_connections=200,
                                                   max_keepalive_connections=100,
                                                   keepalive_expiry=30))

    def send(self, destination: Destination, payload: Payload) -> SendResult:
        request = request_for(destination, payload, int(time.time()))
        try:
            with deadline(self._timeout), self._client.stream(
                    request.method, request.url, content=request.body,
                    headers=request.headers) as response:
                excerpt = _excerpt(response)
        except UNANSWERED as exc:
            return _failed(*unanswered(exc, self._timeout))
        status = response.status_code
        if 200 <= status < 300:
            return SendResult(Attempt(True, status), DELIVERED)
        if 300 <= status < 400:
            message = f"HTTP {status}: redirects are not followed; use the final URL."
        else:
            message = f"HTTP {status}" + (f": {excerpt}" if excerpt else ".")
        return SendResult(Attempt(False, status, message), HTTP_ERROR)

    def refusal(self, url: str) -> str | None:
        return self._backend.refusal(url)

    def close(self) -> None:
        self._client.close()


UNANSWERED = (DestinationRefused, httpx.TimeoutException, httpx.TransportError,
              httpx.InvalidURL)
"""What ends an attempt without an answer: ``unanswered`` says which, and how."""


def unanswered(exc: Exception, timeout: float) -> tuple[str, str]:
    """The outcome and message of an attempt that ``exc`` (one of ``UNANSWERED``) ended."""
    if isinstance(exc, DestinationRefused):
        return REFUSED, f"Refused: {exc}; only public destinations are allowed."
    if isinstance(exc, httpx.TimeoutException):
        return TIMEOUT, f"No answer within {timeout:g} s."
    return CONNECTION_ERROR, f"Connection failed ({_reason(exc)})."


def read_at_most(response: httpx.Response, limit: int) -> bytes:
    """The answer's first ``limit`` bytes, whatever the other side sends."""
    read = b""
    for chunk in response.iter_raw(limit):
        read += chunk
        if len(read) >= limit:
            break
    return read[:limit]


_STORAGE_ERROR = re.compile(r"<Code>([^<]{1,100})</Code>.*?<Message>([^<]{0,300})</Message>",
                            re.DOTALL)
"""S3's answer to a refused request: an XML document whose code and message say why."""


def _excerpt(response: httpx.Response) -> str:
    text = read_at_most(response, RESPONSE_EXCERPT_BYTES).decode("utf-8", "replace")
    refused = _STORAGE_ERROR.search(text)
    if refused is not None:
        text = f"{refused[1]}: {refused[2]}"
    return " ".join(CONTROL_CHARACTERS.sub(" ", text).split())[:EXCERPT_CHARACTERS]


def _reason(exc: Exception) -> str:
    """The exception's kind and its first line, without control characters."""
    detail = " ".join(CONTROL_CHARACTERS.sub(" ", str(exc)).split())[:EXCERPT_CHARACTERS]
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


def _failed(outcome: str, message: str) -> SendResult:
    return SendResult(Attempt(False, None, message), outcome)
