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
