"""Idempotency-Key over HTTP, including concurrent retries racing on both stacks."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from adapters.sql.tables import idempotency_keys
from tests.integration.stacks import Stack, bearer

EVENT = {"action": "user.login", "actor": {"id": "u1", "type": "user"}}


def post(stack: Stack, secret: str, body: Any, key: str | None,
         path: str = "/api/v1/events") -> Any:
    headers = {**bearer(secret), "Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return stack.client.post(path, data=json.dumps(body), headers=headers)


def stored(stack: Stack, workspace_id: str) -> int:
    return stack.sql("SELECT count(*) FROM events WHERE workspace_id = :w",
                     w=workspace_id)[0][0]


@pytest.mark.parametrize(("path", "body"), [
    ("/api/v1/events", EVENT),
    ("/api/v1/events/batch", {"events": [EVENT, EVENT]}),
])
def test_replay_returns_the_original_response(stack: Stack, path: str, body: Any) -> None:
    workspace_id, secret = stack.new_workspace()
    with stack.statements() as seen:
        first = post(stack, secret, body, "order-42", path)
    # Look the key up, then record it in one statement (it was four round trips: delete an
    # expired record, a savepoint, the insert and the savepoint's release).
    keyed = [s for s in seen if "idempotency_keys" in s or "SAVEPOINT" in s]
    assert [s.split()[0] for s in keyed] == ["SELECT", "INSERT"], keyed
    again = post(stack, secret, body, "order-42", path)
    assert first.status_code == again.status_code == 202
    assert again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert stored(stack, workspace_id) == len(body.get("events", [body]))


def test_same_key_other_body_is_409(stack: Stack) -> None:
    workspace_id, secret = stack.new_workspace()
    post(stack, secret, EVENT, "k")
    response = post(stack, secret, {**EVENT, "action": "user.logout"}, "k")
    assert response.status_code == 409 and response.json["error"]["code"] == "conflict"
    assert stored(stack, workspace_id) == 1


def test_an_expired_key_is_free_again(stack: Stack) -> None:
    """After 24 hours the key's record is taken over in place: the new request is stored,
    and its own retries replay it."""
    workspace_id, secret = stack.new_workspace()
    first = post(stack, secret, EVENT, "daily")
    with stack.container.engine().begin() as connection:
        connection.execute(update(idempotency_keys)
                           .where(idempotency_keys.c.workspace_id == workspace_id)
                           .values(created_at=datetime.now(UTC) - timedelta(hours=25)))
    other = {**EVENT, "action": "user.logout"}
    second = post(stack, secret, other, "daily")
    assert second.status_code == 202 and "Idempotent-Replayed" not in second.headers
    assert second.json["id"] != first.json["id"]
    again = post(stack, secret, other, "daily")
    assert again.json == second.json and again.headers["Idempotent-Replayed"] == "true"
    assert post(stack, secret, EVENT, "daily").status_code == 409  # the new record holds
    assert stored(stack, workspace_id) == 2


def test_keys_are_per_workspace(stack: Stack) -> None:
    _, secret_a = stack.new_workspace("A")
    _, secret_b = stack.new_workspace("B")
    a = post(stack, secret_a, EVENT, "shared")
    b = post(stack, secret_b, EVENT, "shared")
    assert a.json["id"] != b.json["id"] and "Idempotent-Replayed" not in b.headers


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "ünï"])
def test_malformed_keys_are_400(stack: Stack, key: str) -> None:
    workspace_id, secret = stack.new_workspace()
    response = stack.client.post("/api/v1/events", data=json.dumps(EVENT), headers={
        **bearer(secret), "Content-Type": "application/json",
        "Idempotency-Key": key.encode("utf-8").decode("latin-1")})
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_parameter"
    assert "Idempotency-Key" in response.json["error"]["message"]
    assert stored(stack, workspace_id) == 0


def test_concurrent_retries_store_once(stack: Stack) -> None:
    workspace_id, secret = stack.new_workspace()
    body = {"events": [EVENT] * 50}

    def attempt(_: int) -> Any:
        client = stack.app.test_client()
        response = client.post("/api/v1/events/batch", data=json.dumps(body), headers={
            **bearer(secret), "Content-Type": "application/json", "Idempotency-Key": "race"})
        return response.status_code, response.json

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(attempt, range(16)))
    assert {status for status, _ in results} == {202}
    assert len({tuple(body["ids"]) for _, body in results}) == 1
    assert stored(stack, workspace_id) == 50
