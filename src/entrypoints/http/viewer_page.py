"""``/viewer/``: the embeddable audit-log viewer (contract §11), a static page that reads
the API with a viewer link's token.

No build step and no third party: the page, its script modules and its style are files
beside this module. Their URL carries a digest of their contents, so browsers keep them
for a year and a new release is fetched at once; the page itself is never cached. A strict
Content-Security-Policy admits only these files (no inline script, no other origin), and
``frame-ancestors`` lets only the origins the operator lists embed it.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from flask import Blueprint, Response, abort, current_app

FILES = Path(__file__).parent / "viewer"
ASSETS = {"viewer.js": "text/javascript", "proofs.js": "text/javascript",
          "query.js": "text/javascript", "messages.js": "text/javascript",
          "before-paint.js": "text/javascript", "viewer.css": "text/css",
          "icon.svg": "image/svg+xml"}

viewer = Blueprint("viewer", __name__)


@cache
def version() -> str:
    digest = hashlib.sha256()
    for name in sorted(ASSETS):
        digest.update((FILES / name).read_bytes())
    return digest.hexdigest()[:16]


@cache
def _page() -> bytes:
    return (FILES / "index.html").read_text().replace("{{version}}", version()).encode()


def _headers(response: Response) -> Response:
    ancestors = " ".join(current_app.extensions["container"].settings()
                         .viewer_frame_ancestors) or "'none'"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        f"img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors {ancestors}")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@viewer.get("/viewer/")
def page() -> Response:
    response = Response(_page(), content_type="text/html; charset=utf-8")
    response.headers["Cache-Control"] = "no-cache"
    return _headers(response)


@viewer.get("/viewer/assets/<asset_version>/<name>")
def asset(asset_version: str, name: str) -> Response:
    if name not in ASSETS or asset_version != version():
        abort(404)  # an old page's asset: it reloads the page, which names the new one
    response = Response((FILES / name).read_bytes(),
                        content_type=f"{ASSETS[name]}; charset=utf-8")
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return _headers(response)
