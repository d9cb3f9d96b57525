"""What each destination type receives: method, URL, body and headers (contract §8).

Bodies are built from the parcel alone, so a retry - the same delivery, the same events -
sends the very same bytes. Only the signatures' timestamps are new on each attempt.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any, NamedTuple

from adapters.webhooks.chat import chat_body, teams_body
from adapters.webhooks.incident import pagerduty_body
from adapters.webhooks.object_storage import s3_put
from application.ports.delivery import Destination, Notification, Parcel, Payload
from domain.alert_rules import PAGERDUTY_FORMAT, SLACK_FORMAT, TEAMS_FORMAT
from domain.streams import DATADOG, S3, SPLUNK_HEC, WEBHOOK

SIGNATURE_HEADER = "Auditrail-Signature"
CHECKPOINT_SOURCETYPE = "auditrail:checkpoint"


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def webhook_body(parcel: Parcel) -> bytes:
    body: dict[str, Any] = {"stream_id": parcel.stream_id, "delivery_id": parcel.delivery_id,
                            "sequence": parcel.number}
    if parcel.test:
        body["test"] = True
    body["events"] = list(parcel.events)
    if parcel.checkpoint is not None:
        body["checkpoint"] = parcel.checkpoint
    return _json(body)


def _checkpoint_record(parcel: Parcel) -> dict[str, Any]:
    return {"stream_id": parcel.stream_id, "delivery_id": parcel.delivery_id,
            "checkpoint": parcel.checkpoint}


def splunk_body(parcel: Parcel) -> bytes:
    """HEC's batch form: one event object after another (newline-separated), then the
    log's latest checkpoint under a sourcetype of its own, so that the SIEM keeps the
    log's signed state too (no ``time``: Splunk stamps it on arrival)."""
    records = [{"time": _epoch(event["occurred_at"]), "sourcetype": "auditrail",
                "source": "auditrail", "event": event} for event in parcel.events]
    if parcel.checkpoint is not None:
        records.append({"sourcetype": CHECKPOINT_SOURCETYPE, "source": "auditrail",
                        "event": _checkpoint_record(parcel)})
    return b"\n".join(_json(record) for record in records)


def datadog_body(parcel: Parcel) -> bytes:
    """A JSON array of logs. ``message`` holds the event as JSON, which Datadog parses into
    attributes; ``date`` (a reserved attribute) makes ``occurred_at`` the log's time. The
    log's latest checkpoint follows, tagged ``type:checkpoint``, with no ``date``."""
    logs = [{"ddsource": "auditrail", "service": "auditrail",
             "ddtags": f"workspace_id:{event['workspace_id']},action:{event['action']}",
             "date": event["occurred_at"], "message": _json(event).decode("utf-8")}
            for event in parcel.events]
    if parcel.checkpoint is not None and parcel.events:
        logs.append({"ddsource": "auditrail", "service": "auditrail",
                     "ddtags": f"workspace_id:{parcel.events[0]['workspace_id']},"
                               f"type:checkpoint",
                     "message": _json(_checkpoint_record(parcel)).decode("utf-8")})
    return _json(logs)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``: the timestamp is
    signed with the body, so a receiver can refuse an old request replayed at it."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body,
                      hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class Outgoing(NamedTuple):
    method: str
    url: str
    body: bytes
    headers: dict[str, str]


_MESSAGES = {SLACK_FORMAT: chat_body, TEAMS_FORMAT: teams_body}
"""The alert formats that are chat messages, by name; any other is the signed document."""


def request_for(destination: Destination, payload: Payload, now: int) -> Outgoing:
    """One attempt's request (``now``: Unix seconds, for the signature)."""
    if isinstance(payload, Notification):  # an alert rule's webhook
        if destination.type == PAGERDUTY_FORMAT:  # the secret is a routing key: no signing
            return Outgoing("POST", destination.url,
                            pagerduty_body(payload.document, destination.credential),
                            {"Content-Type": "application/json"})
        render = _MESSAGES.get(destination.type, _json)
        body = render(payload.document)
        return Outgoing("POST", destination.url, body, {
            "Content-Type": "application/json", "Auditrail-Delivery-Id": payload.alert_id,
            SIGNATURE_HEADER: signature(destination.credential, now, body)})
    if destination.type == S3:
        return Outgoing("PUT", *s3_put(destination, payload))
    headers = {"Content-Type": "application/json",
               "Auditrail-Delivery-Id": payload.delivery_id,
               "Auditrail-Delivery-Sequence": str(payload.number)}
    if destination.type == WEBHOOK:
        body = webhook_body(payload)
        headers[SIGNATURE_HEADER] = signature(destination.credential, now, body)
    elif destination.type == SPLUNK_HEC:
        body = splunk_body(payload)
        headers["Authorization"] = f"Splunk {destination.credential}"
    elif destination.type == DATADOG:
        body = datadog_body(payload)
        headers["DD-API-KEY"] = destination.credential
    else:
        raise ValueError(f"unknown stream type {destination.type!r}")
    return Outgoing("POST", destination.url, body, headers)


def _epoch(timestamp: str) -> float:
    return round(datetime.fromisoformat(timestamp).timestamp(), 6)
