"""How an event becomes a row of an export file."""

from __future__ import annotations

import json
from typing import Any

from domain.events import Event

CSV_COLUMNS = (
    "id", "sequence", "occurred_at", "received_at", "action", "actor_id", "actor_type",
    "actor_name", "actor_metadata", "targets", "ip_address", "user_agent", "metadata",
    "geo_country_code", "geo_country", "geo_region", "geo_city", "geo_latitude",
    "geo_longitude", "geo_timezone", "workspace_id", "prev_hash", "hash",
)
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def ndjson_line(event: Event) -> bytes:
    """The §5.3 document, exactly as the API returns it, one per line."""
    return json.dumps(event.document(), ensure_ascii=False, separators=(",", ":")).encode() \
        + b"\n"


def csv_row(event: Event) -> list[str]:
    """One flattened row; nested parts as JSON; every cell safe to open in a spreadsheet."""
    document = event.document()
    actor, context, geo = document["actor"], document["context"], document["geo"] or {}
    values: dict[str, Any] = {
        "id": document["id"], "sequence": document["sequence"],
        "occurred_at": document["occurred_at"], "received_at": document["received_at"],
        "action": document["action"], "actor_id": actor["id"], "actor_type": actor["type"],
        "actor_name": actor.get("name"), "actor_metadata": _json(actor.get("metadata")),
        "targets": _json(document["targets"]), "ip_address": context.get("ip_address"),
        "user_agent": context.get("user_agent"), "metadata": _json(document["metadata"]),
        "workspace_id": document["workspace_id"], "prev_hash": document["prev_hash"],
        "hash": document["hash"],
    }
    for key in ("country_code", "country", "region", "city", "latitude", "longitude",
                "timezone"):
        values[f"geo_{key}"] = geo.get(key)
    return [spreadsheet_safe(values[column]) for column in CSV_COLUMNS]


def spreadsheet_safe(value: Any) -> str:
    """Neutralise formula injection: a cell starting with = + - @ tab or CR gets a '."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_TRIGGERS) else text


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False,
                                                 separators=(",", ":"))
