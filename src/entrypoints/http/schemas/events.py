"""Event request shapes (contract §5.1-§5.2).

``EventSchema`` documents an event body for the API document; the domain validates bodies
itself (``domain.event_rules``), in one pass per event, and a test keeps the two agreeing.
``EventBatchSchema`` validates the batch envelope.
"""

from __future__ import annotations

from typing import Any

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
    validates,
    validates_schema,
)

from domain import event_rules as rules
from domain.event_search import MAX_METADATA_FILTERS, METADATA_FILTER, InvalidFilter
from domain.event_stats import DEFAULT_GROUPS, GROUPS, MAX_GROUPS, metadata_group
from domain.hash_chain import MAX_SEQUENCE
from entrypoints.http.schemas.json_fields import action_pattern, cursor, timestamp

MAX_BATCH = 1_000
METADATA_FILTERS = "metadata.<key>"


class PartySchema(Schema):
    id = fields.String(required=True,
                       validate=validate.Length(1, rules.IDENTIFIER_MAX_LENGTH))
    type = fields.String(required=True,
                         validate=validate.Length(1, rules.IDENTIFIER_MAX_LENGTH))
    name = fields.String(validate=validate.Length(max=rules.NAME_MAX_LENGTH))
    metadata = fields.Dict(keys=fields.String())


class ContextSchema(Schema):
    ip_address = fields.String()
    user_agent = fields.String(validate=validate.Length(max=rules.USER_AGENT_MAX_LENGTH))


class EventSchema(Schema):
    action = fields.String(required=True,
                           validate=validate.Length(1, rules.ACTION_MAX_LENGTH),
                           metadata={"pattern": rules.ACTION_PATTERN.pattern,
                                     "description": f"dot-separated segments such as "
                                                    f"'user.login_failed'; actions beginning "
                                                    f"'{rules.RESERVED_PREFIX}' are refused "
                                                    f"(Auditrail's own records), and so "
                                                    f"is one the workspace's "
                                                    f"accepted_actions do not list"})
    occurred_at = timestamp("when it happened (default: when it was received); from "
                            "1970-01-01, and at most 5 minutes ahead of the server's clock")
    actor = fields.Nested(PartySchema, required=True)
    targets = fields.List(fields.Nested(PartySchema),
                          validate=validate.Length(max=rules.MAX_TARGETS))
    context = fields.Nested(ContextSchema)
    metadata = fields.Dict(keys=fields.String())


class EventBatchSchema(Schema):
    """The envelope; each event in it is validated by the domain."""

    events = fields.List(fields.Raw(), required=True, validate=validate.Length(1, MAX_BATCH))


class EventBatchBodySchema(Schema):
    """The batch as the API document shows it: events, each as ``POST /events`` takes one
    (``EventBatchSchema`` checks the envelope; the domain, every event)."""

    events = fields.List(fields.Nested(EventSchema), required=True,
                         validate=validate.Length(1, MAX_BATCH))


class VerifyQuerySchema(Schema):
    from_sequence = fields.Integer(strict=False, validate=validate.Range(1, MAX_SEQUENCE))
    to_sequence = fields.Integer(strict=False, validate=validate.Range(1, MAX_SEQUENCE))

    @validates_schema
    def _ordered(self, data: dict[str, Any], **_: Any) -> None:
        """A reversed range is a bad query, not an empty chain that would verify as valid."""
        first, last = data.get("from_sequence"), data.get("to_sequence")
        if first is not None and last is not None and last < first:
            raise ValidationError("Must not be less than from_sequence.", "to_sequence")


class EventFiltersSchema(Schema):
    """The filters of contract §5.4; their values are interpreted by the domain."""

    action = action_pattern("exact, or a prefix such as 'user.*'")
    actor_id = fields.String(validate=validate.Length(1, rules.IDENTIFIER_MAX_LENGTH))
    actor_type = fields.String(validate=validate.Length(1, rules.IDENTIFIER_MAX_LENGTH))
    target_id = fields.String(validate=validate.Length(1, rules.IDENTIFIER_MAX_LENGTH))
    target_type = fields.String(validate=validate.Length(1, rules.IDENTIFIER_MAX_LENGTH))
    ip_address = fields.String()
    country_code = fields.String(validate=validate.Regexp(r"^[A-Za-z]{2}$",
                                                          error="Two letters (ISO 3166-1)."))
    since = timestamp("occurred_at >= since")
    until = timestamp("occurred_at < until; refused if earlier than since")
    status = fields.String(validate=validate.OneOf(["pending", "processed"]))
    metadata = fields.Raw(data_key=METADATA_FILTERS, metadata={"type": "string", "description": (
        f"a top-level key of the event's metadata holding a value, as "
        f"metadata.order_id=ord_7 (up to {MAX_METADATA_FILTERS}, ANDed); a value is read as "
        f"JSON where it is JSON, else as a string: a bare number, true, false or null also "
        f"matches its text as a string, a quoted one (\"123\") the string only")})
    """Stands for every ``metadata.<key>`` parameter: the API document names it so, and a
    JSON body's schema (an export's filters) says it as ``patternProperties``."""

    @pre_load
    def _gather_metadata(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        """``metadata.<key>`` names are as many as the events' keys: gathered under the
        one field that stands for them, their keys and values read by the domain."""
        if not isinstance(data, dict):
            return data  # not an object: refused as the schema refuses one
        named = {name: value for name, value in data.items()
                 if isinstance(name, str) and name.startswith(METADATA_FILTER)}
        if not named:
            return data
        rest = {name: value for name, value in data.items() if name not in named}
        return {**rest, METADATA_FILTERS: named}

    @post_load
    def _spread_metadata(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        named = data.pop("metadata", {})
        return {**data, **named}


class EventStatsQuerySchema(EventFiltersSchema):
    """``GET /events/stats`` parameters: the filters, what to count by, how many groups."""

    group_by = fields.String(required=True, metadata={
        "pattern": f"^({'|'.join(GROUPS)}|metadata\\..+)$",
        "description": f"{' | '.join(GROUPS)} | metadata.<key>: an attribute, the UTC day of "
                       f"occurred_at, or a top-level key of the events' metadata"})
    limit = fields.Integer(strict=False, validate=validate.Range(1, MAX_GROUPS),
                           load_default=DEFAULT_GROUPS,
                           metadata={"description": f"groups listed, 1-{MAX_GROUPS}"})

    @validates("group_by")
    def _group(self, value: str, **_: Any) -> None:
        if value in GROUPS:
            return
        if not value.startswith(METADATA_FILTER):
            raise ValidationError(f"Must be one of: {', '.join(GROUPS)}, or metadata.<key> "
                                  f"(a top-level key of the events' metadata).")
        try:
            metadata_group(value)
        except InvalidFilter as exc:
            raise ValidationError(str(exc)) from None


class EventQuerySchema(EventFiltersSchema):
    """``GET /events`` parameters: the filters, and how to page."""

    order = fields.String(validate=validate.OneOf(["asc", "desc"]), load_default="desc")
    limit = fields.Integer(strict=False, validate=validate.Range(1, 100), load_default=50)
    cursor = cursor()
