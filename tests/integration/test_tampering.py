"""Whatever column of a linked event, of its search terms or of its chain's head and
Merkle tree is changed in the database, verification says so, and where.

One change for every column of ``events``, ``event_terms``, ``chain_heads`` and
``tree_tiles`` (the guard below fails when a column is added without one, or a reason it
is tested elsewhere), made to a workspace of three linked events, on both stacks: the
question an auditor asks of the store is not whether the columns we thought of are
covered, but whether any is not. Checkpoints are the one thing the database holds that a
deletion hides from online verification (docs/security.md says what catches that).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.sql import tables as t
from tests.integration.stacks import Stack, bearer

EVENT = {
    "action": "user.login_failed",
    "occurred_at": "2026-11-26T13:31:45.123456Z",
    "actor": {"id": "usr_42", "type": "user", "name": "Jane Roe"},
    "targets": [{"id": "doc_7", "type": "document"}],
    "context": {"ip_address": "203.0.113.7", "user_agent": "Mozilla/5.0"},
    "metadata": {"reason": "bad_password"},
}
EARLIER = {**EVENT, "occurred_at": "2026-11-26T13:30:00Z"}
W2 = "WHERE workspace_id = :w AND sequence = 2"
CHANGES: dict[str, tuple[str, ...]] = {  # each statement changes one row, the second event
    "id": ("UPDATE events SET id = 'evt_01forgedforgedforgedforged' " + W2,),
    "workspace_id": ("UPDATE events SET workspace_id = :other " + W2,),
    "status": ("UPDATE events SET status = 'pending' " + W2,),
    "sequence": (  # the second and third swapped, through a free number
        "UPDATE events SET sequence = 1000 WHERE workspace_id = :w AND sequence = 2",
        "UPDATE events SET sequence = 2 WHERE workspace_id = :w AND sequence = 3",
        "UPDATE events SET sequence = 3 WHERE workspace_id = :w AND sequence = 1000"),
    "action": ("UPDATE events SET action = 'user.login' " + W2,),
    "occurred_at": ("UPDATE events SET occurred_at = (SELECT occurred_at FROM events "
                    "WHERE workspace_id = :w AND sequence = 1) " + W2,),
    "received_at": ("UPDATE events SET received_at = (SELECT received_at FROM events "
                    "WHERE workspace_id = :w AND sequence = 1) " + W2,),
    "actor_id": ("UPDATE events SET actor_id = 'usr_7' " + W2,),
    "actor_type": ("UPDATE events SET actor_type = 'robot' " + W2,),
    "ip_address": ("UPDATE events SET ip_address = '198.51.100.1' " + W2,),
    "country_code": ("UPDATE events SET country_code = 'ZZ' " + W2,),
    "body": ("UPDATE events SET body = replace(body, 'Jane Roe', 'Jane Rod') " + W2,),
    "geo": ("UPDATE events SET geo = '{\"country_code\": \"ZZ\"}' " + W2,),
    "prev_hash": ("UPDATE events SET prev_hash = hash " + W2,),
    "hash": ("UPDATE events SET hash = prev_hash " + W2,),
}


TERM = ("WHERE term = 'target_id:doc_7' AND event_id = "
        "(SELECT id FROM events WHERE workspace_id = :w AND sequence = 2)")
TERM_CHANGES: dict[str, str] = {  # each changes the second event's term for its target
    "workspace_id": "UPDATE event_terms SET workspace_id = :other " + TERM,
    "term": "UPDATE event_terms SET term = 'target_id:doc_9' " + TERM,
    "occurred_at": "UPDATE event_terms SET occurred_at = (SELECT occurred_at FROM events "
                   "WHERE workspace_id = :w AND sequence = 1) " + TERM,
    "event_id": "UPDATE event_terms SET event_id = (SELECT id FROM events "
                "WHERE workspace_id = :w AND sequence = 1) " + TERM,
}
GAP = ("sequence_gap", 3, None)  # the second gone from the chain: the third follows the first
SEARCH = ("hash_mismatch", 2, "search_entries")  # hashed fields intact, searches misled
FOUND: dict[str, tuple[str, int, str | None]] = {  # (reason, first invalid sequence, detail)
    "id": ("hash_mismatch", 2, None), "workspace_id": GAP, "status": GAP,
    "sequence": ("prev_hash_mismatch", 2, None), "action": ("hash_mismatch", 2, None),
    "occurred_at": ("hash_mismatch", 2, None), "received_at": ("hash_mismatch", 2, None),
    "actor_id": SEARCH, "actor_type": SEARCH, "ip_address": SEARCH, "country_code": SEARCH,
    "body": ("hash_mismatch", 2, None), "geo": ("hash_mismatch", 2, None),
    "prev_hash": ("prev_hash_mismatch", 2, None), "hash": ("hash_mismatch", 2, None),
}


HEAD = "WHERE workspace_id = :w"
LEAVES = "WHERE workspace_id = :w AND level = 0"
CHAIN_CHANGES: dict[str, tuple[str, tuple[str, int]]] = {  # (statement, (reason, sequence))
    "chain_heads.sequence": ("UPDATE chain_heads SET sequence = 2 " + HEAD,
                             ("sequence_gap", 3)),  # the third disowned
    "chain_heads.hash": ("UPDATE chain_heads SET hash = anchor_hash " + HEAD,
                         ("hash_mismatch", 3)),
    "chain_heads.anchor_sequence": ("UPDATE chain_heads SET anchor_sequence = 1 " + HEAD,
                                    ("prev_hash_mismatch", 2)),  # the first passed over
    "chain_heads.anchor_hash": ("UPDATE chain_heads SET anchor_hash = hash " + HEAD,
                                ("prev_hash_mismatch", 1)),
    "tree_tiles.hashes": ("UPDATE tree_tiles SET hashes = (SELECT hashes FROM tree_tiles "
                          "WHERE workspace_id = :other AND level = 0) " + LEAVES,
                          ("tree_mismatch", 1)),
    "tree_tiles.level": ("UPDATE tree_tiles SET level = 5 " + LEAVES, ("tree_mismatch", 1)),
    "tree_tiles.tile": ("UPDATE tree_tiles SET tile = 7 " + LEAVES, ("tree_mismatch", 1)),
    "tree_tiles.workspace_id": ("UPDATE tree_tiles SET workspace_id = 'ws_elsewhere' " + LEAVES,
                                ("tree_mismatch", 1)),
}
"""The chain's own state: its head (kept apart from the events) and its Merkle tree."""
ELSEWHERE = {
    "chain_heads.workspace_id": "its key: another workspace's head is that workspace's",
    "chain_heads.anchor_note": "a retention anchor's signature, read only once retention "
                               "has run: test_transparency_log.py::"
                               "test_a_retention_anchor_is_signed_and_a_forged_one_is_caught",
}


