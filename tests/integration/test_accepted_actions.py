"""A workspace that lists its actions (``accepted_actions``) refuses others when they are
sent, on both stacks: nothing of a refused request is stored, a retry of a request
accepted earlier still gets its answer, and Auditrail's own records are not held to the
list."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.stacks import Stack, bearer

LOGIN = {"action": "user.login", "actor": {"id": "usr_1", "type": "user"}}


def call(stack: Stack, method: str, path: str, key: str, body: Any = None,
         **headers: str) -> Any:
    return stack.client.open(f"/api/v1{path}", method=method,
                             headers={**bearer(key), **headers}, json=body)


def event(action: str) -> dict[str, Any]:
    return {**LOGIN, "action": action}


def stored(stack: Stack, key: str) -> list[str]:
    stack.drain()
    page = call(stack, "GET", "/events?order=asc&limit=100", key).json
    return [found["action"] for found in page["data"]]


def test_an_action_not_listed_is_refused_with_the_one_meant_and_nothing_stored(
        stack: Stack) -> None:
    _, admin = stack.new_workspace()
    assert call(stack, "GET", "/workspace", admin).json["accepted_actions"] is None
    retried = call(stack, "POST", "/events", admin, event("user.logout"),
                   **{"Idempotency-Key": "logout-1"})
    assert retried.status_code == 202  # any action, until the workspace lists them
    listed = call(stack, "PATCH", "/workspace", admin,
                  {"accepted_actions": ["user.login", "user.login_failed", "billing.*",
                                        "user.login"]})
    assert listed.status_code == 200
    assert listed.json["accepted_actions"] == ["user.login", "user.login_failed", "billing.*"]
    assert call(stack, "GET", "/workspace", admin).json["accepted_actions"] == \
        listed.json["accepted_actions"]

    refused = call(stack, "POST", "/events", admin, event("user.logn"))
    assert refused.status_code == 422, refused.json
    error = refused.json["error"]
    assert error["code"] == "validation_failed"
    assert [detail["field"] for detail in error["details"]] == ["action"]
    assert "did you mean 'user.login'?" in error["details"][0]["message"]
    assert '"accepted_actions"' in error["details"][0]["message"]

    batch = call(stack, "POST", "/events/batch", admin,
                 {"events": [LOGIN, event("billing.invoice.paid"), event("bliling.refund"),
                             event("user.login_failed")]})
    assert batch.status_code == 422
    details = batch.json["error"]["details"]
    assert [detail["field"] for detail in details] == ["events[2].action"]
    assert "did you mean 'billing.refund'?" in details[0]["message"]

    again = call(stack, "POST", "/events", admin, event("user.logout"),
                 **{"Idempotency-Key": "logout-1"})
    assert (again.status_code, again.json["id"]) == (202, retried.json["id"])  # kept before

    assert call(stack, "POST", "/events/batch", admin, {"events": [
        LOGIN, event("billing.invoice.paid")]}).status_code == 202
    assert stored(stack, admin) == ["user.logout", "user.login", "billing.invoice.paid"]

    cleared = call(stack, "PATCH", "/workspace", admin, {"accepted_actions": None})
    assert cleared.json["accepted_actions"] is None
    assert call(stack, "POST", "/events", admin, event("user.logn")).status_code == 202


@pytest.mark.parametrize(("value", "field"), [
    ([], "accepted_actions"),            # reads as "none", would mean "any": refused
    ("user.*", "accepted_actions"),      # not a list
    (["user.login", "user login"], "accepted_actions[1]"),
    (["user.*.login"], "accepted_actions[0]"),
    (["auditrail.*"], "accepted_actions[0]"),
])
def test_a_list_that_cannot_be_meant_is_refused_and_the_old_one_kept(
        stack: Stack, value: Any, field: str) -> None:
    _, admin = stack.new_workspace()
    call(stack, "PATCH", "/workspace", admin, {"accepted_actions": ["user.*"]})
    refused = call(stack, "PATCH", "/workspace", admin, {"accepted_actions": value})
    assert refused.status_code == 422, refused.json
    assert field in [detail["field"] for detail in refused.json["error"]["details"]]
    assert call(stack, "GET", "/workspace", admin).json["accepted_actions"] == ["user.*"]


def test_auditrails_own_records_are_kept_whatever_the_list(stack: Stack) -> None:
    """The list holds what applications send; a change to the workspace is recorded under
    ``auditrail.*``, which no application may send, and is recorded with the list."""
    _, admin = stack.new_workspace()
    call(stack, "PATCH", "/workspace", admin, {"record_activity": True,
                                               "accepted_actions": ["user.*"]})
    call(stack, "POST", "/api-keys", admin, {"name": "reader", "scopes": ["events:read"]})
    records = stored(stack, admin)
    assert records == ["auditrail.workspace.updated", "auditrail.api_key.created"]
    page = call(stack, "GET", "/events?action=auditrail.workspace.updated", admin).json
    changes = page["data"][0]["metadata"]["changes"]
    assert changes["accepted_actions"] == {"from": None, "to": 1, "added": ["user.*"],
                                           "removed": []}


def test_a_change_of_the_longest_lists_is_recorded_within_an_events_size(
        stack: Stack) -> None:
    """A record is an event, at most 32 KiB; two lists of 1,000 actions of 128 characters
    are 260 KB: the record counts them and names the first 100 added and removed."""
    _, admin = stack.new_workspace()
    call(stack, "PATCH", "/workspace", admin, {"record_activity": True})
    longest = [[f"app.{side}{n:04}.{'x' * 118}" for n in range(1_000)] for side in "ab"]
    assert {len(action) for action in longest[0]} == {128}
    for listed in longest:
        patched = call(stack, "PATCH", "/workspace", admin, {"accepted_actions": listed})
        assert patched.status_code == 200, patched.json
    page = call(stack, "GET", "/events?action=auditrail.workspace.updated&order=asc",
                admin).json
    first, second = (found["metadata"]["changes"]["accepted_actions"]
                     for found in page["data"][1:])
    assert first == {"from": None, "to": 1_000, "added": longest[0][:100], "removed": [],
                     "added_not_named": 900}
    assert second == {"from": 1_000, "to": 1_000, "added": longest[1][:100],
                      "removed": longest[0][:100], "added_not_named": 900,
                      "removed_not_named": 900}
    assert call(stack, "GET", "/workspace", admin).json["accepted_actions"] == longest[1]


@pytest.fixture(params=["embedded", "production"])
def lenient(request: pytest.FixtureRequest, stack_factory: Any) -> Stack:
    """Destinations on 127.0.0.1 allowed: nothing is sent, the address is only checked."""
    return stack_factory(request.param, allow_private_destinations=True)


def rule(actions: list[str], **more: Any) -> dict[str, Any]:
    return {"name": "Failed logins", "match": {"actions": actions},
            "notify": {"webhook_url": "http://127.0.0.1:9/alerts"}, **more}


def stream(actions: list[str], **more: Any) -> dict[str, Any]:
    return {"name": "SIEM", "type": "webhook", "config": {"url": "http://127.0.0.1:9/in"},
            "filter": {"actions": actions}, **more}


def refused_fields(response: Any) -> list[str]:
    assert response.status_code == 422, response.json
    return [detail["field"] for detail in response.json["error"]["details"]]


def test_a_rule_or_stream_waiting_for_refused_actions_is_refused(lenient: Stack) -> None:
    """It would never trigger, or never send, and nobody would be told."""
    _, admin = lenient.new_workspace()
    assert call(lenient, "PATCH", "/workspace", admin,
                {"accepted_actions": ["user.login_failed", "billing.*"]}).status_code == 200
    typo = call(lenient, "POST", "/alert-rules", admin, rule(["user.login_faild"]))
    assert refused_fields(typo) == ["match.actions[0]"]
    assert "did you mean 'user.login_failed'?" in typo.json["error"]["details"][0]["message"]
    assert refused_fields(call(lenient, "POST", "/streams", admin, stream(
        ["billing.invoice.*", "admin.*"]))) == ["filter.actions[1]"]
    for fine in (["user.login_failed"], ["billing.refund"], ["auditrail.*"]):
        assert call(lenient, "POST", "/alert-rules", admin, rule(fine)).status_code == 201
    paused = call(lenient, "POST", "/streams", admin, stream(["admin.*"], status="paused"))
    assert paused.status_code == 201  # waiting for nothing it could miss
    resumed = call(lenient, "PATCH", f"/streams/{paused.json['id']}", admin,
                   {"status": "active"})
    assert refused_fields(resumed) == ["filter.actions[0]"]


def test_a_list_that_would_strand_a_rule_or_stream_is_refused_naming_it(
        lenient: Stack) -> None:
    _, admin = lenient.new_workspace()
    watching = call(lenient, "POST", "/alert-rules", admin, rule(["user.login_failed"]))
    sending = call(lenient, "POST", "/streams", admin, stream(["billing.*"]))
    assert watching.status_code == sending.status_code == 201
    narrowed = call(lenient, "PATCH", "/workspace", admin,
                    {"accepted_actions": ["user.login"]})
    assert refused_fields(narrowed) == ["accepted_actions"]
    message = narrowed.json["error"]["details"][0]["message"]
    assert watching.json["id"] in message and sending.json["id"] in message
    assert call(lenient, "GET", "/workspace", admin).json["accepted_actions"] is None

    rule_id = watching.json["id"]
    assert call(lenient, "PATCH", f"/alert-rules/{rule_id}", admin,
                {"enabled": False}).status_code == 200
    assert call(lenient, "PATCH", f"/streams/{sending.json['id']}", admin,
                {"status": "paused"}).status_code == 200
    assert call(lenient, "PATCH", "/workspace", admin,
                {"accepted_actions": ["user.login"]}).status_code == 200
    enabled = call(lenient, "PATCH", f"/alert-rules/{rule_id}", admin, {"enabled": True})
    assert refused_fields(enabled) == ["match.actions[0]"]
    renamed = call(lenient, "PATCH", f"/alert-rules/{rule_id}", admin, {"name": "Old"})
    assert renamed.status_code == 200  # disabled, it may be kept and edited
    moved = call(lenient, "PATCH", f"/alert-rules/{rule_id}", admin,
                 {"match": {"actions": ["user.login"]}, "enabled": True})
    assert moved.status_code == 200, moved.json
