"""The ``/api/v1`` blueprint: every request is authenticated before its view runs."""

from __future__ import annotations

from dependency_injector.wiring import Provide, inject
from flask import Blueprint, request

from application.use_cases.authenticate import Authenticate
from entrypoints.container import Container
from entrypoints.http.auth import authenticate_request

api = Blueprint("api", __name__, url_prefix="/api/v1")

PUBLIC_ENDPOINTS: set[str] = set()
"""Endpoints reachable without an API key (the OpenAPI document, signed export links)."""


@api.before_request
@inject
def _authenticate(authenticate: Authenticate = Provide[Container.authenticate]) -> None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    authenticate_request(authenticate)
