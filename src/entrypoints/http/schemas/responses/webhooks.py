"""What Auditrail POSTs to receivers: a log stream's deliveries (contract §8) and an alert
rule's notifications (§7), as the API document's ``webhooks`` states them, so that a
receiver's models can be generated like a client's."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from entrypoints.http.schemas.responses.alerts import AlertSummarySchema, RuleSummarySchema
from entrypoints.http.schemas.responses.events import EventOutSchema

_CHECKPOINT = {"description": "the workspace's latest signed checkpoint when the delivery was "
                              "first sent (the same on every retry): keep it, and "
                              "`auditrail log monitor --seen` proves it is in the log's "
                              "history; absent before the log signed one"}


class StreamDeliverySchema(Schema):
    stream_id = fields.String(required=True)
    delivery_id = fields.String(required=True, metadata={
        "description": "the same on every retry of this delivery: deduplicate on it"})
    sequence = fields.Integer(required=True, metadata={
        "description": "the stream's delivery number, 1, 2, 3, ... in order"})
    test = fields.Boolean(metadata={
        "description": "true on the sample POST /streams/{id}/test sends, absent otherwise"})
    events = fields.List(fields.Nested(EventOutSchema), required=True, metadata={
        "description": "processed events in chain order, as GET /events/{id} returns them"})
    checkpoint = fields.String(metadata=_CHECKPOINT)


class AlertNotificationBodySchema(Schema):
    type = fields.String(required=True, validate=validate.OneOf(["alert.triggered"]))
    test = fields.Boolean(metadata={
        "description": "true on the sample POST /alert-rules/{id}/test sends, absent "
                       "otherwise"})
    alert = fields.Nested(AlertSummarySchema, required=True)
    rule = fields.Nested(RuleSummarySchema, required=True, metadata={
        "description": "the rule as it was when the alert triggered"})
    events = fields.List(fields.Nested(EventOutSchema), required=True, metadata={
        "description": "the events that triggered it, in full"})
    checkpoint = fields.String(metadata=_CHECKPOINT)
