"""How entities other than events are shown (events define their own document)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from application.use_cases.usage import Usage
from domain.api_keys import ApiKey
from domain.exports import Export
from domain.timestamps import format_timestamp
from domain.workspaces import Workspace


def _time(moment: datetime | None) -> str | None:
    return format_timestamp(moment) if moment is not None else None


def workspace_document(workspace: Workspace) -> dict[str, Any]:
    return {"id": workspace.id, "name": workspace.name, "plan": workspace.plan,
            "rate_limit_per_minute": workspace.rate_limit_per_minute,
            "ip_allowlist": list(workspace.ip_allowlist),
            "retention_days": workspace.effective_retention_days,
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
            "expires_at": _time(export.expires_at), "error": export.error}
