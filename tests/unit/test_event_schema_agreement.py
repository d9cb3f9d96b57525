"""The marshmallow EventSchema (the documented shape) and the domain rules must agree."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from marshmallow import ValidationError

from domain.event_rules import body_violations
from entrypoints.http.schemas.events import EventSchema

NOW = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)
BASE = {"action": "user.login", "actor": {"id": "u", "type": "user"}}

VALID = [
    BASE,
    {**BASE, "occurred_at": "2026-11-26T12:00:00Z", "targets": [],
     "context": {}, "metadata": {}},
    {**BASE, "actor": {"id": "u", "type": "t", "name": "N", "metadata": {"a": [1, {"b": 2}]}},
     "targets": [{"id": "d", "type": "doc", "name": "x", "metadata": {}}],
     "context": {"ip_address": "2001:db8::1", "user_agent": "curl"}},
]
INVALID = [
    {}, {"action": "a"}, {"actor": {"id": "u", "type": "t"}},
    {**BASE, "extra": 1}, {**BASE, "actor": {"id": "u", "type": "t", "extra": 1}},
    {**BASE, "context": {"ip": "1.2.3.4"}}, {**BASE, "targets": {"id": "x"}},
    {**BASE, "targets": [{"id": "x"}]}, {**BASE, "metadata": []}, {**BASE, "metadata": None},
    {**BASE, "action": 7}, {**BASE, "actor": "usr_1"}, {**BASE, "occurred_at": 17},
    {**BASE, "actor": {"id": "", "type": "t"}}, {**BASE, "actor": {"id": "x" * 257, "type": "t"}},
    {**BASE, "targets": [{"id": "x", "type": "t"}] * 51},
    {**BASE, "context": {"user_agent": "x" * 1025}},
]


def schema_accepts(body: dict[str, Any]) -> bool:
    try:
        EventSchema().load(body)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("body", VALID)
def test_both_accept_valid_events(body: dict[str, Any]) -> None:
    assert body_violations(body, NOW) == []
    assert schema_accepts(body)


@pytest.mark.parametrize("body", INVALID)
def test_both_reject_malformed_events(body: dict[str, Any]) -> None:
    assert body_violations(body, NOW) != []
    assert not schema_accepts(body)
