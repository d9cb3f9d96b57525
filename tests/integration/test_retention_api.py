"""Retention over HTTP on both stacks: the anchor, counts, tamper detection, export."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from domain.timestamps import format_timestamp
from entrypoints.cli import main
from tests.integration.stacks import Stack, bearer


def test_retention_keeps_an_anchored_verifiable_chain(stack: Stack, tmp_path: Path) -> None:
    workspace_id, secret = stack.new_workspace("R", plan="starter")  # 90 days
    now = datetime.now(UTC)
    bodies = [{"action": "user.login", "actor": {"id": "u", "type": "user"},
               "occurred_at": format_timestamp(now - timedelta(days=days))}
              for days in (200, 150, 100, 10, 5, 120)]
    stack.client.post("/api/v1/events/batch", headers=bearer(secret), json={"events": bodies})
    stack.drain()
    assert stack.container.apply_retention().execute() == 3

    report = stack.client.get("/api/v1/events/verify", headers=bearer(secret)).json
    assert report["valid"] is True and report["checked"] == 3
    assert report["from_sequence"] == 4 and report["anchor"]["sequence"] == 3
    listed = stack.client.get("/api/v1/events?order=asc", headers=bearer(secret)).json
    assert listed["total_count"] == 3
    assert [e["sequence"] for e in listed["data"]] == [6, 4, 5]  # by occurred_at; 6 is old
    # but sits after fresh events in the chain, so only the prefix 1-3 was removed

    stack.sql("UPDATE events SET action = 'user.logout' WHERE workspace_id = :w "
              "AND sequence = 5", w=workspace_id)
    broken = stack.client.get("/api/v1/events/verify", headers=bearer(secret)).json
    assert (broken["valid"], broken["first_invalid_sequence"]) == (False, 5)
    stack.sql("UPDATE events SET action = 'user.login' WHERE workspace_id = :w "
              "AND sequence = 5", w=workspace_id)

    export = stack.client.post("/api/v1/exports", headers=bearer(secret),
                               json={"format": "ndjson"}).json
    stack.drain()
    location = stack.client.get(f"/api/v1/exports/{export['id']}/download",
                                headers=bearer(secret)).headers["Location"]
    data = stack.client.get(location[location.index("/api/"):]).data
    (tmp_path / "retained.ndjson").write_bytes(data)
    result = CliRunner().invoke(main, ["verify", str(tmp_path / "retained.ndjson")])
    assert result.exit_code == 0, result.output
    assert "retention anchor at sequence 3" in result.output
    assert report["anchor"]["hash"] in result.output


def test_retention_reads_each_workspaces_period(stack: Stack) -> None:
    starter, _ = stack.new_workspace("S", plan="starter")
    forever, _ = stack.new_workspace("E")  # enterprise: kept forever unless set
    own, key = stack.new_workspace("O", plan="free")
    assert stack.client.patch("/api/v1/workspace", headers=bearer(key),
                              json={"retention_days": 7}).status_code == 200
    with stack.container.uow(read_only=True) as uow:
        periods = uow.workspaces.retention_periods()
    assert (periods[starter], periods[own]) == (90, 7) and forever not in periods


def test_a_legal_hold_keeps_events_past_retention_until_released(stack: Stack) -> None:
    workspace_id, secret = stack.new_workspace("Held", plan="starter")  # 90 days
    admin = bearer(secret)
    now = datetime.now(UTC)
    stack.client.post("/api/v1/events/batch", headers=admin, json={"events": [
        {"action": "user.login", "actor": {"id": "u", "type": "user"},
         "occurred_at": format_timestamp(now - timedelta(days=days))} for days in (200, 100)]})
    stack.drain()  # sequences 1 and 2: the chain's prefix, which retention removes
    assert stack.client.patch("/api/v1/workspace", headers=admin,
                              json={"record_activity": True}).status_code == 200
    refused = stack.client.patch("/api/v1/workspace", headers=admin,
                                 json={"legal_hold": "yes"})
    assert refused.status_code == 422 and "legal_hold" in str(refused.json["error"])
    held = stack.client.patch("/api/v1/workspace", headers=admin, json={"legal_hold": True})
    assert held.status_code == 200 and held.json["legal_hold"] is True
    assert stack.client.get("/api/v1/workspace", headers=admin).json["legal_hold"] is True
    with stack.container.uow(read_only=True) as uow:
        assert workspace_id not in uow.workspaces.retention_periods()
    stack.container.apply_retention().execute()
    listed = stack.client.get("/api/v1/events?action=user.login", headers=admin).json
    assert listed["total_count"] == 2  # kept, though past the 90 days

    assert stack.client.patch("/api/v1/workspace", headers=admin,
                              json={"legal_hold": False}).json["legal_hold"] is False
    stack.drain()
    stack.container.apply_retention().execute()
    listed = stack.client.get("/api/v1/events?action=user.login", headers=admin).json
    assert listed["total_count"] == 0
    records = stack.client.get("/api/v1/events?action=auditrail.workspace.updated&order=asc",
                               headers=admin).json["data"]
    assert [r["metadata"]["changes"].get("legal_hold") for r in records] == [
        None, {"from": False, "to": True}, {"from": True, "to": False}]
    assert stack.client.get("/api/v1/events/verify", headers=admin).json["valid"] is True
