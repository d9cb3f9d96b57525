"""The floor for single-event ingest: a bare WSGI app doing one INSERT per request.

Served by the same gunicorn configuration as Auditrail, it inserts one row shaped like a
pending event into the same ``events`` table, with no framework, no validation and no
authentication. ``bench/ingest.py`` compares ``POST /api/v1/events`` against it.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from datetime import UTC, datetime

import psycopg

_local = threading.local()
_SQL = ("INSERT INTO events (id, workspace_id, status, action, occurred_at, received_at, "
        "actor_id, actor_type, body) VALUES (%s, %s, 'pending', %s, %s, %s, %s, %s, %s)")


def connection() -> psycopg.Connection:
    """This thread's autocommitted connection, opened on first use."""
    if not hasattr(_local, "connection"):
        _local.connection = psycopg.connect(os.environ["BARE_DSN"], autocommit=True)
    return _local.connection


def insert_pending(body: dict) -> str:
    """One autocommitted INSERT of a pending-event row; the new event's id."""
    now = datetime.now(UTC)
    event_id = f"evt_{uuid.uuid4().hex}"
    connection().execute(_SQL, (
        event_id, os.environ["BARE_WORKSPACE"], body["action"], now, now,
        body["actor"]["id"], body["actor"]["type"],
        json.dumps({"actor": body["actor"], "targets": [], "context": {}, "metadata": {}})))
    return event_id


def app(environ, start_response):  # type: ignore[no-untyped-def]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    event_id = insert_pending(json.loads(environ["wsgi.input"].read(length)))
    payload = json.dumps({"id": event_id, "status": "pending"}).encode()
    start_response("202 Accepted", [("Content-Type", "application/json"),
                                    ("Content-Length", str(len(payload)))])
    return [payload]