def test_every_column_of_an_event_and_of_its_chain_has_a_change_below() -> None:
    assert set(CHANGES) == set(FOUND) == set(t.events.c.keys())
    assert set(TERM_CHANGES) == set(t.event_terms.c.keys())
    assert set(CHAIN_CHANGES) | set(ELSEWHERE) == {
        f"{table.name}.{column.name}" for table in (t.chain_heads, t.tree_tiles)
        for column in table.c}


def _post(stack: Stack, secret: str, events: list[dict[str, Any]]) -> None:
    response = stack.client.post("/api/v1/events/batch", data=json.dumps({"events": events}),
                                 headers={**bearer(secret),
                                          "Content-Type": "application/json"})
    assert response.status_code == 202


def _verify(stack: Stack, secret: str) -> dict[str, Any]:
    return stack.client.get("/api/v1/events/verify", headers=bearer(secret)).json


def _linked_three(stack: Stack) -> tuple[str, str, str, str]:
    """A workspace with three linked events, the first on its own (an earlier occurrence
    and receive time), and another workspace; their ids and keys."""
    workspace_id, secret = stack.new_workspace()
    other_id, other_secret = stack.new_workspace("Other")
    _post(stack, secret, [EARLIER])
    _post(stack, secret, [EVENT, EVENT])
    stack.drain()
    assert _verify(stack, secret)["valid"] is True
    return workspace_id, secret, other_id, other_secret


