"""``X-Request-Id`` (the caller's when it is sane, else a new ``req_…``) and one log line
per request."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

from flask import Flask, Response, g, request

from entrypoints.http.metrics import observe_request
from entrypoints.http.query import header
from entrypoints.http.routes import route_template

log = logging.getLogger("auditrail.http")
_SANE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def install_request_ids(app: Flask, new_id: Callable[[str], str]) -> None:
    @app.before_request
    def _assign() -> None:
        state = g._get_current_object()
        state.started = time.perf_counter()
        offered = header("X-Request-Id") or ""
        state.request_id = offered if _SANE.fullmatch(offered) else new_id("req")

    @app.after_request
    def _echo(response: Response) -> Response:
        # One lookup of each context-local: every attribute read through the proxies
        # would look them up again, a dozen times a request.
        state = g._get_current_object()
        current = request._get_current_object()  # type: ignore[attr-defined]
        request_id = state.get("request_id") or new_id("req")
        state.request_id = request_id
        response.headers["X-Request-Id"] = request_id
        duration = time.perf_counter() - state.get("started", time.perf_counter())
        route = route_template(current.url_rule.rule) if current.url_rule else "unmatched"
        method, status = current.method, response.status_code
        if log.isEnabledFor(logging.INFO):
            log.info("request", extra={
                "request_id": request_id, "workspace_id": state.get("workspace_id"),
                "method": method, "route": route, "status": status,
                "duration_ms": round(duration * 1000, 3)})
        observe_request(method, route, status, duration)
        return response
