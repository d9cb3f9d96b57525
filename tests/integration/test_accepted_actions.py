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
