"""The witnesses of a workspace's log (contract §10): ``admin`` adds and removes them,
readers of the log see them and the checkpoint they cosigned."""

from __future__ import annotations

from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import Response, jsonify

from application.use_cases.log_witnesses import (
    AddLogWitness,
    CosignedCheckpoint,
    GetLogWitness,
    ListLogWitnesses,
    RemoveLogWitness,
    RetryLogWitness,
)
from domain.scopes import ADMIN, EVENTS_READ
from entrypoints.container.installation import Container
from entrypoints.http.auth import actor, principal, requires
from entrypoints.http.body import json_object
from entrypoints.http.documents import witness_document
from entrypoints.http.pagination import page_body
from entrypoints.http.query import query_args
from entrypoints.http.schemas.log import CosignedQuerySchema, LogWitnessCreateSchema
from entrypoints.http.schemas.workspace import PageQuerySchema
from entrypoints.http.validation import load
from entrypoints.http.views.api import api, no_content
from entrypoints.http.views.log import NOTE_TYPE


@api.post("/log/witnesses")
@requires(ADMIN)
@inject
def add_witness(add: AddLogWitness = Provide[Container.add_log_witness]) -> Any:
    body = load(LogWitnessCreateSchema(), json_object())
    return jsonify(witness_document(add.execute(principal().workspace_id, body, actor()))), 201


@api.get("/log/witnesses")
@requires(EVENTS_READ)  # not for viewer links: witnesses' URLs may name inner hosts
@inject
def list_witnesses(list_: ListLogWitnesses = Provide[Container.list_log_witnesses]) -> Any:
    query = query_args(PageQuerySchema())
    page = list_.execute(principal().workspace_id, order=query["order"], limit=query["limit"],
                         cursor=query.get("cursor"))
    return jsonify(page_body(page, witness_document))


@api.get("/log/witnesses/<id:witness_id>")
@requires(EVENTS_READ)
@inject
def get_witness(witness_id: str,
                get: GetLogWitness = Provide[Container.get_log_witness]) -> Any:
    return jsonify(witness_document(get.execute(principal().workspace_id, witness_id)))


@api.delete("/log/witnesses/<id:witness_id>")
@requires(ADMIN)
@inject
def remove_witness(witness_id: str,
                   remove: RemoveLogWitness = Provide[Container.remove_log_witness]) -> Any:
    remove.execute(principal().workspace_id, witness_id, actor())
    return no_content()


@api.post("/log/witnesses/<id:witness_id>/retry")
@requires(ADMIN)
@inject
def retry_witness(witness_id: str,
                  retry: RetryLogWitness = Provide[Container.retry_log_witness]) -> Any:
    return jsonify(witness_document(retry.execute(principal().workspace_id, witness_id)))


@api.get("/log/cosigned-checkpoint")
@requires(EVENTS_READ, viewer=True)
@inject
def cosigned_checkpoint(cosigned: CosignedCheckpoint = Provide[Container.cosigned_checkpoint]
                        ) -> Any:
    """The log's note with the witnesses' signature lines below its own: a signed note
    that any signed-note library checks with whichever keys its reader trusts."""
    query = query_args(CosignedQuerySchema())
    note = cosigned.execute(principal().workspace_id, query.get("witnesses"))
    return Response(note, content_type=NOTE_TYPE)
