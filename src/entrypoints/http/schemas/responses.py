"""Response shapes, for the API document. The documents themselves are built by the
domain (``Event.document``) and ``http.documents``; schemathesis checks in CI that every
response the API gives matches what these schemas say."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from domain.alert_rules import GROUP_BY, NOTIFY_FORMATS
from domain.alerts import NOTIFICATION_STATUSES
from domain.deliveries import EVENTS, TEST
from domain.deliveries import STATUSES as DELIVERY_STATUSES
from domain.log_witnesses import STATUSES as WITNESS_STATUSES
from domain.streams import STATUSES as STREAM_STATUSES
from domain.streams import TYPES
from domain.verification import DETAILS, REASONS


class ErrorDetailSchema(Schema):
    field = fields.String(required=True)
    message = fields.String(required=True)


class ErrorBodySchema(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    details = fields.List(fields.Nested(ErrorDetailSchema))
    request_id = fields.String(required=True)


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBodySchema, required=True)


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
    occurred_at = fields.String(required=True)
    received_at = fields.String(required=True)
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


class AnchorSchema(Schema):
    sequence = fields.Integer(required=True)
    hash = fields.String(required=True)


class StatsGroupSchema(Schema):
    value = fields.String(required=True, allow_none=True, metadata={
        "description": "the attribute's value (YYYY-MM-DD for a day); null for events "
                       "without one"})
    count = fields.Integer(required=True)


class EventStatsSchema(Schema):
    group_by = fields.String(required=True)
    total = fields.Integer(required=True, metadata={"description": "events matching the "
                                                                   "filters, in all groups"})
    groups = fields.List(fields.Nested(StatsGroupSchema), required=True, metadata={
        "description": "the largest groups, most events first (days: the latest first)"})
    other = fields.Integer(required=True, metadata={
        "description": "matching events in groups not listed"})


class ChainCheckSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(("checking", "idle")),
                           metadata={"description": "checking: a check is queued or "
                                                    "running"})
    checked_at = fields.String(allow_none=True, metadata={
        "description": "when the latest check ended (null: never checked yet)"})
    valid = fields.Boolean(allow_none=True)
    checked = fields.Integer(required=True, metadata={
        "description": "events the latest check recomputed (up to the invalid one)"})
    reason = fields.String(allow_none=True, validate=validate.OneOf(REASONS))
    detail = fields.String(allow_none=True, validate=validate.OneOf(DETAILS))
    first_invalid_sequence = fields.Integer(allow_none=True)
    event_id = fields.String(allow_none=True)
    invalid_since = fields.String(allow_none=True, metadata={
        "description": "when checks began to find the chain invalid"})
    next_check_at = fields.String(allow_none=True, metadata={
        "description": "when the schedule checks it next (null: checks off, or none yet)"})


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
    created_at = fields.String(required=True)


class ApiKeyOutSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    prefix = fields.String(required=True)
    scopes = fields.List(fields.String(), required=True)
    created_at = fields.String(required=True)
    expires_at = fields.String(required=True, allow_none=True)
    revoked_at = fields.String(required=True, allow_none=True)
    last_used_at = fields.String(required=True, allow_none=True)


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


class ExportOutSchema(Schema):
    id = fields.String(required=True)
    status = fields.String(required=True)
    format = fields.String(required=True)
    gzip = fields.Boolean(required=True)
    filters = fields.Dict(required=True)
    row_count = fields.Integer(required=True, allow_none=True)
    size_bytes = fields.Integer(required=True, allow_none=True)
    sha256 = fields.String(required=True, allow_none=True)
    created_at = fields.String(required=True)
    started_at = fields.String(required=True, allow_none=True)
    completed_at = fields.String(required=True, allow_none=True)
    expires_at = fields.String(required=True, allow_none=True)
    error = fields.String(required=True, allow_none=True)
    viewer_link_id = fields.String(required=True, allow_none=True, metadata={
        "description": "The viewer link it was asked for through; null for an API key's"})


class StreamConfigOutSchema(Schema):
    url = fields.String(required=True)
    secret_hint = fields.String(metadata={"description": "webhook: the secret's last "
                                                        "characters"})
    token_hint = fields.String(metadata={"description": "splunk_hec"})
    api_key_hint = fields.String(metadata={"description": "datadog"})
    region = fields.String(metadata={"description": "s3"})
    access_key_id = fields.String(metadata={"description": "s3"})
    secret_access_key_hint = fields.String(metadata={"description": "s3"})


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
    last_delivered_at = fields.String(required=True, allow_none=True)
    consecutive_failures = fields.Integer(required=True)
    next_attempt_at = fields.String(required=True, allow_none=True)
    failing_since = fields.String(required=True, allow_none=True)
    last_error = fields.String(required=True, allow_none=True)


class StreamOutSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    type = fields.String(required=True, validate=validate.OneOf(TYPES))
    config = fields.Nested(StreamConfigOutSchema, required=True)
    filter = fields.Nested(StreamFilterOutSchema, required=True, allow_none=True)
    batch_seconds = fields.Integer(required=True, allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(STREAM_STATUSES))
    created_at = fields.String(required=True)
    updated_at = fields.String(required=True)
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
    created_at = fields.String(required=True)
    last_attempt_at = fields.String(required=True, allow_none=True)
    delivered_at = fields.String(required=True, allow_none=True)


class SendingSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["active", "failing"]))
    last_delivered_at = fields.String(required=True, allow_none=True)
    consecutive_failures = fields.Integer(required=True)
    next_attempt_at = fields.String(required=True, allow_none=True)
    failing_since = fields.String(required=True, allow_none=True)
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


class AlertRuleOutSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    enabled = fields.Boolean(required=True)
    match = fields.Nested(MatchOutSchema, required=True)
    threshold = fields.Nested(ThresholdOutSchema, required=True, allow_none=True)
    cooldown_seconds = fields.Integer(required=True)
    notify = fields.Nested(NotifyOutSchema, required=True)
    created_at = fields.String(required=True)
    updated_at = fields.String(required=True)
    notification = fields.Nested(SendingSchema, required=True, metadata={
        "description": "how sending this rule's alerts goes: failing after 5 failed "
                       "attempts in a row"})


class AlertRuleCreatedSchema(AlertRuleOutSchema):
    notify = fields.Nested(NotifyCreatedSchema, required=True)


class AlertNotificationSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(NOTIFICATION_STATUSES))
    attempts = fields.Integer(required=True)
    last_error = fields.String(required=True, allow_none=True)
    last_attempt_at = fields.String(required=True, allow_none=True)
    delivered_at = fields.String(required=True, allow_none=True)


class AlertOutSchema(Schema):
    id = fields.String(required=True)
    rule_id = fields.String(required=True)
    group_key = fields.String(required=True)
    count = fields.Integer(required=True)
    event_ids = fields.List(fields.String(), required=True)
    triggered_at = fields.String(required=True)
    notification = fields.Nested(AlertNotificationSchema, required=True)


class AlertTestOutSchema(Schema):
    alert_id = fields.String(required=True, metadata={
        "description": "the sample alert's id, sent as Auditrail-Delivery-Id; not recorded"})
    status = fields.String(required=True, validate=validate.OneOf(["delivered", "failed"]))
    http_status = fields.Integer(required=True, allow_none=True)
    error = fields.String(required=True, allow_none=True)
    sent_at = fields.String(required=True)


class PreviousLogKeySchema(Schema):
    key_id = fields.String(required=True, metadata={"description": "8 hex digits"})
    public_key = fields.String(required=True, metadata={"description": "base64, 32 bytes"})
    verifier_key = fields.String(required=True)
    rotation = fields.String(required=True, metadata={
        "description": "a signed note by this key: <origin>, 'key rotation', its "
                       "successor's verifier key (the current key, or the next previous "
                       "one), one a line"})


class LogKeySchema(Schema):
    origin = fields.String(required=True)
    key_name = fields.String(required=True)
    key_id = fields.String(required=True, metadata={"description": "8 hex digits"})
    algorithm = fields.String(required=True, validate=validate.OneOf(["ed25519"]))
    public_key = fields.String(required=True, metadata={"description": "base64, 32 bytes"})
    verifier_key = fields.String(required=True, metadata={
        "description": "signed-note form: <name>+<key id>+<base64(0x01 || key)>"})
    previous_keys = fields.List(fields.Nested(PreviousLogKeySchema), required=True, metadata={
        "description": "keys this one replaced (rotation): those still configured first "
                       "(they co-sign checkpoints), then those whose rotation notes were "
                       "kept; each note names its successor, so a chain of them leads from "
                       "any of these keys to this one"})


class CheckpointOutSchema(Schema):
    tree_size = fields.Integer(required=True)
    root_hash = fields.String(required=True, metadata={"description": "base64"})
    created_at = fields.String(required=True)
    note = fields.String(required=True, metadata={"description": "the signed note"})


class InclusionProofSchema(Schema):
    event_id = fields.String(required=True)
    leaf_index = fields.Integer(required=True)
    leaf_hash = fields.String(required=True)
    tree_size = fields.Integer(required=True)
    root_hash = fields.String(required=True)
    inclusion_path = fields.List(fields.String(), required=True, metadata={
        "description": "RFC 9162 order, leaf to root, base64"})
    checkpoint = fields.String(required=True)


class ConsistencyProofSchema(Schema):
    from_size = fields.Integer(required=True)
    to_size = fields.Integer(required=True)
    from_root = fields.String(required=True)
    to_root = fields.String(required=True)
    proof = fields.List(fields.String(), required=True)


class EvidenceSchema(Schema):
    export_id = fields.String(required=True)
    origin = fields.String(required=True)
    verifier_key = fields.String(required=True)
    first_sequence = fields.Integer(required=True)
    last_sequence = fields.Integer(required=True)
    row_count = fields.Integer(required=True)
    file_sha256 = fields.String(required=True)
    checkpoint = fields.String(required=True, metadata={
        "description": "signed at exactly last_sequence"})
    frontier = fields.List(fields.String(), metadata={
        "description": "unfiltered exports: the compact range of the tree before the first "
                       "row"})
    proofs = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), metadata={
        "description": "filtered exports: each row's inclusion path in the checkpoint's "
                       "tree"})
    rotations = fields.List(fields.String(), metadata={
        "description": "when the log's key replaced others: their rotation notes, which "
                       "lead a verifier key pinned before a rotation to the key that signed "
                       "the checkpoint"})
    cosigned = fields.Nested(Schema.from_dict({
        "checkpoint": fields.String(required=True, metadata={
            "description": "the newest checkpoint every witness of the log cosigned, with "
                           "their cosignature lines"}),
        "consistency": fields.List(fields.String(), required=True, metadata={
            "description": "the consistency proof from checkpoint to it"})},
        name="CosignedEvidence"), metadata={
        "description": "when the log has witnesses and they cosigned a checkpoint covering "
                       "the export"})


class LogWitnessOutSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True, metadata={"description": "the witness key's name"})
    url = fields.String(required=True)
    verifier_key = fields.String(required=True, metadata={"description": "its cosigner key"})
    status = fields.String(required=True, validate=validate.OneOf(WITNESS_STATUSES), metadata={
        "description": "pending (nothing cosigned yet), ok, failing (after 5 failed "
                       "submissions in a row), refused (it refused to cosign: the log's "
                       "checkpoint does not extend the one it holds)"})
    created_at = fields.String(required=True)
    cosigned_size = fields.Integer(required=True, allow_none=True, metadata={
        "description": "the size of the latest checkpoint it cosigned"})
    cosigned_at = fields.String(required=True, allow_none=True)
    consecutive_failures = fields.Integer(required=True)
    next_attempt_at = fields.String(required=True, allow_none=True)
    failing_since = fields.String(required=True, allow_none=True)
    last_error = fields.String(required=True, allow_none=True)


def page_of(item: type[Schema], name: str) -> type[Schema]:
    """The §5.6 page of ``item``s."""
    return Schema.from_dict({
        "data": fields.List(fields.Nested(item), required=True),
        "has_more": fields.Boolean(required=True),
        "next_cursor": fields.String(),
        "total_count": fields.Integer(required=True),
    }, name=name)


EventPageSchema = page_of(EventOutSchema, "EventPage")
ApiKeyPageSchema = page_of(ApiKeyOutSchema, "ApiKeyPage")
ExportPageSchema = page_of(ExportOutSchema, "ExportPage")
StreamPageSchema = page_of(StreamOutSchema, "StreamPage")
DeliveryPageSchema = page_of(DeliveryOutSchema, "DeliveryPage")
AlertRulePageSchema = page_of(AlertRuleOutSchema, "AlertRulePage")
AlertPageSchema = page_of(AlertOutSchema, "AlertPage")
CheckpointPageSchema = page_of(CheckpointOutSchema, "CheckpointPage")
LogWitnessPageSchema = page_of(LogWitnessOutSchema, "LogWitnessPage")
