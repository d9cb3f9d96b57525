"""The workspace, its API keys and its usage (contract §3, §4)."""

from __future__ import annotations

from marshmallow import Schema, fields

from entrypoints.http.schemas.json_fields import timestamp
from entrypoints.http.schemas.responses.pages import page_of


class WorkspaceOutSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    plan = fields.String(required=True)
    rate_limit_per_minute = fields.Integer(required=True)
    ip_allowlist = fields.List(fields.String(), required=True)
    retention_days = fields.Integer(required=True, allow_none=True)
    record_activity = fields.Boolean(required=True, metadata={
        "description": "Whether changes to the workspace (keys, rules, streams, viewer "
                       "links, witnesses, exports, settings) are recorded as events under "
                       "'auditrail.' actions in its own log."})
    legal_hold = fields.Boolean(required=True, metadata={
        "description": "Whether a legal hold keeps every event, whatever retention_days "
                       "says, and the operator cannot delete the workspace."})
    accepted_actions = fields.List(fields.String(), required=True, allow_none=True, metadata={
        "description": "The only actions its events may have, exact or like 'billing.*' "
                       "(null: any action)."})
    metadata_schemas = fields.Dict(keys=fields.String(), values=fields.Raw(), required=True,
                                   allow_none=True, metadata={
        "description": "By action, the JSON Schema its events' metadata must meet (null: "
                       "none)."})
    created_at = timestamp(required=True)


class ApiKeyOutSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    prefix = fields.String(required=True)
    scopes = fields.List(fields.String(), required=True)
    created_at = timestamp(required=True)
    expires_at = timestamp(required=True, allow_none=True)
    revoked_at = timestamp(required=True, allow_none=True)
    last_used_at = timestamp(required=True, allow_none=True)


class ApiKeyCreatedSchema(ApiKeyOutSchema):
    secret = fields.String(required=True)


class ApiKeyRolledSchema(ApiKeyCreatedSchema):
    replaces = fields.Nested(ApiKeyOutSchema, required=True, metadata={
        "description": "the key rolled, with the expiry it now has"})


class RateLimitSchema(Schema):
    limit = fields.Integer(required=True)
    remaining = fields.Integer(required=True)
    reset_seconds = fields.Integer(required=True)


class EventCountsSchema(Schema):
    total = fields.Integer(required=True)
    pending = fields.Integer(required=True)
    last_24h = fields.Integer(required=True)


class UsageSchema(Schema):
    plan = fields.String(required=True)
    rate_limit = fields.Nested(RateLimitSchema, required=True)
    events = fields.Nested(EventCountsSchema, required=True)


ApiKeyPageSchema = page_of(ApiKeyOutSchema, "ApiKeyPage")
