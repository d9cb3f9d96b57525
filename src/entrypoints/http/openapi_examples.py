"""A request body for each operation that takes one, in the API document.

API explorers (Swagger UI, Redoc, Postman's import) show it and send it as the starting
point of a request, so each is one the API accepts as it stands: a test sends every one to a
fresh workspace and requires it to succeed, and another breaks its fields one at a time.
"""

from __future__ import annotations

from typing import Any

_EVENT = {
    "action": "user.login_failed",
    "actor": {"id": "usr_42", "type": "user", "name": "Jane Roe"},
    "targets": [{"id": "doc_7", "type": "document", "name": "Q3 plan"}],
    "context": {"ip_address": "203.0.113.7", "user_agent": "Mozilla/5.0"},
    "metadata": {"reason": "bad_password", "attempt": 3},
    "occurred_at": "2026-11-26T13:31:45Z",
}

BODIES: dict[str, dict[str, Any]] = {
    "api.ingest_event": _EVENT,
    "api.ingest_batch": {"events": [
        _EVENT,
        {"action": "user.login", "actor": {"id": "usr_42", "type": "user"},
         "context": {"ip_address": "203.0.113.7"}},
        {"action": "admin.user.delete", "actor": {"id": "usr_9", "type": "user"},
         "targets": [{"id": "usr_1", "type": "user"}]},
    ]},
    "api.validate_events": {"events": [_EVENT]},
    "api.update_workspace": {"name": "Acme production", "retention_days": 365,
                             "record_activity": True},
    "api.create_api_key": {"name": "billing-service", "scopes": ["events:write"]},
    "api.roll_api_key": {"expires_in_seconds": 3600},
    "api.create_export": {"format": "ndjson", "gzip": True,
                          "filters": {"action": "user.*", "since": "2026-11-01T00:00:00Z"}},
    "api.create_stream": {"name": "SIEM", "type": "webhook",
                          "config": {"url": "https://siem.example.com/auditrail"},
                          "filter": {"actions": ["user.*", "admin.*"]}},
    "api.update_stream": {"status": "paused"},
    "api.replay_stream": {"from_sequence": 1},
    "api.create_alert_rule": {
        "name": "Brute force", "match": {"actions": ["user.login_failed"]},
        "threshold": {"count": 5, "window_seconds": 60, "group_by": "actor_id"},
        "cooldown_seconds": 900, "notify": {"webhook_url": "https://hooks.example.com/security"}},
    "api.update_alert_rule": {"enabled": False},
    "api.add_witness": {
        "url": "https://witness.example.com",
        "verifier_key": "witness.example.com/acme-auditor+40b0ab47+"
                        "BFIbfA7E+FQKX1cA72OUMmQqeuWFsk2rY448k7mcPGD4"},
    "api.create_viewer_link": {"filters": {"action": "admin.*"}, "expires_in_seconds": 900,
                               "title": "Acme: admin activity"},
}
