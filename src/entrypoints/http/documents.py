"""How entities other than events are shown (events define their own document)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from application.use_cases.check_chains import ChainCheckStatus
from application.use_cases.notify_alerts import SentSample
from application.use_cases.usage import Usage
from domain.alert_rules import AlertRule
from domain.alerts import Alert
from domain.api_keys import ApiKey
from domain.deliveries import DELIVERED, FAILED, Delivery
from domain.exports import Export
from domain.log_witnesses import LogWitness
from domain.metadata_schemas import schemas_of
from domain.sending import Sending
from domain.streams import CREDENTIAL_FIELDS, Stream
from domain.timestamps import format_timestamp
from domain.workspaces import Workspace


def _time(moment: datetime | None) -> str | None:
    return format_timestamp(moment) if moment is not None else None


def workspace_document(workspace: Workspace) -> dict[str, Any]:
    return {"id": workspace.id, "name": workspace.name, "plan": workspace.plan,
            "rate_limit_per_minute": workspace.rate_limit_per_minute,
            "ip_allowlist": list(workspace.ip_allowlist),
            "retention_days": workspace.effective_retention_days,
            "record_activity": workspace.record_activity,
            "legal_hold": workspace.legal_hold,
            "accepted_actions": workspace.listed_actions,
            "metadata_schemas": schemas_of(workspace.metadata_schemas),
            "created_at": _time(workspace.created_at)}


def api_key_document(key: ApiKey) -> dict[str, Any]:
    """Never the secret or its hash; ``prefix`` (first 8 characters) identifies it."""
    return {"id": key.id, "name": key.name, "prefix": key.prefix, "scopes": list(key.scopes),
            "created_at": _time(key.created_at), "expires_at": _time(key.expires_at),
            "revoked_at": _time(key.revoked_at), "last_used_at": _time(key.last_used_at)}


def usage_document(usage: Usage) -> dict[str, Any]:
    return {"plan": usage.plan,
            "rate_limit": {"limit": usage.rate_limit.limit,
                           "remaining": usage.rate_limit.remaining,
                           "reset_seconds": usage.rate_limit.reset_header},
            "events": {"total": usage.total, "pending": usage.pending,
                       "last_24h": usage.last_24h}}


def export_document(export: Export) -> dict[str, Any]:
    return {"id": export.id, "status": export.status, "format": export.format,
            "gzip": export.gzip, "filters": export.filters, "row_count": export.row_count,
            "size_bytes": export.size_bytes, "sha256": export.sha256,
            "created_at": _time(export.created_at), "started_at": _time(export.started_at),
            "completed_at": _time(export.completed_at),
            "expires_at": _time(export.expires_at), "error": export.error,
            "viewer_link_id": export.viewer_link_id}


def stream_document(stream: Stream, credential: str | None = None) -> dict[str, Any]:
    """The credential is write-only: a hint (its last characters) stands for it, and the
    value itself is shown once, in the creation's answer (``credential``)."""
    field = CREDENTIAL_FIELDS[stream.type]
    config: dict[str, Any] = {"url": stream.url, **stream.options,
                              f"{field}_hint": stream.credential_hint}
    if credential is not None:
        config[field] = credential
    return {"id": stream.id, "name": stream.name, "type": stream.type, "config": config,
            "filter": {"actions": list(stream.actions)} if stream.actions is not None else None,
            "batch_seconds": stream.batch_seconds, "status": stream.status,
            "created_at": _time(stream.created_at), "updated_at": _time(stream.updated_at),
            "delivery": {"position": stream.position, "deliveries": stream.deliveries_made,
                         **_sending(stream.sending)}}


def _sending(sending: Sending) -> dict[str, Any]:
    return {"last_delivered_at": _time(sending.last_delivered_at),
            "consecutive_failures": sending.failures,
            "next_attempt_at": _time(sending.next_attempt_at),
            "failing_since": _time(sending.failing_since), "last_error": sending.last_error}


def delivery_document(delivery: Delivery) -> dict[str, Any]:
    return {"id": delivery.id, "kind": delivery.kind, "sequence": delivery.sequence,
            "status": delivery.status, "attempts": delivery.attempts,
            "http_status": delivery.http_status, "event_count": delivery.event_count,
            "first_sequence": delivery.first_sequence, "last_sequence": delivery.last_sequence,
            "error": delivery.error, "created_at": _time(delivery.created_at),
            "last_attempt_at": _time(delivery.last_attempt_at),
            "delivered_at": _time(delivery.delivered_at)}


def witness_document(witness: LogWitness) -> dict[str, Any]:
    sending = witness.sending
    return {"id": witness.id, "name": witness.name, "url": witness.url,
            "verifier_key": witness.verifier_key, "status": witness.status,
            "created_at": _time(witness.created_at),
            "cosigned_size": witness.cosigned_size,
            "cosigned_at": _time(witness.cosigned_at),
            "consecutive_failures": sending.failures,
            "next_attempt_at": _time(sending.next_attempt_at),
            "failing_since": _time(sending.failing_since), "last_error": sending.last_error}


def alert_rule_document(rule: AlertRule, secret: str | None = None) -> dict[str, Any]:
    """The secret is write-only: shown once, in the creation's answer."""
    summary = rule.summary()
    notify: dict[str, Any] = {"webhook_url": rule.webhook_url, "format": rule.notify_format,
                              "secret_hint": rule.credential_hint}
    if secret is not None:
        notify["secret"] = secret
    return {"id": rule.id, "name": rule.name, "enabled": rule.enabled,
            "match": summary["match"], "threshold": summary["threshold"],
            "cooldown_seconds": rule.cooldown_seconds, "notify": notify,
            "created_at": _time(rule.created_at), "updated_at": _time(rule.updated_at),
            "notification": {"status": rule.sending.status,
                             **_sending(rule.sending)}}


def sent_sample_document(sent: SentSample) -> dict[str, Any]:
    return {"alert_id": sent.alert_id, "status": DELIVERED if sent.attempt.ok else FAILED,
            "http_status": sent.attempt.http_status, "error": sent.attempt.error,
            "sent_at": _time(sent.sent_at)}


def alert_document(alert: Alert) -> dict[str, Any]:
    return {**alert.summary(),
            "notification": {"status": alert.status, "attempts": alert.attempts,
                             "last_error": alert.last_error,
                             "last_attempt_at": _time(alert.last_attempt_at),
                             "delivered_at": _time(alert.delivered_at)}}


def chain_check_document(status: ChainCheckStatus) -> dict[str, Any]:
    check = status.check
    return {"status": "checking" if status.checking else "idle",
            "checked_at": _time(check.checked_at), "valid": check.valid,
            "checked": check.checked, "reason": check.reason, "detail": check.detail,
            "first_invalid_sequence": check.first_invalid_sequence,
            "event_id": check.event_id, "invalid_since": _time(check.invalid_since),
            "next_check_at": _time(status.next_check_at)}
