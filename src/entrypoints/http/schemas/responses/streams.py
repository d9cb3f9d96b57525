"""Log streams and their deliveries (contract §8)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from domain.deliveries import EVENTS, TEST
from domain.deliveries import STATUSES as DELIVERY_STATUSES
from domain.streams import COMPRESSIONS, TYPES
from domain.streams import STATUSES as STREAM_STATUSES
from entrypoints.http.schemas.json_fields import timestamp
from entrypoints.http.schemas.responses.pages import page_of


class StreamConfigOutSchema(Schema):
    url = fields.String(required=True)
    secret_hint = fields.String(metadata={"description": "webhook: the secret's last "
                                                        "characters"})
    token_hint = fields.String(metadata={"description": "splunk_hec"})
    api_key_hint = fields.String(metadata={"description": "datadog"})
    region = fields.String(metadata={"description": "s3"})
    access_key_id = fields.String(metadata={"description": "s3"})
    secret_access_key_hint = fields.String(metadata={"description": "s3"})
    compression = fields.String(validate=validate.OneOf(COMPRESSIONS), metadata={
        "description": "s3, when set: gzip or none"})


class StreamConfigCreatedSchema(StreamConfigOutSchema):
    secret = fields.String(metadata={"description": "shown once, at creation"})
    token = fields.String()
    api_key = fields.String()
    secret_access_key = fields.String()


class StreamFilterOutSchema(Schema):
    actions = fields.List(fields.String(), required=True)


class StreamProgressSchema(Schema):
    position = fields.Integer(required=True, metadata={
        "description": "the last sequence handed to a delivery (or passed over by the "
                       "filter)"})
    deliveries = fields.Integer(required=True, metadata={
        "description": "the number of the last delivery (each webhook body's sequence)"})
    last_delivered_at = timestamp(required=True, allow_none=True)
    consecutive_failures = fields.Integer(required=True)
    next_attempt_at = timestamp(required=True, allow_none=True)
    failing_since = timestamp(required=True, allow_none=True)
    last_error = fields.String(required=True, allow_none=True)


class StreamOutSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    type = fields.String(required=True, validate=validate.OneOf(TYPES))
    config = fields.Nested(StreamConfigOutSchema, required=True)
    filter = fields.Nested(StreamFilterOutSchema, required=True, allow_none=True)
    batch_seconds = fields.Integer(required=True, allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(STREAM_STATUSES))
    created_at = timestamp(required=True)
    updated_at = timestamp(required=True)
    delivery = fields.Nested(StreamProgressSchema, required=True)


class StreamCreatedSchema(StreamOutSchema):
    config = fields.Nested(StreamConfigCreatedSchema, required=True)


class DeliveryOutSchema(Schema):
    id = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf([EVENTS, TEST]))
    sequence = fields.Integer(required=True, allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(DELIVERY_STATUSES))
    attempts = fields.Integer(required=True)
    http_status = fields.Integer(required=True, allow_none=True)
    event_count = fields.Integer(required=True)
    first_sequence = fields.Integer(required=True, allow_none=True)
    last_sequence = fields.Integer(required=True, allow_none=True)
    error = fields.String(required=True, allow_none=True)
    created_at = timestamp(required=True)
    last_attempt_at = timestamp(required=True, allow_none=True)
    delivered_at = timestamp(required=True, allow_none=True)


StreamPageSchema = page_of(StreamOutSchema, "StreamPage")


DeliveryPageSchema = page_of(DeliveryOutSchema, "DeliveryPage")
