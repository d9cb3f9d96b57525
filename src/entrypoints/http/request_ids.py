"""``X-Request-Id``: the caller's when it is sane, else a new ``req_…``."""

from __future__ import annotations

import re

from flask import Flask, Response, g, request

_SANE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def install_request_ids(app: Flask, new_id) -> None:  # type: ignore[no-untyped-def]
    @app.before_request
    def _assign() -> None:
        offered = request.headers.get("X-Request-Id", "")
        g.request_id = offered if _SANE.match(offered) else new_id("req")

    @app.after_request
    def _echo(response: Response) -> Response:
        if "request_id" not in g:
            g.request_id = new_id("req")
        response.headers["X-Request-Id"] = g.request_id
        return response
