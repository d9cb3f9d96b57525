"""Tests swap providers on the container: here the clock, to expire a key over HTTP."""

from __future__ import annotations

from datetime import timedelta

from tests.fakes import FakeClock
from tests.integration.stacks import Stack, bearer


def test_key_expiry_follows_the_injected_clock(stack: Stack) -> None:
    clock = FakeClock()
    with stack.container.clock.override(clock):
        workspace_id, _ = stack.new_workspace()
        issued = stack.container.create_api_key().execute(
            workspace_id, "short-lived", ["events:read"], clock.now() + timedelta(hours=1))
        ok = stack.client.get("/api/v1/events/verify", headers=bearer(issued.secret))
        assert ok.status_code == 200
        clock.advance(hours=1)
        expired = stack.client.get("/api/v1/events/verify", headers=bearer(issued.secret))
        assert expired.status_code == 401


def test_received_at_comes_from_the_injected_clock(stack: Stack) -> None:
    clock = FakeClock()
    with stack.container.clock.override(clock):
        _, secret = stack.new_workspace()
        event_id = stack.client.post("/api/v1/events", headers=bearer(secret), json={
            "action": "a", "actor": {"id": "u", "type": "t"},
            "occurred_at": "2026-11-26T13:04:59Z"}).json["id"]
        event = stack.client.get(f"/api/v1/events/{event_id}", headers=bearer(secret)).json
        assert event["received_at"] == "2026-11-26T13:00:00.000000Z"
        late = stack.client.post("/api/v1/events", headers=bearer(secret), json={
            "action": "a", "actor": {"id": "u", "type": "t"},
            "occurred_at": "2026-11-26T13:05:01Z"})
        assert late.status_code == 422
