"""Alert rules, the alerts they trigger and how sending them goes (contract §7)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from domain.alert_rules import GROUP_BY, NOTIFY_FORMATS
from domain.alerts import NOTIFICATION_STATUSES
from entrypoints.http.schemas.json_fields import timestamp
from entrypoints.http.schemas.responses.pages import page_of


class SendingSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["active", "failing"]))
    last_delivered_at = timestamp(required=True, allow_none=True)
    consecutive_failures = fields.Integer(required=True)
    next_attempt_at = timestamp(required=True, allow_none=True)
    failing_since = timestamp(required=True, allow_none=True)
    last_error = fields.String(required=True, allow_none=True)


class MatchOutSchema(Schema):
    actions = fields.List(fields.String(), required=True)
    actor_ids = fields.List(fields.String())
    actor_types = fields.List(fields.String())
    target_ids = fields.List(fields.String())
    target_types = fields.List(fields.String())
    countries = fields.List(fields.String())
    countries_not_in = fields.List(fields.String())
    metadata = fields.Dict(keys=fields.String(), values=fields.List(fields.Raw()))


class ThresholdOutSchema(Schema):
    count = fields.Integer(required=True)
    window_seconds = fields.Integer(required=True)
    group_by = fields.String(required=True, validate=validate.OneOf(GROUP_BY))


class NotifyOutSchema(Schema):
    webhook_url = fields.String(required=True)
    format = fields.String(required=True, validate=validate.OneOf(NOTIFY_FORMATS))
    secret_hint = fields.String(required=True)


class NotifyCreatedSchema(NotifyOutSchema):
    secret = fields.String(required=True, metadata={"description": "shown once, here"})


class RuleSummarySchema(Schema):
    """What a rule matches and counts: its notifications carry this much of it."""

    id = fields.String(required=True)
    name = fields.String(required=True)
    match = fields.Nested(MatchOutSchema, required=True)
    threshold = fields.Nested(ThresholdOutSchema, required=True, allow_none=True)
    cooldown_seconds = fields.Integer(required=True)


class AlertRuleOutSchema(RuleSummarySchema):
    enabled = fields.Boolean(required=True)
    notify = fields.Nested(NotifyOutSchema, required=True)
    created_at = timestamp(required=True)
    updated_at = timestamp(required=True)
    notification = fields.Nested(SendingSchema, required=True, metadata={
        "description": "how sending this rule's alerts goes: failing after 5 failed "
                       "attempts in a row"})


class AlertRuleCreatedSchema(AlertRuleOutSchema):
    notify = fields.Nested(NotifyCreatedSchema, required=True)


class AlertNotificationSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(NOTIFICATION_STATUSES))
    attempts = fields.Integer(required=True)
    last_error = fields.String(required=True, allow_none=True)
    last_attempt_at = timestamp(required=True, allow_none=True)
    delivered_at = timestamp(required=True, allow_none=True)


class AlertSummarySchema(Schema):
    """What triggered: its notification carries this much of the alert."""

    id = fields.String(required=True)
    rule_id = fields.String(required=True)
    group_key = fields.String(required=True)
    count = fields.Integer(required=True)
    event_ids = fields.List(fields.String(), required=True)
    triggered_at = timestamp(required=True)


class AlertOutSchema(AlertSummarySchema):
    notification = fields.Nested(AlertNotificationSchema, required=True)


class AlertTestOutSchema(Schema):
    alert_id = fields.String(required=True, metadata={
        "description": "the sample alert's id, sent as Auditrail-Delivery-Id; not recorded"})
    status = fields.String(required=True, validate=validate.OneOf(["delivered", "failed"]))
    http_status = fields.Integer(required=True, allow_none=True)
    error = fields.String(required=True, allow_none=True)
    sent_at = timestamp(required=True)


AlertRulePageSchema = page_of(AlertRuleOutSchema, "AlertRulePage")


AlertPageSchema = page_of(AlertOutSchema, "AlertPage")
