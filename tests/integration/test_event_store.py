"""The event repository's insert: atomic and committed in a ``single_write`` unit of work,
which on PostgreSQL runs without a transaction of its own."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import DBAPIError

from tests.factories import EventFactory
from tests.integration.stacks import Stack

SIZES = [1, 7, 25]  # one INSERT below the COPY threshold (20), two COPYs above it


def _events(workspace_id: str, count: int, target_id: str = "doc") -> list[Any]:
    return [EventFactory(workspace_id=workspace_id,
                         targets=[{"id": f"{target_id}{i}", "type": "document"}])
            for i in range(count)]


def _stored(stack: Stack, workspace_id: str) -> tuple[int, int]:
    events = stack.sql("SELECT count(*) FROM events WHERE workspace_id = :w", w=workspace_id)
    terms = stack.sql("SELECT count(*) FROM event_terms WHERE workspace_id = :w",
                      w=workspace_id)
    return events[0][0], terms[0][0]


@pytest.mark.parametrize("count", SIZES)
def test_a_single_write_stores_events_and_terms_and_commits(stack: Stack, count: int) -> None:
    workspace_id, _ = stack.new_workspace()
    with stack.container.uow(single_write=True) as uow:
        uow.events.add_many(_events(workspace_id, count))
        uow.commit()
    # action "user.login" gives one prefix term; each target an id and a type term
    assert _stored(stack, workspace_id) == (count, count * 3)


@pytest.mark.parametrize("count", SIZES)
def test_a_failing_single_write_stores_nothing(stack_factory: Any, count: int) -> None:
    """The terms are written after the events; when they fail, the events must go too."""
    stack = stack_factory("production")
    workspace_id, _ = stack.new_workspace()
    events = _events(workspace_id, count)
    events[-1] = EventFactory(workspace_id=workspace_id,  # a term longer than its column
                              targets=[{"id": "x" * 400, "type": "document"}])
    with pytest.raises(DBAPIError), stack.container.uow(single_write=True) as uow:
        uow.events.add_many(events)
        uow.commit()
    assert _stored(stack, workspace_id) == (0, 0)


def test_only_one_statement_units_run_outside_a_transaction(stack_factory: Any) -> None:
    """The engine's connections default to autocommit; every other unit must still hold
    one transaction (processing relies on its row lock lasting until the commit)."""
    stack = stack_factory("production")

    def transaction_ids(**kind: bool) -> set[int]:
        with stack.container.uow(**kind) as uow:
            db = uow._connection  # the unit's own connection, to ask PostgreSQL directly
            return {db.exec_driver_sql("SELECT pg_current_xact_id()::text::bigint").scalar()
                    for _ in range(3)}

    assert len(transaction_ids()) == 1
    assert len(transaction_ids(snapshot=True)) == 1
    assert len(transaction_ids(single_write=True)) == 3
    assert len(transaction_ids(read_only=True)) == 3


@pytest.mark.parametrize(("first", "last", "chunk"), [(1, None, 2), (2, 6, 2), (3, 5, 10),
                                                      (7, None, 3), (8, None, 1)])
def test_the_chain_reads_as_single_events_do(stack: Stack, first: int, last: int | None,
                                             chunk: int) -> None:
    """Verification reads the chain in keyset chunks: they must neither skip nor repeat an
    event, must respect the range, and must give the events exactly as a single read does."""
    workspace_id, _ = stack.new_workspace()
    bodies = [{"action": "user.login", "occurred_at": f"2026-11-26T13:31:4{n}.12345{n}+02:00",
               "actor": {"id": f"usr_{n}", "type": "user", "metadata": {"ratio": 1.0 + n}},
               "targets": [{"id": "doc", "type": "document", "name": "Zoë 🙂"}],
               "context": {"ip_address": "203.0.113.7"}, "metadata": {"n": n, "none": None}}
              for n in range(7)]
    stack.container.ingest_events().execute(workspace_id, bodies, batch=True)
    stack.drain()
    with stack.container.uow(snapshot=True) as uow:
        chain = list(uow.events.iter_chain(workspace_id, first, last, chunk))
        singles = [uow.events.get(workspace_id, event.id) for event in chain]
    expected = list(range(first, min(last or 7, 7) + 1))
    assert [event.sequence for event in chain] == expected
    assert chain == singles
    assert [event.document() for event in chain] == [event.document() for event in singles]


@pytest.mark.parametrize("chunk", [2, 5])
def test_the_verifiable_chain_is_read_as_of_the_units_snapshot(stack: Stack,
                                                               chunk: int) -> None:
    """On PostgreSQL the chain is read down a second connection, so that the next chunk is
    read while this one is checked: it must share the unit's snapshot, or events linked
    after the unit began would show past the head it read."""
    workspace_id, _ = stack.new_workspace()
    ingest = stack.container.ingest_events()
    ingest.execute(workspace_id, [{"action": "user.login", "actor": {"id": "u", "type": "user"}}]
                   * 5, batch=True)
    stack.drain()
    with stack.container.uow(snapshot=True) as uow:
        head = uow.chains.retained(workspace_id).head
        ingest.execute(workspace_id, [{"action": "user.logout",
                                       "actor": {"id": "u", "type": "user"}}] * 3, batch=True)
        stack.drain()
        pairs = [pair for pairs in uow.events.verifiable_chain(workspace_id, 1, None, chunk)
                 for pair in pairs]
    assert head.sequence == 5 and stack.sql(
        "SELECT count(*) FROM events WHERE workspace_id = :w AND sequence IS NOT NULL",
        w=workspace_id)[0][0] == 8
    assert [event.sequence for event, _ in pairs] == [1, 2, 3, 4, 5]
    assert all(entries is not None and entries.describe(event) for event, entries in pairs)
