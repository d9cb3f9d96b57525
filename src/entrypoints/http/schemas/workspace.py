"""Workspace, API key and usage shapes (contract §3)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from domain.accepted_actions import MAX_ACCEPTED_ACTIONS
from domain.api_keys import MAX_ROLL_GRACE_SECONDS
from domain.metadata_schemas import MAX_SCHEMAS
from domain.names import NAME_MAX_LENGTH
from domain.scopes import ALL_SCOPES
from domain.workspaces import MAX_ALLOWLIST_ENTRIES, MAX_RETENTION_DAYS
from entrypoints.http.schemas.json_fields import (
    JsonBoolean,
    action_pattern,
    cursor,
    timestamp,
)


class WorkspacePatchSchema(Schema):
    name = fields.String(validate=validate.Length(1, NAME_MAX_LENGTH))
    ip_allowlist = fields.List(fields.String(metadata={"minLength": 1}),
                               validate=validate.Length(max=MAX_ALLOWLIST_ENTRIES))
    retention_days = fields.Integer(strict=True, allow_none=True,
                                    validate=validate.Range(1, MAX_RETENTION_DAYS))
    record_activity = JsonBoolean(metadata={
        "description": "record changes to the workspace as events in its own log"})
    legal_hold = JsonBoolean(metadata={
        "description": "keep every event whatever the retention, and refuse the "
                       "workspace's deletion, until released"})
    accepted_actions = fields.List(action_pattern(), allow_none=True, metadata={
        "minItems": 1, "maxItems": MAX_ACCEPTED_ACTIONS,
        "description": "the only actions its events may have, exact or like 'billing.*': "
                       "an event with another is refused (422, naming the listed action "
                       "it is probably a slip of); null: any action"})
    metadata_schemas = fields.Dict(keys=fields.String(), values=fields.Raw(), allow_none=True,
                                   metadata={
        "maxProperties": MAX_SCHEMAS,
        "description": "by action (exact, or like 'billing.*'), a JSON Schema (draft "
                       "2020-12; keywords that apply once to the value they name: type, "
                       "properties, required, additionalProperties true or false, enum, "
                       "const, ranges, lengths and counts) that the metadata of its "
                       "events must meet, or the event is refused (422, naming each "
                       "failing metadata field); an action's own schema before its "
                       "longest prefix's; null: none"})


class ApiKeyCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(1, NAME_MAX_LENGTH))
    scopes = fields.List(fields.String(validate=validate.OneOf(ALL_SCOPES)), required=True,
                         validate=validate.Length(min=1))
    expires_at = timestamp("when the key stops working (default: never)", allow_none=True)


class ApiKeyRollSchema(Schema):
    expires_in_seconds = fields.Integer(
        strict=True, load_default=0, validate=validate.Range(0, MAX_ROLL_GRACE_SECONDS),
        metadata={"description": "how long the old key keeps working (0, the default: it "
                                 "stops at once; at most 7 days)"})
    expires_at = timestamp("the new key's expiry (default: none)", allow_none=True)


class PageQuerySchema(Schema):
    """``limit``, ``cursor`` and ``order`` of any list endpoint without filters."""

    order = fields.String(validate=validate.OneOf(["asc", "desc"]), load_default="desc")
    limit = fields.Integer(strict=False, validate=validate.Range(1, 100), load_default=50)
    cursor = cursor()
