"""The Flask application factory."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from entrypoints.container.installation import Container
from entrypoints.http import views
from entrypoints.http.api_headers import install_api_headers
from entrypoints.http.at_once import AtOnce
from entrypoints.http.body import ONE_MIB
from entrypoints.http.errors import register_error_handlers
from entrypoints.http.request_ids import install_request_ids
from entrypoints.http.routes import ResourceId
from entrypoints.http.viewer_page import viewer
from entrypoints.http.views import (
    alerts,
    events,
    exports,
    log,
    log_witnesses,
    ops,
    streams,
    viewer_links,
    workspace,
)
from entrypoints.http.views.api import api

WIRED_MODULES = [views.api, alerts, events, exports, log, log_witnesses, ops, streams,
                 viewer_links, workspace]


def create_app(container: Container) -> Flask:
    """Build the app around a container; the container is the only source of dependencies."""
    app = Flask("auditrail")
    app.config["MAX_CONTENT_LENGTH"] = ONE_MIB
    # No implicit OPTIONS answers (an empty 200 text/html): the API is same-origin, with no
    # CORS to negotiate, so OPTIONS is a 405 naming the methods in Allow, like any other.
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = False
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["container"] = container
    app.extensions["verifications"] = AtOnce(
        container.settings().verifications_at_once, "chain verifications",
        "A large chain can be verified in slices (from_sequence, to_sequence); the "
        "workers also verify every chain daily.")
    app.url_map.converters["id"] = ResourceId  # before the routes that use it
    # One URL per resource: "/api/v1//events" is a 404 in the error shape, not Werkzeug's
    # 308 redirect with an HTML page (set before the routes, which take it when bound).
    app.url_map.merge_slashes = False
    container.wire(modules=WIRED_MODULES)

    install_request_ids(app, container.ids().new)
    install_api_headers(app)
    register_error_handlers(app)
    app.register_blueprint(api)
    app.register_blueprint(ops.ops)
    app.register_blueprint(viewer)

    proxies = container.settings().trusted_proxies
    if proxies:
        # X-Forwarded-For is honoured only for the number of hops the operator trusts.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies)  # type: ignore[method-assign]
    return app