@pytest.mark.parametrize("column", sorted(CHANGES))
def test_a_change_to_any_column_of_a_linked_event_fails_verification(stack: Stack,
                                                                      column: str) -> None:
    workspace_id, secret, other_id, other_secret = _linked_three(stack)
    for statement in CHANGES[column]:
        assert stack.sql(statement, w=workspace_id, other=other_id) == 1, statement
    report = _verify(stack, secret)
    assert report["valid"] is False
    assert (report["reason"], report["first_invalid_sequence"], report.get("detail")) == \
        FOUND[column]
    # the other workspace's chain is untouched, unless the event was moved into it
    assert _verify(stack, other_secret)["valid"] is (column != "workspace_id")


@pytest.mark.parametrize("column", sorted(TERM_CHANGES))
def test_a_change_to_any_column_of_an_events_search_term_fails_verification(
        stack: Stack, column: str) -> None:
    """Terms are derived, not hashed: a changed one hides an event from a search, or files
    it under another, with every hash intact."""
    workspace_id, secret, other_id, _ = _linked_three(stack)
    assert stack.sql(TERM_CHANGES[column], w=workspace_id, other=other_id) == 1
    report = _verify(stack, secret)
    filed_under = 1 if column == "event_id" else 2  # the first now has a term not its own
    assert (report["valid"], report["reason"], report["first_invalid_sequence"],
            report["detail"]) == (False, "hash_mismatch", filed_under, "search_entries")


@pytest.mark.parametrize("column", sorted(CHAIN_CHANGES))
def test_a_change_to_the_chains_head_or_tree_fails_verification(stack: Stack,
                                                                column: str) -> None:
    workspace_id, secret, other_id, other_secret = _linked_three(stack)
    _post(stack, other_secret, [EVENT])  # a tree of another workspace's, to swap in
    stack.drain()
    statement, (reason, sequence) = CHAIN_CHANGES[column]
    assert stack.sql(statement, w=workspace_id, other=other_id) == 1
    report = _verify(stack, secret)
    assert (report["valid"], report["reason"], report["first_invalid_sequence"]) == \
        (False, reason, sequence)


def test_a_witness_paused_in_the_database_is_submitted_to_again(stack: Stack) -> None:
    """A retry or a lease dated a year ahead would stop the log's submissions to a witness
    for as long, with no alarm (a witness falling behind its log has none): the witness
    would hold an old checkpoint, and refuse no rewrite made after it. Neither is believed
    past the longest backoff and the clocks' skew (``Sending.is_due``, ``is_leased``); the
    same rule serves log streams and alert rules."""
    from domain.cosignatures import cosigner_key

    workspace_id, secret = stack.new_workspace()
    _post(stack, secret, [EVENT])
    stack.container.process_pending_events().execute(workspace_id)  # signed as it links
    added = stack.client.post("/api/v1/log/witnesses", headers=bearer(secret), json={
        "url": "https://w.example", "verifier_key": cosigner_key("witness.example/w",
                                                                 bytes(range(32)))})
    assert added.status_code == 201, added.json
    witness_id = added.json["id"]

    def due() -> bool:
        with stack.container.uow(read_only=True) as uow:
            return witness_id in uow.log_witnesses.due(datetime.now(UTC), 10_000)

    assert due()
    for column, ahead in (("next_attempt_at", timedelta(minutes=10)),
                          ("leased_until", timedelta(minutes=2))):
        stack.sql(f"UPDATE log_witnesses SET {column} = :t WHERE id = :id", id=witness_id,
                  t=datetime.now(UTC) + ahead)
        assert not due()  # a backoff or a lease as sending sets them: believed
        stack.sql(f"UPDATE log_witnesses SET {column} = :t WHERE id = :id", id=witness_id,
                  t=datetime.now(UTC) + timedelta(days=365))
        assert due(), column
        stack.sql(f"UPDATE log_witnesses SET {column} = NULL WHERE id = :id", id=witness_id)
