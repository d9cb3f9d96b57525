"""The ``/api/v1`` blueprint: every request is authenticated before its view runs."""

from __future__ import annotations

from importlib.metadata import version

from dependency_injector.wiring import Provide, inject
from flask import Blueprint, Response, current_app, g, jsonify, request

from application.use_cases.admit_request import AdmitRequest
from entrypoints.container.installation import Container
from entrypoints.http.auth import admit_request, rate_limit_headers
from entrypoints.http.openapi import OPERATIONS, build_document
from entrypoints.http.query import refuse_query

api = Blueprint("api", __name__, url_prefix="/api/v1")

PUBLIC_ENDPOINTS: set[str] = {"api.openapi_document"}
"""Endpoints reachable without an API key (the OpenAPI document, signed export links)."""


@api.get("/openapi.json")
def openapi_document() -> Response:
    """Built once per app, from the routes and the marshmallow schemas."""
    document = current_app.extensions.get("openapi")
    if document is None:
        document = build_document(current_app, version("auditrail"))
        current_app.extensions["openapi"] = document
    return jsonify(document)


def no_content() -> Response:
    """204: no body, so no content type either (Flask would say text/html)."""
    response = Response(status=204)
    del response.headers["Content-Type"]
    return response


@api.before_request
@inject
def _admit(admit: AdmitRequest = Provide[Container.admit_request]) -> None:
    """Authenticate, then refuse query parameters the endpoint does not take: the API
    document says which take any (``Operation.query``), so what is documented is what is
    accepted."""
    current = request._get_current_object()  # type: ignore[attr-defined]  # one lookup
    if current.endpoint not in PUBLIC_ENDPOINTS:
        admit_request(admit)
    if current.environ.get("QUERY_STRING"):  # nearly always empty: nothing more to look up
        operation = OPERATIONS.get(current.endpoint or "")
        if operation is None or operation.query is None:
            refuse_query()


@api.after_request
def _rate_limit_headers(response: Response) -> Response:
    """Every authenticated response says where the workspace's budget stands."""
    decision = g.get("rate_limit")
    if decision is not None:  # added, not set: no view sets them, so nothing to replace
        response.headers.extend(rate_limit_headers(decision))
    return response
