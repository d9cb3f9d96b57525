"""Headers on every answer under ``/api/``: what they carry is not for caches.

Audit events, exports, plaintext API keys (once, when made), stream and rule secrets,
viewer-link tokens: a proxy, a CDN or a browser that kept any of them would hand it to
whoever asked next, or leave it on disk. ``no-store`` forbids every cache to keep the
answer (OWASP's REST guidance), and ``nosniff`` keeps a browser from reading JSON or an
export file as anything else.
"""

from __future__ import annotations

from flask import Flask, Response, request

API_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def install_api_headers(app: Flask) -> None:
    @app.after_request
    def _no_store(response: Response) -> Response:
        if request.environ.get("PATH_INFO", "").startswith("/api/"):
            response.headers.update(API_HEADERS)  # over send_file's revalidating no-cache
        return response
