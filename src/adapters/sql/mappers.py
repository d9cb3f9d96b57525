"""Data mappers between table rows and domain entities (the domain knows nothing of rows)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.api_keys import ApiKey
from domain.events import Event
from domain.sending import Sending
from domain.workspaces import Workspace


def workspace_row(workspace: Workspace) -> dict[str, Any]:
    return {
        "id": workspace.id, "name": workspace.name, "plan": workspace.plan,
        "rate_limit_per_minute": workspace.custom_rate_limit,
        "ip_allowlist": list(workspace.ip_allowlist),
        "retention_days": workspace.retention_days, "created_at": workspace.created_at,
        "record_activity": workspace.record_activity, "legal_hold": workspace.legal_hold,
        "accepted_actions": workspace.listed_actions,
        "metadata_schemas": workspace.metadata_schemas,
    }


def workspace_from(row: Mapping[Any, Any]) -> Workspace:
    return Workspace(
        id=row["id"], name=row["name"], plan=row["plan"], created_at=row["created_at"],
        custom_rate_limit=row["rate_limit_per_minute"],
        ip_allowlist=tuple(row["ip_allowlist"] or ()), retention_days=row["retention_days"],
        record_activity=bool(row["record_activity"]), legal_hold=bool(row["legal_hold"]),
        accepted_actions=(None if row["accepted_actions"] is None
                          else tuple(row["accepted_actions"])),
        metadata_schemas=row["metadata_schemas"])


def api_key_row(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id, "workspace_id": key.workspace_id, "name": key.name, "prefix": key.prefix,
        "secret_hash": key.secret_hash, "scopes": list(key.scopes),
        "created_at": key.created_at, "expires_at": key.expires_at,
        "revoked_at": key.revoked_at, "last_used_at": key.last_used_at,
    }


def api_key_from(row: Mapping[Any, Any]) -> ApiKey:
    return ApiKey(
        id=row["id"], workspace_id=row["workspace_id"], name=row["name"], prefix=row["prefix"],
        secret_hash=row["secret_hash"], scopes=tuple(row["scopes"]),
        created_at=row["created_at"], expires_at=row["expires_at"],
        revoked_at=row["revoked_at"], last_used_at=row["last_used_at"])


def event_row(event: Event) -> dict[str, Any]:
    return {
        "id": event.id, "workspace_id": event.workspace_id, "status": event.status,
        "sequence": event.sequence, "action": event.action, "occurred_at": event.occurred_at,
        "received_at": event.received_at, "actor_id": event.actor["id"],
        "actor_type": event.actor["type"], "ip_address": event.ip_address,
        "country_code": event.country_code,
        "body": {"actor": event.actor, "targets": event.targets, "context": event.context,
                 "metadata": event.metadata},
        "geo": event.geo, "prev_hash": event.prev_hash, "hash": event.hash,
    }


def event_from(row: Mapping[Any, Any]) -> Event:
    body = row["body"]
    return Event(
        id=row["id"], workspace_id=row["workspace_id"], action=row["action"],
        occurred_at=row["occurred_at"], received_at=row["received_at"], actor=body["actor"],
        targets=body["targets"], context=body["context"], metadata=body["metadata"],
        status=row["status"], geo=row["geo"], sequence=row["sequence"],
        prev_hash=row["prev_hash"], hash=row["hash"])


SENDING_FIELDS = ("failures", "next_attempt_at", "last_error", "last_delivered_at",
                  "failing_since", "leased_until")
"""The columns of a destination's sending state (streams and alert rules alike)."""


def sending_row(sending: Sending) -> dict[str, Any]:
    return {name: getattr(sending, name) for name in SENDING_FIELDS}


def sending_from(row: Mapping[Any, Any]) -> Sending:
    return Sending(**{name: row[name] for name in SENDING_FIELDS})
