"""Event endpoints (contract §5.2-§5.5)."""

from __future__ import annotations

from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import current_app, jsonify

from application.use_cases.check_chains import GetChainHealth, ScheduleChainChecks
from application.use_cases.event_stats import CountEvents
from application.use_cases.get_event import GetEvent
from application.use_cases.ingest_events import Accepted, IngestEvents
from application.use_cases.search_events import SearchEvents
from application.use_cases.verify_chain import VerifyChain
from domain.errors import FieldError, ValidationFailed
from domain.events import PENDING, Event
from domain.scopes import EVENTS_READ, EVENTS_WRITE
from domain.verification import VerificationReport
from entrypoints.container.installation import Container
from entrypoints.http.auth import principal, requires
from entrypoints.http.body import ONE_MIB, json_object
from entrypoints.http.documents import chain_check_document
from entrypoints.http.filters import event_filters
from entrypoints.http.pagination import page_body
from entrypoints.http.query import idempotency_key, prefers, query_args
from entrypoints.http.schemas.events import (
    EventBatchSchema,
    EventQuerySchema,
    EventStatsQuerySchema,
    VerifyQuerySchema,
)
from entrypoints.http.validation import load
from entrypoints.http.views.api import api

BATCH_MAX_BYTES = 5 * ONE_MIB
RECEIPT = "receipt"
"""``Prefer: receipt`` asks for a signed receipt of the accepted events."""


@api.post("/events")
@requires(EVENTS_WRITE)
@inject
def ingest_event(ingest: IngestEvents = Provide[Container.ingest_events]) -> Any:
    key = idempotency_key()
    body = json_object()
    if "events" in body and "action" not in body:
        raise ValidationFailed([FieldError("events", BATCH_HERE)])
    workspace = principal().workspace
    accepted = ingest.execute(workspace.id, [body], idempotency_key=key,
                              receipt=prefers(RECEIPT), rules=workspace)
    return _accepted({"id": accepted.event_ids[0], "status": PENDING}, accepted)


BATCH_HERE = ("Unknown field; a list of events goes to POST /api/v1/events/batch, one "
              "event's own fields to POST /api/v1/events.")
"""The batch envelope sent to the single-event endpoint: answered by what was meant, not
by an unknown field beside a missing action and actor."""


@api.post("/events/batch")
@requires(EVENTS_WRITE)
@inject
def ingest_batch(ingest: IngestEvents = Provide[Container.ingest_events]) -> Any:
    key = idempotency_key()
    envelope = load(EventBatchSchema(), json_object(max_bytes=BATCH_MAX_BYTES))
    workspace = principal().workspace
    accepted = ingest.execute(workspace.id, envelope["events"], batch=True,
                              idempotency_key=key, receipt=prefers(RECEIPT),
                              rules=workspace)
    ids = list(accepted.event_ids)
    return _accepted({"ids": ids, "count": len(ids)}, accepted)


@api.post("/events/validate")
@requires(EVENTS_WRITE)
@inject
def validate_events(ingest: IngestEvents = Provide[Container.ingest_events]) -> Any:
    """A batch checked as ``POST /events/batch`` would check it, stored nowhere."""
    envelope = load(EventBatchSchema(), json_object(max_bytes=BATCH_MAX_BYTES))
    workspace = principal().workspace
    count = ingest.check(workspace.id, envelope["events"], rules=workspace)
    return jsonify({"valid": True, "count": count})


@api.get("/events")
@requires(EVENTS_READ, viewer=True)
@inject
def list_events(search: SearchEvents = Provide[Container.search_events]) -> Any:
    query = query_args(EventQuerySchema())
    page = search.execute(principal().workspace_id, event_filters(query, principal()),
                          order=query["order"], limit=query["limit"],
                          cursor=query.get("cursor"))
    return jsonify(page_body(page, Event.document))


@api.get("/events/stats")
@requires(EVENTS_READ, viewer=True)
@inject
def event_stats(count: CountEvents = Provide[Container.count_events]) -> Any:
    query = query_args(EventStatsQuerySchema())
    stats = count.execute(principal().workspace_id, event_filters(query, principal()),
                          query["group_by"], query["limit"])
    return jsonify({"group_by": stats.group_by, "total": stats.total,
                    "groups": [{"value": group.value, "count": group.count}
                               for group in stats.groups],
                    "other": stats.other})


@api.get("/events/verify")
@requires(EVENTS_READ)
@inject
def verify_events(verify: VerifyChain = Provide[Container.verify_chain]) -> Any:
    query = query_args(VerifyQuerySchema())
    with current_app.extensions["verifications"].slot():
        report = verify.execute(principal().workspace_id, query.get("from_sequence"),
                                query.get("to_sequence"))
    return jsonify(_report_document(report))


@api.get("/chain-check")
@requires(EVENTS_READ)
@inject
def get_chain_check(health: GetChainHealth = Provide[Container.chain_health]) -> Any:
    return jsonify(chain_check_document(health.workspace(principal().workspace_id)))


@api.post("/chain-check")
@requires(EVENTS_READ)
@inject
def request_chain_check(schedule: ScheduleChainChecks = Provide[
        Container.schedule_chain_checks]) -> Any:
    response = jsonify(chain_check_document(schedule.request(principal().workspace_id)))
    response.status_code = 202
    return response


@api.get("/events/<id:event_id>")
@requires(EVENTS_READ, viewer=True)
@inject
def get_event(event_id: str, get: GetEvent = Provide[Container.get_event]) -> Any:
    caller = principal()
    return jsonify(get.execute(caller.workspace_id, event_id, caller.within).document())


def _accepted(body: dict[str, Any], accepted: Accepted) -> Any:
    """202, with ``Idempotent-Replayed: true`` when the answer is a remembered one, and
    the receipt when one was asked for (``Preference-Applied`` says it was given)."""
    if accepted.receipt is not None:
        body["receipt"] = accepted.receipt
    response = jsonify(body)
    response.status_code = 202
    if accepted.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    if accepted.receipt is not None:
        response.headers["Preference-Applied"] = RECEIPT
    return response


def _report_document(report: VerificationReport) -> dict[str, Any]:
    body: dict[str, Any]
    if report.valid:
        body = {"valid": True, "checked": report.checked, "from_sequence": report.from_sequence,
                "to_sequence": report.to_sequence, "head_hash": report.head_hash}
    else:
        body = {"valid": False, "checked": report.checked,
                "first_invalid_sequence": report.first_invalid_sequence,
                "event_id": report.event_id, "reason": report.reason}
        if report.detail is not None:
            body["detail"] = report.detail
    if report.anchor is not None:
        body["anchor"] = {"sequence": report.anchor.sequence, "hash": report.anchor.hash}
    return body
