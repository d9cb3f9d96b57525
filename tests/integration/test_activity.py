"""A workspace's records of changes to itself, over HTTP on both stacks: written with each
change, linked into the chain, verified, alerted on and streamed like any event, and never
forgeable by a client."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from domain.cosignatures import cosigner_key
from tests.integration.stacks import Stack, bearer
from tests.receivers import Answer, receiver, signature_valid

SECRET = "whsec_activity_secret_0123456789abcdef"
WITNESS_KEY = cosigner_key("witness.example/w", bytes(range(32)))


@pytest.fixture(params=["embedded", "production"])
def stack(request: pytest.FixtureRequest, stack_factory: Any) -> Stack:
    return stack_factory(request.param, allow_private_destinations=True,
                         stream_batch_seconds=0.0)


def call(stack: Stack, method: str, path: str, key: str, body: Any = None) -> Any:
    response = stack.client.open(f"/api/v1{path}", method=method, headers={
        **bearer(key), "User-Agent": "activity-test/1.0"}, json=body)
    assert response.status_code < 300, (path, response.status_code, response.json)
    return response.json


def records(stack: Stack, key: str) -> list[dict[str, Any]]:
    return call(stack, "GET", "/events?action=auditrail.*&order=asc&limit=100", key)["data"]


def test_every_change_through_the_api_is_recorded_linked_and_verified(stack: Stack) -> None:
    workspace_id, admin = stack.new_workspace()
    admin_id = call(stack, "GET", "/api-keys", admin)["data"][0]["id"]
    assert call(stack, "GET", "/workspace", admin)["record_activity"] is False
    assert call(stack, "PATCH", "/workspace", admin,
                {"record_activity": True})["record_activity"] is True
    key = call(stack, "POST", "/api-keys", admin, {"name": "ci", "scopes": ["events:write"]})
    call(stack, "DELETE", f"/api-keys/{key['id']}", admin)
    with receiver() as hook:
        rule = call(stack, "POST", "/alert-rules", admin, {
            "name": "keys", "match": {"actions": ["auditrail.api_key.*"]},
            "notify": {"webhook_url": hook.url, "secret": SECRET}})
        call(stack, "PATCH", f"/alert-rules/{rule['id']}", admin, {"cooldown_seconds": 0})
        stream = call(stack, "POST", "/streams", admin, {
            "name": "SIEM", "type": "webhook", "config": {"url": hook.url}})
        link = call(stack, "POST", "/viewer-links", admin,
                    {"filters": {}, "expires_in_seconds": 900, "allow_export": True})
        export = call(stack, "POST", "/exports", admin, {"format": "ndjson"})
        witness = call(stack, "POST", "/log/witnesses", admin, {
            "url": "http://127.0.0.1:9/", "verifier_key": WITNESS_KEY})
        call(stack, "DELETE", f"/log/witnesses/{witness['id']}", admin)
        call(stack, "DELETE", f"/viewer-links/{link['id']}", admin)
        call(stack, "DELETE", f"/streams/{stream['id']}", admin)
        call(stack, "DELETE", f"/alert-rules/{rule['id']}", admin)
        stack.drain()
    found = records(stack, admin)
    assert [(event["action"], event["targets"][0]["id"]) for event in found] == [
        ("auditrail.workspace.updated", workspace_id),
        ("auditrail.api_key.created", key["id"]), ("auditrail.api_key.revoked", key["id"]),
        ("auditrail.alert_rule.created", rule["id"]),
        ("auditrail.alert_rule.updated", rule["id"]),
        ("auditrail.log_stream.created", stream["id"]),
        ("auditrail.viewer_link.created", link["id"]), ("auditrail.export.created", export["id"]),
        ("auditrail.log_witness.added", witness["id"]),
        ("auditrail.log_witness.removed", witness["id"]),
        ("auditrail.viewer_link.revoked", link["id"]),
        ("auditrail.log_stream.deleted", stream["id"]),
        ("auditrail.alert_rule.deleted", rule["id"])]
    for event in found:
        assert event["status"] == "processed" and event["sequence"] is not None
        assert event["actor"] == {"id": admin_id, "type": "api_key", "name": "admin"}
        assert event["context"] == {"ip_address": "127.0.0.1",
                                    "user_agent": "activity-test/1.0"}
    assert found[1]["metadata"] == {"scopes": ["events:write"], "prefix": key["prefix"],
                                    "expires_at": None}
    assert found[5]["metadata"]["sends_to"] == "127.0.0.1"
    assert found[8]["metadata"] == {"verifier_key": WITNESS_KEY, "submits_to": "127.0.0.1"}
    assert [event["sequence"] for event in found] == list(range(1, 14))
    verified = call(stack, "GET", "/events/verify", admin)
    assert verified["valid"] is True and verified["checked"] == 13


def test_an_alert_rule_on_changes_and_a_stream_see_records_as_events(stack: Stack) -> None:
    """What the records are for: a key issued outside the usual process pages someone."""
    _, admin = stack.new_workspace()
    call(stack, "PATCH", "/workspace", admin, {"record_activity": True})
    with receiver() as alerted, receiver() as siem:
        call(stack, "POST", "/alert-rules", admin, {
            "name": "admin keys", "match": {"actions": ["auditrail.api_key.created"]},
            "notify": {"webhook_url": alerted.url, "secret": SECRET}})
        call(stack, "POST", "/streams", admin, {
            "name": "SIEM", "type": "webhook", "config": {"url": siem.url, "secret": SECRET}})
        key = call(stack, "POST", "/api-keys", admin, {"name": "x", "scopes": ["admin"]})
        assert stack.deliver_until(lambda: alerted.requests and siem.bodies())
        [notification] = alerted.requests
    assert signature_valid(SECRET, notification)
    body = notification.json()
    assert body["type"] == "alert.triggered"
    [event] = body["events"]
    assert (event["action"], event["targets"][0]["id"]) == ("auditrail.api_key.created",
                                                            key["id"])
    assert event["metadata"]["scopes"] == ["admin"]
    streamed = [event["action"] for batch in siem.bodies() for event in batch["events"]]
    assert "auditrail.api_key.created" in streamed


@pytest.mark.parametrize("action", ["auditrail.api_key.revoked", "AUDITRAIL.workspace.x"])
def test_clients_cannot_send_records_of_their_own(stack: Stack, action: str) -> None:
    _, admin = stack.new_workspace()
    event = {"action": action, "actor": {"id": "u1", "type": "user"}}
    single = stack.client.post("/api/v1/events", headers=bearer(admin), json=event)
    batch = stack.client.post("/api/v1/events/batch", headers=bearer(admin),
                              json={"events": [{**event, "action": "user.login"}, event]})
    assert single.status_code == batch.status_code == 422
    assert single.json["error"]["details"][0]["field"] == "action"
    assert "reserved" in single.json["error"]["details"][0]["message"]
    assert [d["field"] for d in batch.json["error"]["details"]] == ["events[1].action"]
    assert call(stack, "GET", "/usage", admin)["events"]["total"] == 0


def test_a_workspace_not_recording_writes_nothing_and_a_viewer_link_is_named(
        stack: Stack) -> None:
    _, admin = stack.new_workspace()
    call(stack, "POST", "/api-keys", admin, {"name": "ci", "scopes": ["events:write"]})
    stack.drain()
    assert call(stack, "GET", "/usage", admin)["events"]["total"] == 0
    call(stack, "PATCH", "/workspace", admin, {"record_activity": True})
    link = call(stack, "POST", "/viewer-links", admin, {
        "filters": {"action": "user.*"}, "expires_in_seconds": 900, "allow_export": True,
        "title": "Acme's auditors"})
    token = link["url"].split("token=")[1].split("&")[0]
    call(stack, "POST", "/exports", token, {"format": "csv", "filters": {}})
    stack.drain()
    exported = records(stack, admin)[-1]
    assert exported["action"] == "auditrail.export.created"
    assert exported["actor"] == {"id": link["id"], "type": "viewer_link",
                                 "name": "Acme's auditors"}
    assert exported["metadata"] == {"format": "csv", "filters": {"action": "user.*"}}


def test_the_setting_is_strict(stack: Stack) -> None:
    _, admin = stack.new_workspace()
    refused = stack.client.patch("/api/v1/workspace", headers=bearer(admin),
                                 json={"record_activity": "yes"})
    assert refused.status_code == 422
    assert refused.json["error"]["details"][0]["field"] == "record_activity"


def test_operators_changes_on_the_command_line_are_recorded_as_the_operators(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from entrypoints.cli import main
    from tests.integration.stacks import embedded_stack
    monkeypatch.setenv("AUDITRAIL_DATA_DIR", str(tmp_path / "var"))
    for name in ("DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(f"AUDITRAIL_{name}", raising=False)
    monkeypatch.setenv("USER", "ops-alice")
    monkeypatch.setenv("LOGNAME", "ops-alice")
    stack = embedded_stack(tmp_path / "var")
    try:
        runner = CliRunner()
        created = runner.invoke(main, ["workspaces", "create", "--name", "Ops",
                                       "--plan", "enterprise", "--record-activity", "--json"])
        assert created.exit_code == 0, created.output
        workspace_id, admin = json.loads(created.output).values()
        listed = runner.invoke(main, ["workspaces", "list", "--json"])
        assert json.loads(listed.output)["record_activity"] is True
        made = runner.invoke(main, ["keys", "create", "--workspace", workspace_id,
                                    "--scopes", "events:read", "--json"])
        assert made.exit_code == 0, made.output
        read_key = json.loads(runner.invoke(main, ["keys", "list", "--workspace", workspace_id,
                                                   "--json"]).output.splitlines()[0])["id"]
        rolled = runner.invoke(main, ["keys", "roll", read_key, "--workspace", workspace_id])
        assert rolled.exit_code == 0, rolled.output
        plan = runner.invoke(main, ["workspaces", "update", workspace_id, "--plan", "pro"])
        assert plan.exit_code == 0, plan.output
        assert plan.output.endswith("1000 requests/min, records changes\n")
        stop = runner.invoke(main, ["workspaces", "update", workspace_id,
                                    "--no-record-activity"])
        assert stop.output.endswith("records no changes\n"), stop.output
        unseen = runner.invoke(main, ["workspaces", "update", workspace_id, "--plan", "free"])
        assert unseen.exit_code == 0, unseen.output
        stack.drain()
        found = records(stack, admin)
    finally:
        stack.close()
    operator = {"id": "operator", "type": "operator", "name": "ops-alice"}
    assert [(event["action"], event["actor"]) for event in found] == [
        ("auditrail.workspace.created", operator), ("auditrail.api_key.created", operator),
        ("auditrail.api_key.created", operator), ("auditrail.api_key.rolled", operator),
        ("auditrail.api_key.created", operator), ("auditrail.workspace.updated", operator),
        ("auditrail.workspace.updated", operator)]  # turned off: the last record
    first_key, second_key, roll, successor, updated, stopped = found[1:]
    assert roll["targets"][0]["id"] == read_key
    assert roll["metadata"]["replaced_by"] == successor["targets"][0]["id"] != read_key
    assert successor["metadata"]["scopes"] == ["events:read"]
    assert stopped["metadata"] == {"changes": {"record_activity": {"from": True,
                                                                   "to": False}}}
    assert first_key["metadata"]["scopes"] == ["admin"]
    assert second_key["metadata"]["scopes"] == ["events:read"]
    assert second_key["context"] == {}  # no address on the command line
    assert (updated["action"], updated["actor"]) == ("auditrail.workspace.updated", operator)
    assert updated["metadata"]["changes"]["plan"] == {"from": "enterprise", "to": "pro"}


def test_a_stream_that_fails_and_recovers_puts_both_on_record_and_sends_them(
        stack: Stack) -> None:
    """The gap in what a SIEM received is in the log, and reaches the SIEM once it works."""
    _, admin = stack.new_workspace()
    call(stack, "PATCH", "/workspace", admin, {"record_activity": True})
    down = [True]
    with receiver(lambda _: Answer(503, body=b"maintenance") if down[0] else Answer()) as hook:
        stream = call(stack, "POST", "/streams", admin, {
            "name": "SIEM", "type": "webhook", "config": {"url": hook.url}})

        def status() -> str:
            return call(stack, "GET", f"/streams/{stream['id']}", admin)["status"]

        def retry_now(failures: int | None = None) -> None:  # not waiting out the backoff
            stack.sql("UPDATE streams SET failures = COALESCE(:failures, failures), "
                      "next_attempt_at = NULL WHERE id = :id", id=stream["id"],
                      failures=failures)
            stack.container.job_queue().enqueue_deliveries([stream["id"]], force=True)

        call(stack, "POST", "/events", admin, {"action": "user.login",
                                                "actor": {"id": "usr_1", "type": "user"}})
        assert stack.deliver_until(lambda: len(hook.requests) >= 1)
        retry_now(failures=4)
        assert stack.deliver_until(lambda: status() == "failing")
        down[0] = False
        retry_now()
        assert stack.deliver_until(lambda: status() == "active" and any(
            event["action"] == "auditrail.log_stream.recovered"
            for sent in hook.requests if sent.status == 200
            for event in sent.json()["events"]))
    turns = [event for event in records(stack, admin)
             if event["action"].startswith("auditrail.log_stream.") and
             event["action"] != "auditrail.log_stream.created"]
    assert [(event["action"], event["actor"]["type"], event["targets"][0]["id"])
            for event in turns] == [("auditrail.log_stream.failing", "system", stream["id"]),
                                    ("auditrail.log_stream.recovered", "system", stream["id"])]
    assert turns[0]["metadata"] == {"failures": 5, "outcome": "http_error", "http_status": 503}
    assert turns[1]["metadata"]["failures"] == 5
    assert turns[1]["metadata"]["failing_since"] is not None
    assert "maintenance" not in json.dumps(turns)
