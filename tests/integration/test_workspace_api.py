"""/workspace, /api-keys and /usage over HTTP on both stacks, and rate-limit headers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.stacks import Stack, bearer

EVENT = {"action": "user.login", "actor": {"id": "u1", "type": "user"}}


def call(stack: Stack, method: str, path: str, secret: str, body: Any = None,
         remote: str = "127.0.0.1") -> Any:
    return stack.client.open(f"/api/v1{path}", method=method, headers={
        **bearer(secret), **({"Content-Type": "application/json"} if body is not None else {})},
        data=json.dumps(body) if body is not None else None,
        environ_base={"REMOTE_ADDR": remote})


def test_get_and_patch_workspace(stack: Stack) -> None:
    workspace_id, secret = stack.new_workspace("Acme", plan="pro")
    workspace = call(stack, "GET", "/workspace", secret).json
    assert workspace == {"id": workspace_id, "name": "Acme", "plan": "pro",
                         "rate_limit_per_minute": 1000, "ip_allowlist": [],
                         "retention_days": 365, "record_activity": False,
                         "legal_hold": False, "accepted_actions": None,
                         "metadata_schemas": None, "created_at": workspace["created_at"]}
    patched = call(stack, "PATCH", "/workspace", secret, {
        "name": "Acme Corp", "ip_allowlist": ["127.0.0.1", "10.0.0.0/8", "2001:db8::/32"],
        "retention_days": 90})
    assert patched.status_code == 200
    assert patched.json["name"] == "Acme Corp" and patched.json["retention_days"] == 90
    assert patched.json["ip_allowlist"] == ["127.0.0.1/32", "10.0.0.0/8", "2001:db8::/32"]
    assert call(stack, "GET", "/workspace", secret, remote="192.0.2.1").status_code == 403
    assert call(stack, "GET", "/workspace", secret, remote="10.9.9.9").status_code == 200
    cleared = call(stack, "PATCH", "/workspace", secret, {"ip_allowlist": [],
                                                          "retention_days": None})
    assert cleared.json["ip_allowlist"] == [] and cleared.json["retention_days"] == 365


@pytest.mark.parametrize(("body", "field"), [
    ({"ip_allowlist": ["10.0.0.0/8"]}, "ip_allowlist"),  # would lock the caller out
    ({"ip_allowlist": ["10.0.0.0/33", "127.0.0.1"]}, "ip_allowlist[0]"),
    ({"ip_allowlist": ["nope"]}, "ip_allowlist[0]"),
    ({"retention_days": 0}, "retention_days"), ({"retention_days": "30"}, "retention_days"),
    ({"name": ""}, "name"), ({"plan": "pro"}, "plan"),
    # PostgreSQL refuses NUL in text, and a lone surrogate has no UTF-8 form: both were 500s
    ({"name": "Acme\u0000"}, "name"), ({"name": "\ud800"}, "name"), ({"name": "a\nb"}, "name"),
    # JSON's true and false only: 1 and 0 equal True and False in Python, and were taken
    ({"legal_hold": 1}, "legal_hold"), ({"legal_hold": "true"}, "legal_hold"),
    ({"record_activity": 1}, "record_activity"), ({"legal_hold": 0}, "legal_hold"),
])
def test_patch_workspace_refuses_bad_changes(stack: Stack, body: dict, field: str) -> None:
    _, secret = stack.new_workspace()
    response = call(stack, "PATCH", "/workspace", secret, body)
    assert response.status_code == 422
    assert field in [d["field"] for d in response.json["error"]["details"]]
    workspace = call(stack, "GET", "/workspace", secret).json
    assert (workspace["ip_allowlist"], workspace["legal_hold"], workspace["record_activity"]) \
        == ([], False, False)


def test_api_key_lifecycle(stack: Stack) -> None:
    _, admin = stack.new_workspace()
    created = call(stack, "POST", "/api-keys", admin, {
        "name": "ingest", "scopes": ["events:write"], "expires_at": "2099-01-01T00:00:00Z"})
    assert created.status_code == 201
    key = created.json
    assert key["secret"].startswith("ak_") and key["prefix"] == key["secret"][:8]
    assert key["expires_at"] == "2099-01-01T00:00:00.000000Z" and key["revoked_at"] is None
    assert call(stack, "POST", "/events", key["secret"], EVENT).status_code == 202
    shown = call(stack, "GET", f"/api-keys/{key['id']}", admin).json
    assert "secret" not in shown and shown["last_used_at"] is not None
    listed = call(stack, "GET", "/api-keys?limit=1", admin).json
    assert listed["total_count"] == 2 and listed["has_more"] is True
    second = call(stack, "GET", f"/api-keys?limit=1&cursor={listed['next_cursor']}", admin).json
    assert {listed["data"][0]["id"], second["data"][0]["id"]} >= {key["id"]}
    assert all("secret" not in k and "secret_hash" not in k for k in listed["data"])
    revoked = call(stack, "DELETE", f"/api-keys/{key['id']}", admin)
    assert revoked.status_code == 200 and revoked.json["revoked_at"] is not None
    assert call(stack, "POST", "/events", key["secret"], EVENT).status_code == 401
    again = call(stack, "DELETE", f"/api-keys/{key['id']}", admin).json
    assert again["revoked_at"] == revoked.json["revoked_at"]


def test_a_key_rolled_is_replaced_and_works_only_through_its_grace(stack: Stack) -> None:
    _, admin = stack.new_workspace()
    old = call(stack, "POST", "/api-keys", admin, {"name": "ingest",
                                                   "scopes": ["events:write"]}).json
    graced = call(stack, "POST", f"/api-keys/{old['id']}/roll", admin,
                  {"expires_in_seconds": 3600})
    assert graced.status_code == 201, graced.json
    successor = graced.json
    assert (successor["name"], successor["scopes"]) == ("ingest", ["events:write"])
    assert successor["secret"].startswith("ak_") and successor["id"] != old["id"]
    assert successor["replaces"]["id"] == old["id"] and "secret" not in successor["replaces"]
    assert successor["replaces"]["expires_at"] is not None
    for secret in (old["secret"], successor["secret"]):  # both work through the grace
        assert call(stack, "POST", "/events", secret, EVENT).status_code == 202
    at_once = call(stack, "POST", f"/api-keys/{successor['id']}/roll", admin, {}).json
    assert call(stack, "POST", "/events", successor["secret"], EVENT).status_code == 401
    assert call(stack, "POST", "/events", at_once["secret"], EVENT).status_code == 202
    again = call(stack, "POST", f"/api-keys/{successor['id']}/roll", admin, {})
    assert again.status_code == 409 and again.json["error"]["code"] == "conflict"
    for body, field in (({"expires_in_seconds": 604_801}, "expires_in_seconds"),
                        ({"expires_in_seconds": "60"}, "expires_in_seconds"),
                        ({"expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
                        ({"grace": 60}, "grace")):
        refused = call(stack, "POST", f"/api-keys/{at_once['id']}/roll", admin, body)
        assert refused.status_code == 422, body
        assert [d["field"] for d in refused.json["error"]["details"]] == [field]
    _, stranger = stack.new_workspace("B")
    assert call(stack, "POST", f"/api-keys/{at_once['id']}/roll", stranger,
                {}).status_code == 404
    assert call(stack, "POST", "/events", at_once["secret"], EVENT).status_code == 202


def test_no_answer_of_the_api_is_kept_by_a_cache(stack: Stack) -> None:
    """A plaintext key in a 201, events in a 200, and errors alike: ``no-store``."""
    _, secret = stack.new_workspace()
    answers = [
        stack.client.post("/api/v1/api-keys", headers=bearer(secret),
                          json={"name": "ci", "scopes": ["events:read"]}),
        stack.client.get("/api/v1/events", headers=bearer(secret)),
        stack.client.get("/api/v1/events", headers=bearer("ak_" + "x" * 43)),
        stack.client.get("/api/v1/no-such-thing", headers=bearer(secret)),
    ]
    assert [answer.status_code for answer in answers] == [201, 200, 401, 404]
    for answer in answers:
        assert answer.headers["Cache-Control"] == "no-store"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" not in stack.client.get("/healthz").headers.get("Cache-Control", "")


@pytest.mark.parametrize(("body", "field"), [
    ({"scopes": ["admin"]}, "name"), ({"name": "x", "scopes": []}, "scopes"),
    ({"name": "x", "scopes": ["events:delete"]}, "scopes.0"),
    ({"name": "x", "scopes": ["admin"], "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
    ({"name": "x", "scopes": ["admin"], "expires_at": "soon"}, "expires_at"),
    ({"name": "ci\u0000", "scopes": ["admin"]}, "name"),
    ({"name": "\udfff", "scopes": ["admin"]}, "name"),
    ({"name": "   ", "scopes": ["admin"]}, "name"),
])
def test_create_key_validation(stack: Stack, body: dict, field: str) -> None:
    _, admin = stack.new_workspace()
    response = call(stack, "POST", "/api-keys", admin, body)
    assert response.status_code == 422
    fields = [d["field"] for d in response.json["error"]["details"]]
    assert any(f.replace("[", ".").replace("]", "") == field for f in fields), fields


def test_keys_of_another_workspace_are_invisible(stack: Stack) -> None:
    _, admin_a = stack.new_workspace("A")
    _, admin_b = stack.new_workspace("B")
    key_a = call(stack, "POST", "/api-keys", admin_a, {"name": "a", "scopes": ["admin"]}).json
    for method in ("GET", "DELETE"):
        response = call(stack, method, f"/api-keys/{key_a['id']}", admin_b)
        assert response.status_code == 404
    assert key_a["id"] not in {k["id"] for k in call(stack, "GET", "/api-keys", admin_b)
                               .json["data"]}
    assert call(stack, "GET", f"/api-keys/{key_a['id']}", admin_a).json["revoked_at"] is None


def test_usage(stack: Stack) -> None:
    _, secret = stack.new_workspace("A", plan="starter")
    call(stack, "POST", "/events/batch", secret, {"events": [EVENT] * 3})
    usage = call(stack, "GET", "/usage", secret).json
    assert usage["plan"] == "starter"
    assert usage["rate_limit"]["limit"] == 300 and usage["rate_limit"]["remaining"] == 298
    assert usage["events"] == {"total": 3, "pending": 3, "last_24h": 3}
    stack.drain()
    call(stack, "POST", "/events", secret, EVENT)
    stack.drain()  # settled: the embedded worker, once started, links events meanwhile
    with stack.statements() as seen:
        assert call(stack, "GET", "/usage", secret).json["events"] == \
            {"total": 4, "pending": 0, "last_24h": 4}
    # The chain's ends in one read, and one count of pending events serves the total
    # (it was seven statements: anchor and head read twice, pending counted twice).
    reads = [s for s in seen if "FROM api_keys" not in s]  # embedded: keys are not cached
    assert sum("FROM chain_heads" in s for s in reads) == 1 and len(reads) == 3, seen


# Budgets small enough that a burst beats the refill on any machine: 5 a minute gives one
# request back every 12 s (the free plan's 60 gives one back every second, which a slow
# machine's burst of 61 requests outlasted).
SMALL_BUDGET = {"plan": "enterprise", "rate_limit": 5}


def test_rate_limit_headers_and_429_without_side_effect(stack: Stack) -> None:
    _, free = stack.new_workspace("F", plan="free")
    assert call(stack, "GET", "/usage", free).headers["X-RateLimit-Limit"] == "60"
    workspace_id, secret = stack.new_workspace("A", **SMALL_BUDGET)
    responses = [call(stack, "POST", "/events", secret, EVENT) for _ in range(6)]
    assert [r.status_code for r in responses] == [202] * 5 + [429]
    first, last = responses[0], responses[-1]
    assert first.headers["X-RateLimit-Limit"] == "5"
    assert first.headers["X-RateLimit-Remaining"] == "4"
    assert int(first.headers["X-RateLimit-Reset"]) >= 1
    assert last.json["error"]["code"] == "rate_limited"
    assert int(last.headers["Retry-After"]) >= 1 and last.headers["X-RateLimit-Remaining"] == "0"
    stored = stack.sql("SELECT count(*) FROM events WHERE workspace_id = :w", w=workspace_id)
    assert stored[0][0] == 5
    forbidden = call(stack, "GET", "/events", stack.new_key(workspace_id, "events:write"))
    assert forbidden.status_code == 429  # the budget is the workspace's, not the key's


def test_a_plan_upgrade_is_effective_at_once(stack: Stack) -> None:
    workspace_id, secret = stack.new_workspace("A", **SMALL_BUDGET)
    for _ in range(5):
        call(stack, "GET", "/usage", secret)
    assert call(stack, "GET", "/usage", secret).status_code == 429
    stack.container.update_workspace_plan().execute(workspace_id, "pro", None)
    response = call(stack, "GET", "/usage", secret)
    assert response.status_code == 200 and response.headers["X-RateLimit-Limit"] == "1000"


def test_failed_authentication_is_limited_per_address_but_valid_keys_pass(
        stack: Stack) -> None:
    """Two workspaces behind one address (a NAT): one's bad key spends the address's
    failure budget (5 a minute here, one back every 12 s, so the burst beats the refill on
    any machine; the product's is 20); the other's valid key keeps working."""
    stack.container.admit_request.add_kwargs(auth_failures_per_minute=5)
    stack.container.admit_request.reset()
    _, first = stack.new_workspace("First")
    _, second = stack.new_workspace("Second")
    assert call(stack, "GET", "/usage", first, remote="203.0.113.9").status_code == 200
    for _ in range(5):
        assert call(stack, "GET", "/usage", "ak_" + "x" * 43, remote="203.0.113.9") \
            .status_code == 401
    for bad in ("ak_" + "x" * 43, "ak_" + "y" * 43):
        blocked = call(stack, "GET", "/usage", bad, remote="203.0.113.9")
        assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1
        assert blocked.json["error"]["code"] == "rate_limited"
    for secret in (first, second):  # known to this process, and new to it
        assert call(stack, "GET", "/usage", secret, remote="203.0.113.9").status_code == 200
    assert call(stack, "GET", "/usage", first, remote="203.0.113.10").status_code == 200


ENDPOINTS = [
    ("POST", "/events", EVENT, "events:write"),
    ("POST", "/events/batch", {"events": [EVENT]}, "events:write"),
    ("POST", "/events/validate", {"events": [EVENT]}, "events:write"),
    ("GET", "/events", None, "events:read"),
    ("GET", "/events/verify", None, "events:read"),
    ("GET", "/events/evt_missing", None, "events:read"),
    ("GET", "/workspace", None, "admin"),
    ("PATCH", "/workspace", {"name": "renamed"}, "admin"),
    ("GET", "/usage", None, "admin"),
    ("GET", "/api-keys", None, "admin"),
    ("POST", "/api-keys", {"name": "k", "scopes": ["events:read"]}, "admin"),
    ("GET", "/api-keys/key_missing", None, "admin"),
    ("DELETE", "/api-keys/key_missing", None, "admin"),
]
SCOPES = ["events:write", "events:read", "exports", "alerts", "streams", "admin"]


@pytest.mark.parametrize("scope", SCOPES)
def test_every_scope_against_every_endpoint(stack: Stack, scope: str) -> None:
    workspace_id, _ = stack.new_workspace()
    secret = stack.new_key(workspace_id, scope)
    for method, path, body, needed in ENDPOINTS:
        response = call(stack, method, path, secret, body)
        if scope in (needed, "admin"):
            assert response.status_code != 403, (method, path)
        else:
            assert response.status_code == 403, (method, path)
            assert response.json["error"]["code"] == "insufficient_scope"
