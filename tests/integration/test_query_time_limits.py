"""AUDITRAIL_QUERY_TIMEOUT_SECONDS on both stacks: a search or its stats that runs over
the limit is stopped by the database and answered ``503 query_timeout``, counted and
logged; nothing of the limit stays on the pooled connections that served it. And
AUDITRAIL_VERIFICATIONS_AT_ONCE: verifications past the bound are turned away at once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy.exc import DBAPIError

from adapters.sql.engine import TRANSACTION
from adapters.sql.time_limits import TimeLimit
from application.errors import QueryTimedOut
from tests.integration.stacks import Stack, bearer

EVENT = {"action": "user.login", "actor": {"id": "usr_1", "type": "user"}}
LIMIT = {"embedded": 0.000001, "production": 0.3}
"""On SQLite a microsecond: the check comes every few thousand steps of its engine, so a
search over thousands of events is stopped at the first. On PostgreSQL the statement
waits behind a lock (below) until the limit stops it."""


@pytest.fixture(params=["embedded", "production"])
def stack(request: pytest.FixtureRequest, stack_factory: Any) -> Stack:
    return stack_factory(request.param, query_timeout_seconds=LIMIT[request.param])


@contextmanager
def slowed(stack: Stack) -> Iterator[None]:
    """Reading the events slower than the limit: on PostgreSQL another transaction holds
    the events table, as a long migration or a VACUUM FULL would."""
    if stack.name == "embedded":
        yield
        return
    with stack.container.engine().connect() as other:
        other.exec_driver_sql("BEGIN")
        other.exec_driver_sql("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            other.exec_driver_sql("ROLLBACK")


def ingested(stack: Stack, batches: int = 5) -> str:
    _, admin = stack.new_workspace()
    for _ in range(batches):
        response = stack.client.post("/api/v1/events/batch", headers=bearer(admin),
                                     json={"events": [EVENT] * 1000})
        assert response.status_code == 202
    return admin


def timed_out() -> float:
    return REGISTRY.get_sample_value("auditrail_queries_timed_out_total") or 0.0


def test_a_search_over_the_limit_is_stopped_and_said_so(stack: Stack,
                                                       caplog: pytest.LogCaptureFixture
                                                       ) -> None:
    admin = ingested(stack)
    before = timed_out()
    with slowed(stack):
        search = stack.client.get("/api/v1/events?actor_id=usr_1", headers=bearer(admin))
        stats = stack.client.get("/api/v1/events/stats?group_by=action", headers=bearer(admin))
    for answer in (search, stats):
        assert answer.status_code == 503, answer.json
        error = answer.json["error"]
        assert error["code"] == "query_timeout"
        assert f"({LIMIT[stack.name]:g} s)" in error["message"]
        assert "since/until" in error["message"] and "exports" in error["message"]
        assert error["request_id"].startswith("req_")
        assert "Retry-After" not in answer.headers  # the same question would fail alike
    assert timed_out() == before + 2
    stopped = [r.getMessage() for r in caplog.records if "time limit" in r.getMessage()]
    assert len(stopped) == 2 and "GET /api/v1/events/stats" in stopped[1]
    assert "usr_1" not in " ".join(stopped)  # the filters (personal data) are not logged


def test_what_the_limit_does_not_cover_still_runs_on_the_same_connections(
        stack: Stack) -> None:
    admin = ingested(stack)
    with slowed(stack):
        assert stack.client.get("/api/v1/events", headers=bearer(admin)).status_code == 503
    # Processing reads and writes every event on the pooled connections the search used:
    # a limit left on one (a progress handler, a session setting) would stop it.
    stack.drain()
    one = stack.client.get("/api/v1/events?limit=1&status=processed",
                           headers=bearer(admin)).json
    if stack.name == "production":
        assert one["total_count"] == 5000
        assert timeouts_on_pooled_connections(stack) == {"0"}
    else:  # a microsecond is too short for any search of these, but not for one event
        event_id = stack.sql("SELECT id FROM events LIMIT 1")[0][0]
        answer = stack.client.get(f"/api/v1/events/{event_id}", headers=bearer(admin))
        assert answer.json["status"] == "processed"


def timeouts_on_pooled_connections(stack: Stack) -> set[str]:
    """``statement_timeout`` on every connection the pool holds, each checked out at once."""
    engine = stack.container.engine()
    connections = [engine.connect() for _ in range(max(1, engine.pool.checkedin()))]
    try:
        return {c.exec_driver_sql("SHOW statement_timeout").scalar_one() for c in connections}
    finally:
        for connection in connections:
            with suppress(Exception):
                connection.close()


def test_the_limit_holds_for_a_units_statements_together(stack_factory: Any) -> None:
    """A search is a page and a count: each just under the limit must not make a request
    twice as long as the operator allowed. (SQLite's progress handler checks one deadline
    for the unit already.)"""
    stack = stack_factory("production")
    limit = TimeLimit(0.6)
    with stack.container.engine().connect().execution_options(**TRANSACTION) as connection, \
            connection.begin():  # as a limited unit of work opens one
        limit.start(connection)
        try:
            connection.exec_driver_sql("SELECT pg_sleep(0.35)")  # within the limit
            started = time.monotonic()
            with pytest.raises(DBAPIError) as stopped:  # not within what is left of it
                connection.exec_driver_sql("SELECT pg_sleep(0.35)")
            assert time.monotonic() - started < 0.33
            with pytest.raises(QueryTimedOut):
                limit.raise_if_exceeded(stopped.value)
            time.sleep(0.3)
            with pytest.raises(QueryTimedOut):  # none left: not even sent
                connection.exec_driver_sql("SELECT 1")
        finally:
            limit.stop(connection)


def test_no_limit_when_set_to_zero(stack_factory: Any) -> None:
    stack = stack_factory("embedded", query_timeout_seconds=0)
    admin = ingested(stack, batches=2)
    answer = stack.client.get("/api/v1/events?actor_id=usr_1", headers=bearer(admin))
    assert answer.status_code == 200 and answer.json["total_count"] == 2000


def test_the_setting_takes_seconds_and_refuses_what_cannot_work() -> None:
    from entrypoints.settings import Settings, SettingsError

    assert Settings.from_env({}).query_timeout_seconds == 20
    assert Settings.from_env({"AUDITRAIL_QUERY_TIMEOUT_SECONDS": "2.5"}
                             ).query_timeout_seconds == 2.5
    for bad in ("-1", "soon", "3601"):
        with pytest.raises(SettingsError, match="AUDITRAIL_QUERY_TIMEOUT_SECONDS"):
            Settings.from_env({"AUDITRAIL_QUERY_TIMEOUT_SECONDS": bad})
    assert Settings.from_env({}).verifications_at_once == 2
    with pytest.raises(SettingsError, match="AUDITRAIL_VERIFICATIONS_AT_ONCE"):
        Settings.from_env({"AUDITRAIL_VERIFICATIONS_AT_ONCE": "-1"})


def test_verifications_past_the_bound_are_told_to_come_back(stack_factory: Any,
                                                           postgres_url: str) -> None:
    """AUDITRAIL_VERIFICATIONS_AT_ONCE: one verification waits behind a lock (a long
    chain's read); the next is answered at once, 503 with Retry-After, and the first
    still completes. Other requests are served meanwhile."""
    import threading

    stack = stack_factory("production", verifications_at_once=1)
    admin = ingested(stack, batches=1)
    stack.drain()
    first: list[Any] = []
    with slowed(stack):
        running = threading.Thread(target=lambda: first.append(stack.client.get(
            "/api/v1/events/verify", headers=bearer(admin))))
        running.start()
        deadline = time.monotonic() + 10
        while not waiting_on_the_lock(stack) and time.monotonic() < deadline:
            time.sleep(0.05)
        second = stack.client.get("/api/v1/events/verify", headers=bearer(admin))
        assert second.status_code == 503 and second.headers["Retry-After"] == "10"
        assert second.json["error"]["code"] == "unavailable"
        assert "running 1 chain verifications already" in second.json["error"]["message"]
        assert stack.client.get("/api/v1/workspace", headers=bearer(admin)).status_code == 200
    running.join(30)
    assert first[0].status_code == 200 and first[0].json["checked"] == 1000
    again = stack.client.get("/api/v1/events/verify", headers=bearer(admin))
    assert again.status_code == 200  # the slot was given back


def waiting_on_the_lock(stack: Stack) -> bool:
    return stack.sql("SELECT count(*) FROM pg_locks WHERE NOT granted")[0][0] > 0
