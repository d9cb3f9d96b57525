"""Every error, from every layer, leaves in the one shape of contract §2."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, jsonify, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from application.errors import (
    AskedTooSoon,
    Busy,
    Conflict,
    InsufficientScope,
    InvalidParameter,
    IpNotAllowed,
    NotCheckpointed,
    NotCosigned,
    NotFound,
    QueryTimedOut,
    RateLimited,
    Unauthenticated,
    WritesRefused,
)
from application.tree import TreeDiverged
from domain.cursor import InvalidCursor
from domain.errors import FieldError, ValidationFailed
from domain.exports import ExportExpired, ExportFailed, ExportNotReady
from domain.signed_links import InvalidSignature, LinkExpired
from domain.tile_paths import NoSuchTile
from entrypoints.http.auth import rate_limit_headers
from entrypoints.http.metrics import QUERIES_TIMED_OUT

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "invalid_parameter", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 410: "gone", 413: "payload_too_large",
    415: "invalid_content_type", 422: "validation_failed", 429: "rate_limited",
    503: "unavailable",
}
INTERNAL_MESSAGE = "Something went wrong on our side; quote the request id."
_HTTP_MESSAGES = {
    404: "No such resource.",
    405: "Method not allowed on this resource.",
    413: "The request body is larger than this endpoint accepts (1 MiB; 5 MiB for "
         "POST /api/v1/events/batch).",
}


def code_for_status(status: int) -> str:
    """The contract's code for an HTTP status raised by a library rather than by us."""
    if status in _HTTP_CODES:
        return _HTTP_CODES[status]
    return "internal_error" if status >= 500 else "invalid_parameter"


class ApiError(Exception):
    """An error the HTTP layer raises itself (bad headers, bad query, bad JSON…)."""

    def __init__(self, status: int, code: str, message: str,
                 details: list[FieldError] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}


def error_response(status: int, code: str, message: str,
                   details: list[FieldError] | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = [{"field": d.field, "message": d.message} for d in details]
    body["request_id"] = g.get("request_id")
    response = jsonify({"error": body})
    response.status_code = status
    response.headers.update(headers or {})
    return response


_PLAIN: dict[type[Exception], tuple[int, str]] = {
    InsufficientScope: (403, "insufficient_scope"),
    InvalidSignature: (403, "invalid_signature"),
    NotFound: (404, "not_found"),
    Conflict: (409, "conflict"),
    ExportNotReady: (409, "export_not_ready"),
    ExportFailed: (409, "export_failed"),
    ExportExpired: (410, "export_expired"),
    LinkExpired: (410, "link_expired"),
    InvalidCursor: (400, "invalid_cursor"),
    InvalidParameter: (400, "invalid_parameter"),
}
"""Errors answered with their own message, under a status and a code."""

_RETRY_LATER: dict[type[Exception], tuple[int, str]] = {
    NotCheckpointed: (409, "not_checkpointed"),
    AskedTooSoon: (429, "rate_limited"),
    Busy: (503, "unavailable"),
}
"""The same, with the ``Retry-After`` each error says."""


def register_error_handlers(app: Flask) -> None:
    for kind, (status, code) in _PLAIN.items():
        app.register_error_handler(kind, _plain(status, code))
    for kind, (status, code) in _RETRY_LATER.items():
        app.register_error_handler(kind, _retry_later(status, code))
    for kind, handler in _HANDLERS.items():
        app.register_error_handler(kind, handler)


def _plain(status: int, code: str) -> Callable[[Exception], Response]:
    def handle(error: Exception) -> Response:
        return error_response(status, code, str(error))
    return handle


def _retry_later(status: int, code: str) -> Callable[[Any], Response]:
    def handle(error: Any) -> Response:
        return error_response(status, code, str(error),
                              headers={"Retry-After": str(error.retry_after)})
    return handle


def _api_error(error: ApiError) -> Response:
    return error_response(error.status, error.code, error.message, error.details,
                          error.headers)


def _validation(error: ValidationFailed) -> Response:
    return error_response(422, "validation_failed", str(error), error.errors)


def _unauthenticated(_: Unauthenticated) -> Response:
    return error_response(401, "unauthenticated",
                          "A valid API key is required: 'Authorization: Bearer <key>'.",
                          headers={"WWW-Authenticate": 'Bearer realm="auditrail"'})


def _ip(_: IpNotAllowed) -> Response:
    return error_response(403, "ip_not_allowed",
                          "Requests from this address are not in the workspace's "
                          "IP allowlist.")


def _no_tile(error: NoSuchTile) -> Response:
    return error_response(404, "not_found", f"No such tile: {error}.")


def _rate_limited(error: RateLimited) -> Response:
    decision = error.decision
    return error_response(429, "rate_limited", str(error), headers={
        "Retry-After": str(decision.retry_after_header), **rate_limit_headers(decision)})


def _not_cosigned(error: NotCosigned) -> Response:
    wait = {} if error.retry_after is None else {"Retry-After": str(error.retry_after)}
    return error_response(409, "not_cosigned", str(error), headers=wait)


def _timed_out(error: QueryTimedOut) -> Response:
    """No Retry-After: the same question would take as long again."""
    route = request.url_rule.rule if request.url_rule else "unmatched"
    QUERIES_TIMED_OUT.inc()
    log.warning("query stopped at its time limit (%g s) on request %s: %s %s",
                error.limit_seconds, g.get("request_id"), request.method, route)
    return error_response(503, "query_timeout", str(error))


def _diverged(error: TreeDiverged) -> Response:
    """Not a stack trace: what the log found, for the operator to act on, under a code of
    its own - to a monitor it is the log admitting it lost or changed what it signed, an
    alarm rather than a fault to retry."""
    log.error("the log cannot answer request %s: %s", g.get("request_id"), error)
    return error_response(500, "log_diverged", f"{error} Nothing more is signed for "
                                               f"this workspace; quote the request id.")


def _http(error: HTTPException) -> Response:
    status = error.code or 500
    message = _HTTP_MESSAGES.get(status) or error.description or "Request failed."
    headers = {}
    if status == 405 and error.valid_methods:  # type: ignore[attr-defined]
        headers["Allow"] = ", ".join(sorted(error.valid_methods))  # type: ignore[attr-defined]
    return error_response(status, code_for_status(status), message, headers=headers)


def _writes_refused(_: WritesRefused) -> Response:
    return _database_unavailable("takes no writes: a standby?")


def _database_unavailable(why: str) -> Response:
    log.warning("database unavailable (%s) on request %s", why, g.get("request_id"))
    return error_response(503, "unavailable", "The database is unavailable; retry shortly.",
                          headers={"Retry-After": "5"})


def _internal(error: Exception) -> Response:
    if isinstance(error, OperationalError):
        return _database_unavailable(type(error.orig).__name__)
    # The traceback only at DEBUG: production logs carry no stack traces.
    log.error("unhandled %s on request %s", type(error).__name__, g.get("request_id"),
              exc_info=log.isEnabledFor(logging.DEBUG))
    return error_response(500, "internal_error", INTERNAL_MESSAGE)


_HANDLERS: dict[type[Exception], Callable[[Any], Response]] = {
    ApiError: _api_error, ValidationFailed: _validation, Unauthenticated: _unauthenticated,
    IpNotAllowed: _ip, NoSuchTile: _no_tile, RateLimited: _rate_limited,
    NotCosigned: _not_cosigned, QueryTimedOut: _timed_out, TreeDiverged: _diverged,
    WritesRefused: _writes_refused,
    HTTPException: _http, Exception: _internal,
}
"""Errors whose answer says more than their message."""
