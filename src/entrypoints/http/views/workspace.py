"""``/workspace``, ``/api-keys`` and ``/usage`` (contract §3), scope ``admin``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import g, jsonify, request

from application.use_cases.api_keys import GetApiKey, ListApiKeys, RevokeApiKey, RollApiKey
from application.use_cases.create_api_key import CreateApiKey
from application.use_cases.usage import GetUsage
from application.use_cases.workspace_settings import GetWorkspace, UpdateWorkspace
from domain.errors import FieldError, ValidationFailed
from domain.scopes import ADMIN
from domain.timestamps import InvalidTimestamp, parse_timestamp
from entrypoints.container.installation import Container
from entrypoints.http.auth import actor, principal, requires
from entrypoints.http.body import json_object
from entrypoints.http.documents import api_key_document, usage_document, workspace_document
from entrypoints.http.pagination import page_body
from entrypoints.http.query import query_args
from entrypoints.http.schemas.workspace import (
    ApiKeyCreateSchema,
    ApiKeyRollSchema,
    PageQuerySchema,
    WorkspacePatchSchema,
)
from entrypoints.http.validation import load
from entrypoints.http.views.api import api


@api.get("/workspace")
@requires(ADMIN)
@inject
def get_workspace(get: GetWorkspace = Provide[Container.get_workspace]) -> Any:
    return jsonify(workspace_document(get.execute(principal().workspace_id)))


@api.patch("/workspace")
@requires(ADMIN)
@inject
def update_workspace(update: UpdateWorkspace = Provide[Container.update_workspace]) -> Any:
    changes = load(WorkspacePatchSchema(), json_object())
    workspace = update.execute(principal(), changes, request.remote_addr or "", actor())
    return jsonify(workspace_document(workspace))


@api.get("/usage")
@requires(ADMIN)
@inject
def get_usage(usage: GetUsage = Provide[Container.get_usage]) -> Any:
    return jsonify(usage_document(usage.execute(principal(), g.get("rate_limit"))))


@api.post("/api-keys")
@requires(ADMIN)
@inject
def create_api_key(create: CreateApiKey = Provide[Container.create_api_key]) -> Any:
    body = load(ApiKeyCreateSchema(), json_object())
    issued = create.execute(principal().workspace_id, body["name"], body["scopes"],
                            _expiry(body), actor())
    return jsonify({**api_key_document(issued.key), "secret": issued.secret}), 201


@api.post("/api-keys/<id:key_id>/roll")
@requires(ADMIN)
@inject
def roll_api_key(key_id: str, roll: RollApiKey = Provide[Container.roll_api_key]) -> Any:
    body = load(ApiKeyRollSchema(), json_object())
    rolled = roll.execute(principal().workspace_id, key_id, body["expires_in_seconds"],
                          _expiry(body), actor())
    return jsonify({**api_key_document(rolled.issued.key), "secret": rolled.issued.secret,
                    "replaces": api_key_document(rolled.replaced)}), 201


def _expiry(body: dict[str, Any]) -> datetime | None:
    """A new key's ``expires_at``, if the body gives one."""
    if body.get("expires_at") is None:
        return None
    try:
        return parse_timestamp(body["expires_at"])
    except InvalidTimestamp as exc:
        raise ValidationFailed([FieldError("expires_at", str(exc))]) from None


@api.get("/api-keys")
@requires(ADMIN)
@inject
def list_api_keys(list_keys: ListApiKeys = Provide[Container.list_api_keys]) -> Any:
    query = query_args(PageQuerySchema())
    page = list_keys.execute(principal().workspace_id, order=query["order"],
                             limit=query["limit"], cursor=query.get("cursor"))
    return jsonify(page_body(page, api_key_document))


@api.get("/api-keys/<id:key_id>")
@requires(ADMIN)
@inject
def get_api_key(key_id: str, get: GetApiKey = Provide[Container.get_api_key]) -> Any:
    return jsonify(api_key_document(get.execute(principal().workspace_id, key_id)))


@api.delete("/api-keys/<id:key_id>")
@requires(ADMIN)
@inject
def revoke_api_key(key_id: str, revoke: RevokeApiKey = Provide[Container.revoke_api_key]) -> Any:
    return jsonify(api_key_document(revoke.execute(principal().workspace_id, key_id, actor())))
