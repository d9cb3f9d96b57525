"""Log stream endpoints (contract §8), scope ``streams``."""

from __future__ import annotations

from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import jsonify

from application.use_cases.stream_deliveries import (
    ListDeliveries,
    ReplayStream,
    SendTestDelivery,
)
from application.use_cases.streams import (
    CreateStream,
    DeleteStream,
    GetStream,
    ListStreams,
    UpdateStream,
)
from domain.scopes import STREAMS
from entrypoints.container.installation import Container
from entrypoints.http.auth import actor, principal, requires
from entrypoints.http.body import json_object
from entrypoints.http.documents import delivery_document, stream_document
from entrypoints.http.pagination import page_body
from entrypoints.http.query import query_args
from entrypoints.http.schemas.streams import ReplaySchema, StreamCreateSchema, StreamPatchSchema
from entrypoints.http.schemas.workspace import PageQuerySchema
from entrypoints.http.validation import load
from entrypoints.http.views.api import api, no_content


@api.post("/streams")
@requires(STREAMS)
@inject
def create_stream(create: CreateStream = Provide[Container.create_stream]) -> Any:
    body = load(StreamCreateSchema(), json_object())
    created = create.execute(principal().workspace_id, body, actor(),
                             rules=principal().workspace)
    return jsonify(stream_document(created.stream, created.credential)), 201


@api.get("/streams")
@requires(STREAMS)
@inject
def list_streams(list_: ListStreams = Provide[Container.list_streams]) -> Any:
    query = query_args(PageQuerySchema())
    page = list_.execute(principal().workspace_id, order=query["order"], limit=query["limit"],
                         cursor=query.get("cursor"))
    return jsonify(page_body(page, stream_document))


@api.get("/streams/<id:stream_id>")
@requires(STREAMS)
@inject
def get_stream(stream_id: str, get: GetStream = Provide[Container.get_stream]) -> Any:
    return jsonify(stream_document(get.execute(principal().workspace_id, stream_id)))


@api.patch("/streams/<id:stream_id>")
@requires(STREAMS)
@inject
def update_stream(stream_id: str, update: UpdateStream = Provide[Container.update_stream]) -> Any:
    body = load(StreamPatchSchema(), json_object())
    return jsonify(stream_document(update.execute(principal().workspace_id, stream_id, body,
                                                       actor(), rules=principal().workspace)))


@api.delete("/streams/<id:stream_id>")
@requires(STREAMS)
@inject
def delete_stream(stream_id: str, delete: DeleteStream = Provide[Container.delete_stream]) -> Any:
    delete.execute(principal().workspace_id, stream_id, actor())
    return no_content()


@api.post("/streams/<id:stream_id>/test")
@requires(STREAMS)
@inject
def test_stream(stream_id: str,
                send: SendTestDelivery = Provide[Container.send_test_delivery]) -> Any:
    return jsonify(delivery_document(send.execute(principal().workspace_id, stream_id)))


@api.post("/streams/<id:stream_id>/replay")
@requires(STREAMS)
@inject
def replay_stream(stream_id: str, replay: ReplayStream = Provide[Container.replay_stream]) -> Any:
    body = load(ReplaySchema(), json_object())
    stream = replay.execute(principal().workspace_id, stream_id, body["from_sequence"],
                            actor())
    return jsonify(stream_document(stream)), 202


@api.get("/streams/<id:stream_id>/deliveries")
@requires(STREAMS)
@inject
def list_deliveries(stream_id: str,
                    list_: ListDeliveries = Provide[Container.list_deliveries]) -> Any:
    query = query_args(PageQuerySchema())
    page = list_.execute(principal().workspace_id, stream_id, order=query["order"],
                         limit=query["limit"], cursor=query.get("cursor"))
    return jsonify(page_body(page, delivery_document))
