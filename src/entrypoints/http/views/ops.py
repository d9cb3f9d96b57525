"""Operational endpoints outside ``/api/v1``: liveness and readiness."""

from __future__ import annotations

from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import Blueprint, Response, jsonify

from application.ports.jobs import JobQueue
from application.use_cases.check_chains import GetChainHealth
from application.use_cases.delivery_status import GetDeliveryStatus
from application.use_cases.processing_status import GetProcessingStatus
from application.use_cases.retention_status import GetRetentionStatus
from application.use_cases.witness_submissions import WitnessHealth
from entrypoints.container.installation import Container
from entrypoints.http.errors import error_response
from entrypoints.http.metrics import exposition

ops = Blueprint("ops", __name__)


@ops.get("/healthz")
def healthz() -> Any:
    """The process is alive; says nothing about its dependencies (that is ``/readyz``)."""
    return jsonify({"status": "ok"})


@ops.get("/metrics")
@inject
def metrics(status: GetProcessingStatus = Provide[Container.processing_status],
            deliveries: GetDeliveryStatus = Provide[Container.delivery_status],
            witnesses: WitnessHealth = Provide[Container.witness_health],
            chains: GetChainHealth = Provide[Container.chain_health],
            retention: GetRetentionStatus = Provide[Container.retention_status]) -> Any:
    body, content_type = exposition(status, deliveries, witnesses, chains, retention)
    return Response(body, content_type=content_type)


@ops.get("/readyz")
@inject
def readyz(database_ping: Any = Provide[Container.database_ping.provider],
           queue: JobQueue = Provide[Container.job_queue]) -> Any:
    checks = {"database": bool(database_ping()), "queue": queue.ping()}
    if all(checks.values()):
        return jsonify({"status": "ready", "checks": checks})
    down = ", ".join(name for name, ok in checks.items() if not ok)
    response = error_response(503, "unavailable", f"Not ready: {down} unreachable.",
                              headers={"Retry-After": "5"})
    return response
