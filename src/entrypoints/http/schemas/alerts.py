"""Alert rule and alert request shapes (contract §7). Shape here; meaning (ranges, patterns,
addresses) in ``domain.alert_rules``, so that one answer names every bad field."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from domain.action_patterns import MAX_PATTERNS
from domain.alert_rules import (
    GROUP_BY,
    MAX_COUNT,
    MAX_LISTED,
    MAX_METADATA_KEYS,
    MAX_SECONDS,
    NOTIFY_FORMATS,
)
from domain.alerts import NOTIFICATION_STATUSES
from domain.event_rules import IDENTIFIER_MAX_LENGTH
from domain.names import NAME_MAX_LENGTH
from entrypoints.http.routes import ID_PATTERN
from entrypoints.http.schemas.json_fields import (
    JsonBoolean,
    action_pattern,
    text,
    timestamp,
    web_address,
)
from entrypoints.http.schemas.workspace import PageQuerySchema


def _listed(description: str, item: fields.String | None = None) -> fields.List:
    return fields.List(item or text(1, IDENTIFIER_MAX_LENGTH), allow_none=True, metadata={
        "minItems": 1, "maxItems": MAX_LISTED, "description": description})


_COUNTRY = fields.String(metadata={"pattern": "^[A-Za-z]{2}$"})


class MatchSchema(Schema):
    actions = fields.List(action_pattern(), required=True, metadata={
        "minItems": 1, "maxItems": MAX_PATTERNS,
        "description": "exact actions, or prefixes like 'admin.*'"})
    actor_ids = _listed("only these actors")
    actor_types = _listed("only actors of these types")
    target_ids = _listed("only events with a target of one of these ids")
    target_types = _listed("only events with a target of one of these types")
    countries = _listed("only events located in these countries (ISO 3166-1 alpha-2)",
                        _COUNTRY)
    countries_not_in = _listed("only events located outside these countries", _COUNTRY)
    # Values are the domain's to check, so that each bad one is named by its key.
    metadata = fields.Dict(keys=fields.String(), values=fields.Raw(), allow_none=True,
                           metadata={"description": (
                               f"only events whose metadata holds, under each of these "
                               f"top-level keys (1-{MAX_METADATA_KEYS}), one of its values "
                               f"(1-{MAX_LISTED} strings, numbers, true, false or null)")})


class ThresholdSchema(Schema):
    count = fields.Integer(required=True, strict=True, metadata={
        "minimum": 1, "maximum": MAX_COUNT, "description": "matching events"})
    window_seconds = fields.Integer(required=True, strict=True, metadata={
        "minimum": 1, "maximum": MAX_SECONDS,
        "description": "within this many seconds by occurred_at"})
    group_by = fields.String(required=True, metadata={"enum": list(GROUP_BY)})


class NotifySchema(Schema):
    webhook_url = web_address("http(s) URL the alert is POSTed to")
    format = fields.String(metadata={"enum": list(NOTIFY_FORMATS),
        "description": f"{' | '.join(NOTIFY_FORMATS)}: the signed JSON document (the default), "
                       f"a chat message for a Slack-compatible incoming webhook or a "
                       f"Microsoft Teams workflow, or a PagerDuty incident (Events API v2)"})
    secret = fields.String(load_only=True, metadata={
        "description": "HMAC signing secret, 16-512 visible ASCII characters (generated when "
                       "left out); for format pagerduty, the integration (routing) key of "
                       "the service to page, required; write-only"})


class _RuleFields(Schema):
    name = text(1, NAME_MAX_LENGTH)
    enabled = JsonBoolean()
    match = fields.Nested(MatchSchema)
    threshold = fields.Nested(ThresholdSchema, allow_none=True)
    cooldown_seconds = fields.Integer(strict=True, metadata={
        "minimum": 0, "maximum": MAX_SECONDS,
        "description": "quiet time per group after an alert, in seconds"})
    notify = fields.Nested(NotifySchema)


class AlertRuleCreateSchema(_RuleFields):
    name = text(1, NAME_MAX_LENGTH, required=True)
    match = fields.Nested(MatchSchema, required=True)
    notify = fields.Nested(NotifySchema, required=True)


class AlertRulePatchSchema(_RuleFields):
    pass


class AlertQuerySchema(PageQuerySchema):
    rule_id = fields.String(validate=validate.Regexp(
        f"^{ID_PATTERN}$", error="Not an alert rule's id, such as alr_01JD6Y3F8C6QZ1N9S6W2X4V7B0."))
    group_key = fields.String(validate=validate.Length(min=1, max=300), metadata={
        "description": "alerts of one group, exactly as they name it: actor_id:usr_42, "
                       "ip_address:203.0.113.7 or workspace"})
    since = timestamp("triggered_at >= since")
    until = timestamp("triggered_at < until")
    notification_status = fields.String(
        validate=validate.OneOf(NOTIFICATION_STATUSES),
        metadata={"description": "alerts whose notification is pending (not yet accepted "
                                 "by the receiver), delivered, or cancelled (its rule "
                                 "deleted first)"})
