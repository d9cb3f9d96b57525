"""Events as the API answers them: accepted, read back, counted (contract §5)."""

from __future__ import annotations

from marshmallow import Schema, fields

from entrypoints.http.schemas.json_fields import timestamp
from entrypoints.http.schemas.responses.pages import page_of


class PartyOutSchema(Schema):
    id = fields.String(required=True)
    type = fields.String(required=True)
    name = fields.String()
    metadata = fields.Dict()


class GeoSchema(Schema):
    country_code = fields.String(allow_none=True)
    country = fields.String(allow_none=True)
    region = fields.String(allow_none=True)
    city = fields.String(allow_none=True)
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)
    timezone = fields.String(allow_none=True)


class ContextOutSchema(Schema):
    ip_address = fields.String()
    user_agent = fields.String()


class EventOutSchema(Schema):
    id = fields.String(required=True)
    workspace_id = fields.String(required=True)
    action = fields.String(required=True)
    occurred_at = timestamp(required=True)
    received_at = timestamp(required=True)
    actor = fields.Nested(PartyOutSchema, required=True)
    targets = fields.List(fields.Nested(PartyOutSchema), required=True)
    context = fields.Nested(ContextOutSchema, required=True)
    metadata = fields.Dict(required=True)
    geo = fields.Nested(GeoSchema, required=True, allow_none=True)
    sequence = fields.Integer(required=True, allow_none=True)
    status = fields.String(required=True)
    prev_hash = fields.String(required=True, allow_none=True)
    hash = fields.String(required=True, allow_none=True)


RECEIPT = {"description": "With 'Prefer: receipt': a C2SP signed note by the log's key - "
                          "its origin, 'ingest receipt', the receive time, then "
                          "'<event id> <base64 SHA-256 of its accepted fields>' a line."}


class AcceptedSchema(Schema):
    id = fields.String(required=True)
    status = fields.String(required=True)
    receipt = fields.String(metadata=RECEIPT)


class BatchAcceptedSchema(Schema):
    ids = fields.List(fields.String(), required=True)
    count = fields.Integer(required=True)
    receipt = fields.String(metadata=RECEIPT)


class BatchCheckedSchema(Schema):
    valid = fields.Boolean(required=True, metadata={
        "description": "Always true: a batch that would be refused is answered 422, as "
                       "POST /events/batch answers it."})
    count = fields.Integer(required=True, metadata={
        "description": "The events checked, none of them stored."})


class StatsGroupSchema(Schema):
    value = fields.Raw(required=True, allow_none=True, metadata={
        "type": ["string", "number", "boolean"],  # and null: allow_none adds it
        "description": "the attribute's value (YYYY-MM-DD for a day; a metadata key's "
                       "string, number or boolean); null for events without one"})
    count = fields.Integer(required=True)


class EventStatsSchema(Schema):
    group_by = fields.String(required=True)
    total = fields.Integer(required=True, metadata={"description": "events matching the "
                                                                   "filters, in all groups"})
    groups = fields.List(fields.Nested(StatsGroupSchema), required=True, metadata={
        "description": "the largest groups, most events first (days: the latest first)"})
    other = fields.Integer(required=True, metadata={
        "description": "matching events in groups not listed"})


EventPageSchema = page_of(EventOutSchema, "EventPage")
