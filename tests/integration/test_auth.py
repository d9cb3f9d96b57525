"""Authentication, scopes and the IP allowlist over HTTP, on both stacks."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import update

from adapters.sql import tables
from tests.integration.stacks import Stack, bearer

EVENT = {"action": "user.login", "actor": {"id": "u1", "type": "user"}}


def post_event(stack: Stack, headers: dict[str, str], remote: str = "198.51.100.1"):  # type: ignore[no-untyped-def]
    return stack.client.post("/api/v1/events", data=json.dumps(EVENT),
                             headers={"Content-Type": "application/json", **headers},
                             environ_base={"REMOTE_ADDR": remote})


@pytest.mark.parametrize("authorization", [
    None, "", "Bearer", "Bearer ", "Bearer garbage", "Bearer ak_" + "x" * 43,
    "Basic dXNlcjpwYXNz", "Token ak_" + "x" * 43,
])
def test_bad_credentials_are_401_with_challenge(stack: Stack, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = post_event(stack, headers)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthenticated"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoked_and_expired_keys_are_401(stack: Stack) -> None:
    workspace_id, secret = stack.new_workspace()
    assert post_event(stack, bearer(secret)).status_code == 202
    stack.sql("UPDATE api_keys SET revoked_at = created_at WHERE workspace_id = :w",
              w=workspace_id)
    assert post_event(stack, bearer(secret)).status_code == 401


def test_scopes_are_enforced(stack: Stack) -> None:
    workspace_id, _ = stack.new_workspace()
    reader = stack.new_key(workspace_id, "events:read")
    writer = stack.new_key(workspace_id, "events:write")
    response = post_event(stack, bearer(reader))
    assert response.status_code == 403
    assert response.json["error"]["code"] == "insufficient_scope"
    event_id = post_event(stack, bearer(writer)).json["id"]
    assert stack.client.get(f"/api/v1/events/{event_id}", headers=bearer(writer)) \
        .status_code == 403
    assert stack.client.get(f"/api/v1/events/{event_id}", headers=bearer(reader)) \
        .status_code == 200


def _allow(stack: Stack, workspace_id: str, *entries: str) -> None:
    with stack.container.engine().begin() as connection:
        connection.execute(update(tables.workspaces)
                           .where(tables.workspaces.c.id == workspace_id)
                           .values(ip_allowlist=list(entries)))


@pytest.mark.parametrize(("entries", "remote", "allowed"), [
    (("198.51.100.0/24",), "198.51.100.9", True),
    (("198.51.100.0/24",), "203.0.113.9", False),
    (("2001:db8::/48",), "2001:db8::5", True),
    (("2001:db8::/48",), "2001:db9::5", False),
    (("203.0.113.9", "2001:db8::/48"), "203.0.113.9", True),
])
def test_ip_allowlist(stack: Stack, entries: tuple[str, ...], remote: str,
                      allowed: bool) -> None:
    workspace_id, secret = stack.new_workspace()
    _allow(stack, workspace_id, *entries)
    response = post_event(stack, bearer(secret), remote=remote)
    if allowed:
        assert response.status_code == 202
    else:
        assert response.status_code == 403
        assert response.json["error"]["code"] == "ip_not_allowed"


def test_forwarded_for_is_ignored_without_trusted_proxies(stack: Stack) -> None:
    workspace_id, secret = stack.new_workspace()
    _allow(stack, workspace_id, "203.0.113.9")
    response = post_event(stack, {**bearer(secret), "X-Forwarded-For": "203.0.113.9"},
                          remote="10.0.0.2")
    assert response.status_code == 403


@pytest.mark.parametrize("kind", ["embedded", "production"])
def test_forwarded_for_honours_the_trusted_hop_count(stack_factory, kind: str) -> None:  # type: ignore[no-untyped-def]
    stack = stack_factory(kind, trusted_proxies=1)
    workspace_id, secret = stack.new_workspace()
    _allow(stack, workspace_id, "203.0.113.9")
    # the client can prepend anything; only the hop the proxy appended counts
    ok = post_event(stack, {**bearer(secret), "X-Forwarded-For": "1.1.1.1, 203.0.113.9"},
                    remote="10.0.0.2")
    assert ok.status_code == 202
    spoofed = post_event(stack, {**bearer(secret), "X-Forwarded-For": "203.0.113.9, 1.1.1.1"},
                         remote="10.0.0.2")
    assert spoofed.status_code == 403


def test_routing_errors_have_the_error_shape(stack: Stack) -> None:
    missing = stack.client.get("/api/v1/nowhere")
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"
    wrong = stack.client.delete("/api/v1/events")
    assert wrong.status_code == 405
    assert wrong.json["error"]["code"] == "method_not_allowed"
    assert "POST" in wrong.headers["Allow"]
    assert wrong.json["error"]["request_id"] == wrong.headers["X-Request-Id"]
    assert wrong.headers["X-Request-Id"].startswith("req_")


@pytest.mark.parametrize("path", ["/api/v1//events", "//api/v1/events", "/api//v1/usage"])
def test_a_doubled_slash_is_not_found_not_an_html_redirect(stack: Stack, path: str) -> None:
    """Werkzeug answered these with a 308 and an HTML page; every answer here is JSON, and
    there is one URL for each resource."""
    response = stack.client.post(path, json={})
    assert (response.status_code, response.json["error"]["code"]) == (404, "not_found")


def test_insane_request_ids_are_replaced(stack: Stack) -> None:
    response = stack.client.get("/healthz", headers={"X-Request-Id": "x" * 500})
    assert response.headers["X-Request-Id"].startswith("req_")
    response = stack.client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert response.headers["X-Request-Id"] == "abc-123"


def test_last_used_at_is_recorded(stack: Stack) -> None:
    workspace_id, secret = stack.new_workspace()
    post_event(stack, bearer(secret))
    [(last_used,)] = stack.sql("SELECT last_used_at FROM api_keys WHERE workspace_id = :w",
                               w=workspace_id)
    assert last_used is not None


def test_internal_errors_reveal_nothing(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    _, secret = stack.new_workspace()
    from application.use_cases.get_event import GetEvent

    def explode(*args: object) -> None:
        raise RuntimeError("SELECT secret FROM vault")
    monkeypatch.setattr(GetEvent, "execute", explode)
    response = stack.client.get("/api/v1/events/evt_x", headers=bearer(secret))
    assert response.status_code == 500
    assert response.json["error"]["code"] == "internal_error"
    assert "SELECT" not in response.get_data(as_text=True)
