"""The witness's HTTP interface, as C2SP tlog-witness gives it: ``POST /add-checkpoint``
for logs and monitors, ``GET /<origin hash>/checkpoint`` for whoever wants the latest
cosigned checkpoint. Plain text throughout, as the protocol's clients expect. Beside them,
``GET /metrics`` for its operator's Prometheus: nothing in it is secret, as cosigned
checkpoints are public."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

from flask import Flask, Response, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily
from werkzeug.exceptions import HTTPException

from application.witness import Witness
from domain.witnessing import Refusal, WitnessRefused

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
"""63 proof lines and a checkpoint with many signatures fit several times over."""
_ORIGIN_HASH = re.compile(r"^[0-9a-f]{64}$")
_TEXT = "text/plain; charset=utf-8"


def create_witness_app(witness: Witness) -> Flask:
    app = Flask("auditrail.witness")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    registry = CollectorRegistry()
    answers = Counter("auditrail_witness_add_checkpoint_total",
                      "add-checkpoint requests by outcome: cosigned, or why not.",
                      ["outcome"], registry=registry)
    for outcome in ("cosigned", *(refusal.name.lower() for refusal in Refusal)):
        answers.labels(outcome=outcome)  # at 0 from the start, for increase() to see
    registry.register(_HeldLogs(witness))

    @app.post("/add-checkpoint")
    def add_checkpoint() -> Response:
        try:
            body = request.get_data(cache=False).decode("utf-8")
        except UnicodeDecodeError:
            answers.labels(outcome="malformed").inc()
            return _text("the body is not UTF-8\n", 400)
        try:
            line = witness.add_checkpoint(body)
        except WitnessRefused as refused:
            answers.labels(outcome=refused.refusal.name.lower()).inc()
            return _refusal(refused)
        answers.labels(outcome="cosigned").inc()
        return _text(line, 200)

    @app.get("/<origin_hash>/checkpoint")
    def checkpoint(origin_hash: str) -> Response:
        note = witness.checkpoint(origin_hash) if _ORIGIN_HASH.fullmatch(origin_hash) else None
        if note is None:
            return _text("this witness has cosigned no checkpoint of that log\n", 404)
        return _text(note, 200)

    @app.get("/healthz")
    def healthz() -> Response:
        return _text("ok\n", 200)

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), 200, content_type=CONTENT_TYPE_LATEST)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        return _text(f"{error.name}\n", error.code or 500)

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        log.error("witness request failed: %s", type(error).__name__,
                  exc_info=log.isEnabledFor(logging.DEBUG))
        return _text("internal error\n", 500)

    return app


class _HeldLogs:
    """Read from the ledger at each scrape: a log whose cosigned size stops growing has
    stopped being submitted (its monitors stopped), or is being refused."""

    def __init__(self, witness: Witness) -> None:
        self._witness = witness

    def collect(self) -> Iterator[GaugeMetricFamily]:
        size = GaugeMetricFamily("auditrail_witness_tree_size",
                                 "The size of the latest checkpoint cosigned, by log.",
                                 labels=["origin"])
        cosigned = GaugeMetricFamily("auditrail_witness_cosigned_timestamp_seconds",
                                     "When the latest checkpoint of each log was cosigned.",
                                     labels=["origin"])
        for held in self._witness.held():
            size.add_metric([held.origin], held.witnessed.tree_size)
            cosigned.add_metric([held.origin], held.cosigned_at.timestamp())
        yield size
        yield cosigned


def _refusal(refused: WitnessRefused) -> Response:
    if refused.refusal is Refusal.STALE:
        response = Response(f"{refused.latest_size}\n", 409)
        response.content_type = "text/x.tlog.size"
        return response
    if refused.refusal is Refusal.INCONSISTENT:
        # Perhaps the evidence of a log showing two histories: kept in the witness's log.
        log.warning("refused to cosign: %s", refused)
    return _text(f"{refused}\n", refused.refusal.value)


def _text(body: str, status: int) -> Response:
    return Response(body, status, content_type=_TEXT)
