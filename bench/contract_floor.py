"""The contract's floor for single-event ingest: the least a Flask endpoint must do per
request to honour the contract, and nothing else.

``flask_floor.py`` plus only what the contract requires a single ``POST /events`` to cost
outside the server process: the shared per-workspace rate limit (contract §4: "shared by
all server processes, counted per request", so one Redis round trip, the same GCRA script
as Auditrail's), the ``X-RateLimit-*`` and ``X-Request-Id`` headers (§1, §4) and the
event stored findable by target and action prefix (§5.4: the same single statement
writing the row and its search terms). The key is checked against one hash held in
memory (Auditrail's cached-key path); the body is not validated, nothing is logged or
counted. ``bench/ingest.py`` prints its ratio to the bare endpoint: about the most a Flask
implementation of the contract could reach on this machine.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import secrets
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import redis
from bare_app import connection
from flask import Flask, jsonify, request

from adapters.redis_store.rate_limiter import GCRA_SCRIPT
from domain.event_search import action_term

LIMIT = 1_000_000
_KEY_HASH = hashlib.sha256(os.environ.get("BARE_KEY", "none").encode()).hexdigest()
_PREFIX = os.environ.get("BARE_RATE_PREFIX", "auditrail-contract-floor:")
_SQL = (
    "WITH new_event AS (INSERT INTO events (id, workspace_id, status, action, occurred_at, "
    "received_at, actor_id, actor_type, ip_address, body) "
    "VALUES (%s, %s, 'pending', %s, %s, %s, %s, %s, %s, %s)) "
    "INSERT INTO event_terms (workspace_id, term, occurred_at, event_id) VALUES ")
_local = threading.local()
_redis = redis.Redis.from_url(os.environ.get("BARE_REDIS", "redis://127.0.0.1:6379/0"))
_script = _redis.register_script(GCRA_SCRIPT)

app = Flask(__name__)


@app.post("/")
def ingest() -> Any:
    _, _, secret = request.headers.get("Authorization", "").partition(" ")
    if not hmac.compare_digest(hashlib.sha256(secret.encode()).hexdigest(), _KEY_HASH):
        return jsonify({"error": {"code": "unauthenticated"}}), 401
    headers = _rate_limit()
    event_id = _insert(request.get_json())
    response = jsonify({"id": event_id, "status": "pending"})
    response.headers.update(headers)
    response.headers["X-Request-Id"] = f"req_{secrets.token_hex(13)}"
    return response, 202


def _rate_limit() -> dict[str, str]:
    """One round trip to the shared limiter, and the headers its answer gives."""
    workspace = os.environ["BARE_WORKSPACE"]
    _, stored, now, _ = _script(keys=[_PREFIX + workspace, _PREFIX + "credentials-version"],
                                args=[LIMIT, 1, "", "v1"], client=_client())
    interval, now = 60 / LIMIT, float(now)
    owed = max(float(stored or now), now) + interval - now  # seconds until the budget is full
    return {"X-RateLimit-Limit": str(LIMIT),
            "X-RateLimit-Remaining": str(max(0, math.floor((60 - owed) / interval))),
            "X-RateLimit-Reset": str(math.ceil(owed))}


def _client() -> redis.Redis:
    if not hasattr(_local, "redis"):
        _local.redis = redis.Redis(connection_pool=_redis.connection_pool,
                                   single_connection_client=True)
    return _local.redis


def _insert(body: dict) -> str:
    """The event and its search terms (action prefixes, target ids and types) in one
    autocommitted statement, as Auditrail stores a single event."""
    now = datetime.now(UTC)
    event_id = f"evt_{uuid.uuid4().hex}"
    workspace = os.environ["BARE_WORKSPACE"]
    segments = body["action"].split(".")
    terms = {action_term(".".join(segments[:n]) + ".") for n in range(1, len(segments))}
    for target in body.get("targets", []):
        terms.update((f"target_id:{target['id']}", f"target_type:{target['type']}"))
    context = body.get("context", {})
    parameters: list[Any] = [
        event_id, workspace, body["action"], now, now, body["actor"]["id"],
        body["actor"]["type"], context.get("ip_address"),
        json.dumps({"actor": body["actor"], "targets": body.get("targets", []),
                    "context": context, "metadata": body.get("metadata", {})})]
    for term in sorted(terms):
        parameters.extend((workspace, term, now, event_id))
    connection().execute(_SQL + ", ".join(["(%s, %s, %s, %s)"] * len(terms)), parameters)
    return event_id
