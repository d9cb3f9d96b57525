"""``X-Request-Id`` (the caller's when it is sane, else a new ``req_…``) and one log line
per request."""

from __future__ import annotations

import logging
import re
import time

from flask import Flask, Response, g, request

from entrypoints.http.metrics import observe_request

log = logging.getLogger("auditrail.http")
_SANE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def install_request_ids(app: Flask, new_id) -> None:  # type: ignore[no-untyped-def]
    @app.before_request
    def _assign() -> None:
        g.started = time.perf_counter()
        offered = request.headers.get("X-Request-Id", "")
        g.request_id = offered if _SANE.match(offered) else new_id("req")

    @app.after_request
    def _echo(response: Response) -> Response:
        if "request_id" not in g:
            g.request_id = new_id("req")
        response.headers["X-Request-Id"] = g.request_id
        duration = time.perf_counter() - g.get("started", time.perf_counter())
        route = request.url_rule.rule if request.url_rule else "unmatched"
        log.info("request", extra={
            "request_id": g.request_id, "workspace_id": g.get("workspace_id"),
            "method": request.method, "route": route, "status": response.status_code,
            "duration_ms": round(duration * 1000, 3)})
        observe_request(request.method, route, response.status_code, duration)
        return response
