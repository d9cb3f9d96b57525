"""Every error the API answers (its §2 shape) as an exception, one class per kind of
answer a caller handles differently."""

from __future__ import annotations

from typing import Any


class AuditrailError(Exception):
    """Base of every error raised by this package."""


class MonitorAlarm(AuditrailError):
    """The log is inconsistent with what was kept: rewritten, forked, shrunk, or signed
    by another key. Do not trust it until someone finds out why; keep the state file."""


class TransportError(AuditrailError):
    """No answer: the connection failed or timed out. A request sent with an
    ``Idempotency-Key`` may be retried with the same key; it is stored at most once.
    ``read_timed_out``: the request was sent and the answer did not come in time (the
    server may still be working on it)."""

    def __init__(self, message: str, *, read_timed_out: bool = False) -> None:
        super().__init__(message)
        self.read_timed_out = read_timed_out


class ApiError(AuditrailError):
    """The server answered with an error: ``code``, ``message``, ``details`` and
    ``request_id`` are the body's (quote the ``request_id`` to the operator)."""

    def __init__(self, status: int, code: str, message: str,
                 details: list[dict[str, Any]] | None = None,
                 request_id: str | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.request_id = request_id


class BadRequest(ApiError):
    """400: a malformed parameter, cursor or body."""


class Unauthenticated(ApiError):
    """401: the API key is missing, unknown, revoked or expired."""


class PermissionDenied(ApiError):
    """403: the key lacks a scope, or the address is not on the allowlist."""


class NotFound(ApiError):
    """404: no such resource in this workspace."""


class Conflict(ApiError):
    """409: the resource is not in a state for this (an export not ready, an
    Idempotency-Key reused with another body, an event not yet checkpointed)."""

    def __init__(self, *args: Any, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after = retry_after


class Gone(ApiError):
    """410: an export or a download link expired."""


class PayloadTooLarge(ApiError):
    """413: the body is over the server's limit."""


class ValidationFailed(ApiError):
    """422: ``details`` names each invalid field (``events[3].actor.id`` in a batch)."""


class RateLimited(ApiError):
    """429: the workspace's rate limit; nothing was stored. Retry after ``retry_after``
    seconds."""

    def __init__(self, *args: Any, retry_after: float = 1.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after = retry_after


class ServerError(ApiError):
    """5xx: the server failed or a backing store is down (``retry_after`` when it said)."""

    def __init__(self, *args: Any, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after = retry_after


class QueryTimeout(ServerError):
    """503 ``query_timeout``: a search or its stats ran longer than the server allows. Not
    retried (the same question would take as long again): narrow it with ``since`` and
    ``until`` or more filters, or export the events, which has no time limit."""


class LogDiverged(ServerError):
    """500 ``log_diverged``: the server's stored tree or events no longer give what its
    log signed (rows deleted or changed in its database, or restored from an old backup).
    Not retried: the log's operator must find out why; a ``Monitor`` raises
    ``MonitorAlarm``."""


_BY_CODE: dict[str, type[ApiError]] = {"query_timeout": QueryTimeout,
                                       "log_diverged": LogDiverged}
_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest, 401: Unauthenticated, 403: PermissionDenied, 404: NotFound,
    409: Conflict, 410: Gone, 413: PayloadTooLarge, 422: ValidationFailed, 429: RateLimited,
}


def error_from(status: int, body: Any, headers: Any) -> ApiError:
    """The exception for an error answer, from its §2 body (or what a proxy sent)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        error = {"code": "http_error", "message": f"HTTP {status} without an Auditrail body"}
    code = str(error.get("code", "http_error"))
    kind = _BY_CODE.get(code) or _BY_STATUS.get(status,
                                               ServerError if status >= 500 else ApiError)
    arguments = (status, code, str(error.get("message", "")))
    details = error.get("details") if isinstance(error.get("details"), list) else None
    extra: dict[str, Any] = {}
    if issubclass(kind, (RateLimited, Conflict, ServerError)):
        retry_after = _seconds(headers.get("Retry-After"))
        if retry_after is not None or kind is not RateLimited:
            extra["retry_after"] = retry_after
    return kind(*arguments, details=details, request_id=error.get("request_id"), **extra)


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
