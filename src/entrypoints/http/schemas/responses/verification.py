"""What verifying a chain reports, on demand and on schedule (contract §5.5)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from domain.verification import DETAILS, REASONS
from entrypoints.http.schemas.json_fields import timestamp


class AnchorSchema(Schema):
    sequence = fields.Integer(required=True)
    hash = fields.String(required=True)


class ChainCheckSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(("checking", "idle")),
                           metadata={"description": "checking: a check is queued or "
                                                    "running"})
    checked_at = timestamp("when the latest check ended (null: never checked yet)",
                           allow_none=True)
    valid = fields.Boolean(allow_none=True)
    checked = fields.Integer(required=True, metadata={
        "description": "events the latest check recomputed (up to the invalid one)"})
    reason = fields.String(allow_none=True, validate=validate.OneOf(REASONS))
    detail = fields.String(allow_none=True, validate=validate.OneOf(DETAILS))
    first_invalid_sequence = fields.Integer(allow_none=True)
    event_id = fields.String(allow_none=True)
    invalid_since = timestamp("when checks began to find the chain invalid", allow_none=True)
    next_check_at = timestamp("when the schedule checks it next (null: checks off, or none "
                              "yet)", allow_none=True)


class VerifyReportSchema(Schema):
    valid = fields.Boolean(required=True)
    checked = fields.Integer(required=True)
    from_sequence = fields.Integer(allow_none=True)
    to_sequence = fields.Integer(allow_none=True)
    head_hash = fields.String(allow_none=True)
    first_invalid_sequence = fields.Integer(allow_none=True)
    event_id = fields.String(allow_none=True)
    reason = fields.String(allow_none=True, validate=validate.OneOf(REASONS), metadata={
        "description": "tree_mismatch: the event is not the one the Merkle tree holds at "
                       "its position (rewritten, even with every chain hash recomputed); "
                       "checkpoint_mismatch: the stored tree no longer gives the root the "
                       "log signed; anchor_mismatch: the retention anchor is not the one "
                       "the log signed"})
    detail = fields.String(validate=validate.OneOf(DETAILS), metadata={
        "description": "search_entries, only with hash_mismatch: the event's hash still "
                       "matches but what is stored for search beside it (filter columns, "
                       "terms) does not - the event was hidden from searches or added to "
                       "others; with no event named, terms were planted for events the "
                       "chain does not hold (a whole-chain check only). With "
                       "checkpoint_mismatch or anchor_mismatch: signature, tree or "
                       "unsigned, what did not hold."})
    anchor = fields.Nested(AnchorSchema)
