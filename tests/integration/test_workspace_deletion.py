"""Deleting a workspace on both stacks: every row and file of it goes, its keys and viewer
links stop working at once, and another workspace keeps everything, its chain and its
signed log intact."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import Table
from sqlalchemy.exc import IntegrityError

from adapters.sql import bulk, erasure
from adapters.sql import tables as t
from application.errors import DeletedMeanwhile, NotFound
from tests.integration.stacks import Stack, bearer
from tests.receivers import Receiver, receiver


@pytest.fixture(params=["embedded", "production"])
def stack(request: pytest.FixtureRequest, stack_factory: Any) -> Stack:
    return stack_factory(request.param, allow_private_destinations=True,
                         stream_batch_seconds=0.0)


def _owned_tables() -> list[Table]:
    return [table for table in t.metadata.sorted_tables if "workspace_id" in table.c]


def test_every_table_holding_a_workspaces_rows_is_erased() -> None:
    """A table added later holds rows a deletion would leave behind unless it is listed."""
    assert set(_owned_tables()) == set(erasure._IN_ORDER)


def rows_of(stack: Stack, workspace_id: str) -> dict[str, int]:
    counts = {table.name: stack.sql(f"SELECT count(*) FROM {table.name} "
                                    "WHERE workspace_id = :w", w=workspace_id)[0][0]
              for table in _owned_tables()}
    counts["workspaces"] = stack.sql("SELECT count(*) FROM workspaces WHERE id = :w",
                                     w=workspace_id)[0][0]
    return counts


def populate(stack: Stack, hooks: Receiver) -> dict[str, Any]:
    """A workspace using everything that stores rows: keys, events sent with an
    Idempotency-Key, a log stream and alert rules that deliver, an export with its file,
    a viewer link, the chain, the tree and its checkpoints."""
    workspace_id, admin = stack.new_workspace()
    reader = stack.new_key(workspace_id, "events:read")
    assert stack.client.post("/api/v1/streams", headers=bearer(admin), json={
        "name": "SIEM", "type": "webhook", "config": {"url": hooks.url}}).status_code == 201
    for counting in ({}, {"threshold": {"count": 3, "window_seconds": 60,
                                        "group_by": "actor_id"}}):
        assert stack.client.post("/api/v1/alert-rules", headers=bearer(admin), json={
            "name": "Logins", "match": {"actions": ["user.*"]},
            "notify": {"webhook_url": hooks.url}, **counting}).status_code == 201
    sent = stack.client.post("/api/v1/events/batch", headers={
        **bearer(admin), "Idempotency-Key": "first-batch"}, json={"events": [
            {"action": "user.login", "actor": {"id": f"usr_{n % 3}", "type": "user"},
             "targets": [{"id": "doc_7", "type": "document"}]} for n in range(30)]})
    assert sent.status_code == 202
    stack.drain()
    export = stack.client.post("/api/v1/exports", headers=bearer(admin),
                               json={"format": "ndjson"}).json
    link = stack.client.post("/api/v1/viewer-links", headers=bearer(admin),
                             json={"filters": {}}).json
    stack.deliver_until(lambda: stack.client.get(
        f"/api/v1/exports/{export['id']}", headers=bearer(admin)).json["status"] == "completed")
    keep_a_rotation_note(stack, workspace_id)
    keep_a_cosignature(stack, workspace_id, admin)
    return {"id": workspace_id, "admin": admin, "reader": reader, "export": export["id"],
            "viewer": parse_qs(urlsplit(link["url"]).fragment)["token"][0]}


def keep_a_rotation_note(stack: Stack, workspace_id: str) -> None:
    """As ``auditrail signing-key countersign`` keeps one after a rotation (to a new key,
    here, that nothing else uses)."""
    from adapters.security.signing import Ed25519Signer, Ed25519Verifier, new_seed, seed_from
    from application.log_keys import LogKeys

    keys = LogKeys(Ed25519Signer(seed_from(new_seed())), [stack.container.signer()],
                   Ed25519Verifier(), stack.settings.effective_log_name)
    with stack.container.uow() as uow:
        assert uow.checkpoints.keep_rotations(keys.rotations(workspace_id,
                                                             datetime.now(UTC))) == 1
        uow.commit()


def keep_a_cosignature(stack: Stack, workspace_id: str, admin: str) -> None:
    """A witness of the log, and its cosignature of the latest checkpoint, as a witness
    answering the log would have left them."""
    from application.ports.repositories.transparency import Cosignature
    from domain.cosignatures import cosigner_key

    key = cosigner_key("witness.example/w", bytes(range(32)))
    added = stack.client.post("/api/v1/log/witnesses", headers=bearer(admin), json={
        "url": "https://witness.example", "verifier_key": key})
    assert added.status_code == 201, added.json
    with stack.container.uow() as uow:
        size = uow.checkpoints.latest(workspace_id).tree_size
        uow.log_witnesses.keep(workspace_id, Cosignature(added.json["id"], size, "— w x\n"))
        uow.commit()


def export_file(stack: Stack, workspace: dict[str, Any]) -> Path:
    return stack.settings.exports_dir / workspace["id"] / f"{workspace['export']}.ndjson"


def works(stack: Stack, secret: str) -> bool:
    status = stack.client.get("/api/v1/events", headers=bearer(secret)).status_code
    assert status in (200, 401)
    return status == 200


def test_a_deleted_workspace_leaves_nothing_and_the_others_keep_everything(
        stack: Stack) -> None:
    with receiver() as hooks:
        gone, kept = populate(stack, hooks), populate(stack, hooks)
        before, doomed = rows_of(stack, kept["id"]), rows_of(stack, gone["id"])
        assert all(doomed.values()), doomed  # every table had rows to lose
        assert export_file(stack, gone).exists()
        for secret in (gone["admin"], gone["reader"], gone["viewer"]):
            assert works(stack, secret)  # and, on the production stack, now cached

        removed = stack.container.delete_workspace(chunk=7).execute(gone["id"])

        assert removed == sum(doomed.values())
        assert not any(rows_of(stack, gone["id"]).values())
        assert not export_file(stack, gone).exists()
        assert not export_file(stack, gone).parent.exists()  # its folder too
        for secret in (gone["admin"], gone["reader"], gone["viewer"]):
            assert not works(stack, secret)
        stack.drain()  # jobs still queued for it find nothing to do
        assert rows_of(stack, kept["id"]) == before
        assert export_file(stack, kept).exists()
        verified = stack.client.get("/api/v1/events/verify", headers=bearer(kept["admin"]))
        assert verified.json["valid"] and verified.json["checked"] == 30
        assert stack.client.get("/api/v1/log/checkpoint",
                                headers=bearer(kept["reader"])).status_code == 200
        with pytest.raises(NotFound):
            stack.container.delete_workspace().execute(gone["id"])


def test_a_deletion_stopped_half_way_is_finished_by_a_second_run(stack: Stack) -> None:
    with receiver() as hooks:
        workspace = populate(stack, hooks)
        total = sum(rows_of(stack, workspace["id"]).values())
        erased = 0
        for _ in range(3):  # as a run killed after three chunks would leave it
            with stack.container.uow() as uow:
                erased += uow.workspaces.erase_some(workspace["id"], 10)
                uow.commit()
        assert 30 <= erased < total
        assert stack.container.delete_workspace().execute(workspace["id"]) == total - erased
        assert not any(rows_of(stack, workspace["id"]).values())


def test_a_request_that_outlives_its_workspace_is_a_conflict_not_a_server_error(
        stack: Stack) -> None:
    """A request authenticated just before the workspace was deleted writes after it is
    gone: the database refuses the row, and the client hears why, in the error shape."""
    workspace_id, key = stack.new_workspace()
    event = {"action": "user.login", "actor": {"id": "usr_1", "type": "user"}}
    deleted: list[int] = []
    insert = bulk._insert_statement

    def delete_first(*args: Any) -> None:
        deleted.append(stack.container.delete_workspace().execute(workspace_id))
        insert(*args)

    if stack.name == "production":  # its one-statement write holds no lock to wait on
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(bulk, "_insert_statement", delete_first)
            answer = stack.client.post("/api/v1/events", headers=bearer(key), json=event)
        assert deleted and answer.status_code == 409, answer.json
        assert answer.json["error"]["code"] == "conflict"
        assert "was deleted while it ran; nothing was stored" in answer.json["error"]["message"]
        assert stack.client.post("/api/v1/events", headers=bearer(key),
                                 json=event).status_code == 401
    else:  # SQLite's writers lock up front: the deletion comes before the write
        stack.container.delete_workspace().execute(workspace_id)
        with pytest.raises(DeletedMeanwhile):
            stack.container.ingest_events().execute(workspace_id, [event])
    assert not any(rows_of(stack, workspace_id).values())


def test_a_row_still_referred_to_is_not_mistaken_for_one_deleted_meanwhile() -> None:
    """A DELETE refused because rows still refer to it (one written during an erasure) is
    the database refusing the deletion, not a write that outlived its workspace: it stays
    an IntegrityError (the erasure is run again), whichever database said it."""
    from adapters.sql.unit_of_work import _refers_to_a_deleted_row

    class PostgresViolation(Exception):
        sqlstate = "23503"

    sqlite_violation = sqlite3.IntegrityError("FOREIGN KEY constraint failed")
    for orig in (PostgresViolation(), sqlite_violation):
        for written in ("INSERT INTO events (id) VALUES (%s)",
                        " WITH new_events AS (INSERT INTO events (id) VALUES (%s)) SELECT 1"):
            assert _refers_to_a_deleted_row(IntegrityError(written, {}, orig))
        assert not _refers_to_a_deleted_row(IntegrityError(
            "DELETE FROM workspaces WHERE workspaces.id = %s", {}, orig))
    assert not _refers_to_a_deleted_row(IntegrityError(
        "INSERT INTO events (id) VALUES (%s)", {}, sqlite3.IntegrityError("UNIQUE failed")))
