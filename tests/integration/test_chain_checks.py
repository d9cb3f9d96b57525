"""Scheduled chain checks on both stacks: upkeep claims the chains due, a real worker (the
embedded thread, or RQ) verifies each, and a chain changed in the database is reported -
in the workspace's own log, in /metrics, in `auditrail status` and in the worker's log -
once, and again when it is repaired."""

from __future__ import annotations

import json
import logging
import re
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from adapters.sql import tables as t
from entrypoints.cli import main
from entrypoints.settings import Settings, SettingsError
from tests.integration.stacks import (
    Stack,
    bearer,
    embedded_stack,
    point_the_cli_at,
    production_stack,
    stack_of_its_own,
)

LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["embedded", "production"])
def stack(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    """A database of the test's own: checks take the longest-unchecked chains of the
    whole database first."""
    built = stack_of_its_own(request, tmp_path / "var")
    yield built
    built.close()


def call(stack: Stack, method: str, path: str, key: str, body: Any = None) -> Any:
    response = stack.client.open(f"/api/v1{path}", method=method, headers=bearer(key),
                                 json=body)
    assert response.status_code < 300, (path, response.status_code, response.json)
    return response.json


def checks(stack: Stack, workspace_id: str) -> dict[str, Any]:
    """The row as its types read it (a boolean, not SQLite's 1)."""
    with stack.container.engine().connect() as connection:
        row = connection.execute(select(t.chain_checks).where(
            t.chain_checks.c.workspace_id == workspace_id)).mappings().first()
    return dict(row) if row is not None else {}


def check_again(stack: Stack, workspace_id: str) -> None:
    """Age the latest check past the interval, and run what upkeep runs, then the jobs."""
    with stack.container.engine().begin() as connection:
        connection.execute(update(t.chain_checks).where(
            t.chain_checks.c.workspace_id == workspace_id).values(checked_at=LONG_AGO))
    assert stack.container.schedule_chain_checks().execute() == [workspace_id]
    stack.drain()


def test_a_chain_changed_in_the_database_is_reported_once_and_its_repair_too(
        stack: Stack, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    workspace_id, admin = stack.new_workspace()
    call(stack, "PATCH", "/workspace", admin, {"record_activity": True})
    call(stack, "POST", "/events/batch", admin, {"events": [
        {"action": "user.login", "actor": {"id": f"usr_{n}", "type": "user",
                                           "name": "Jane Roe"}} for n in range(12)]})
    stack.drain()  # processing, and upkeep's first check of the new chain
    assert stack.deliver_until(lambda: checks(stack, workspace_id).get("valid") is True)
    assert checks(stack, workspace_id)["claimed_until"] is None

    stack.sql("UPDATE events SET body = replace(body, 'Jane Roe', 'Jane Rod') "
              "WHERE workspace_id = :w AND sequence = 5", w=workspace_id)
    with caplog.at_level(logging.INFO):
        check_again(stack, workspace_id)
    assert checks(stack, workspace_id)["valid"] is False
    assert checks(stack, workspace_id)["checked"] == 5  # up to the broken one, as verify says
    assert f"the chain of {workspace_id} is invalid: hash_mismatch at sequence 5" in \
        caplog.text
    records = call(stack, "GET", "/events?action=auditrail.chain.*&order=asc", admin)["data"]
    assert [r["action"] for r in records] == ["auditrail.chain.invalid"]
    assert records[0]["metadata"]["first_invalid_sequence"] == 5
    assert records[0]["actor"]["type"] == "system"
    metrics = stack.client.get("/metrics").get_data(as_text=True)
    assert "auditrail_chains_invalid 1.0" in metrics
    assert "auditrail_chain_checks_overdue 0.0" in metrics

    point_the_cli_at(stack, monkeypatch)
    status = CliRunner().invoke(main, ["status", "--json"])
    assert status.exit_code == 0, status.output
    report = json.loads(status.output)
    assert report["chains_invalid"] == 1
    assert [(c["workspace_id"], c["reason"], c["first_invalid_sequence"])
            for c in report["invalid_chains"]] == [(workspace_id, "hash_mismatch", 5)]
    text = CliRunner().invoke(main, ["status"]).output
    assert f"{workspace_id}  hash_mismatch at sequence 5, invalid since" in text

    check_again(stack, workspace_id)  # still invalid: nothing more recorded
    records = call(stack, "GET", "/events?action=auditrail.chain.*&order=asc", admin)["data"]
    assert len(records) == 1

    said = CliRunner().invoke(main, ["chains", "check", workspace_id])
    assert said.exit_code == 1
    assert said.stdout.startswith(f"{workspace_id}: INVALID, hash_mismatch at sequence 5 "
                                  "(event evt_")
    other, _ = stack.new_workspace("Other")
    every = CliRunner().invoke(main, ["chains", "check", "--all"])  # after a restore, say
    assert every.exit_code == 1, every.output
    *lines, summary = every.stdout.splitlines()
    assert sorted(line.split(",")[0] for line in lines) == sorted([
        f"{workspace_id}: INVALID", f"{other}: valid"])
    assert summary == "2 chain(s) checked, 1 invalid"
    every = CliRunner().invoke(main, ["chains", "check", "--all", "--json"])
    assert sorted((doc["workspace_id"], doc["valid"]) for doc in map(
        json.loads, every.stdout.splitlines())) == sorted([(workspace_id, False), (other, True)])
    for wrong in ([], [workspace_id, "--all"]):
        misuse = CliRunner().invoke(main, ["chains", "check", *wrong])
        assert misuse.exit_code == 2 and "name one workspace, or give --all" in misuse.output

    stack.sql("UPDATE events SET body = replace(body, 'Jane Rod', 'Jane Roe') "
              "WHERE workspace_id = :w AND sequence = 5", w=workspace_id)
    said = CliRunner().invoke(main, ["chains", "check", workspace_id, "--json"])
    assert said.exit_code == 0, said.output  # the operator's check after the repair
    assert json.loads(said.stdout)["valid"] is True
    assert checks(stack, workspace_id)["valid"] is True
    stack.drain()  # the record the command wrote is linked by the workers
    records = call(stack, "GET", "/events?action=auditrail.chain.*&order=asc", admin)["data"]
    assert [r["action"] for r in records] == ["auditrail.chain.invalid",
                                              "auditrail.chain.recovered"]
    assert call(stack, "GET", "/events/verify", admin)["valid"] is True  # records linked
    assert "auditrail_chains_invalid 0.0" in stack.client.get("/metrics").get_data(as_text=True)
    gone = CliRunner().invoke(main, ["chains", "check", "ws_nonexistent"])
    assert gone.exit_code == 1 and "no workspace ws_nonexistent" in gone.output


class _StepClock:
    """A minute later each time it is asked: a check that reads slowly."""

    def __init__(self) -> None:
        self._asked = 0

    def now(self) -> datetime:
        self._asked += 1
        return datetime.now(UTC) + timedelta(minutes=self._asked)


def test_a_long_check_moves_its_claim_on_as_it_reads(stack: Stack) -> None:
    """Each renewal commits beside the check's open snapshot (SQLite's WAL, PostgreSQL's
    repeatable read), so other workers see the chain held while the check goes on."""
    workspace_id, admin = stack.new_workspace()
    call(stack, "POST", "/events/batch", admin, {"events": [
        {"action": "user.login", "actor": {"id": f"usr_{n}", "type": "user"}}
        for n in range(20)]})
    stack.drain()
    verify = stack.container.verify_chain(chunk_size=5)
    held: list[datetime] = []

    class Watched:
        def execute(self, workspace_id: str, progress: Any) -> Any:
            def watched() -> None:
                progress()
                held.append(checks(stack, workspace_id)["claimed_until"])
            return verify.execute(workspace_id, progress=watched)

    check = stack.container.check_chain(clock=_StepClock(), verify=Watched()).execute(
        workspace_id)
    assert check is not None and check.valid and check.checked >= 20
    assert len(held) >= 4 and held == sorted(set(held))  # moved on after every chunk
    assert checks(stack, workspace_id)["claimed_until"] is None


def test_checks_silenced_in_the_database_are_checked_or_counted_overdue(stack: Stack) -> None:
    """UPDATEs that would have silenced the tamper alarm: a check dated far ahead (due
    again at once, and overdue meanwhile), a claim far ahead (two would have taken both
    slots, stopping every check), and a chain marked as being deleted (left unchecked, as
    a deletion needs, but counted overdue once it has gone unchecked)."""
    ahead, _ = stack.new_workspace("Ahead")
    marked, _ = stack.new_workspace("Marked")
    held, _ = stack.new_workspace("Held")
    assert stack.deliver_until(lambda: all(checks(stack, w).get("valid") is True
                                           for w in (ahead, marked, held)), timeout=10)
    with stack.container.engine().begin() as connection:
        connection.execute(update(t.chain_checks).where(
            t.chain_checks.c.workspace_id == held).values(
                checked_at=LONG_AGO, claimed_until=datetime(2999, 1, 1, tzinfo=UTC)))
    assert stack.container.schedule_chain_checks().execute() == [held]
    stack.drain()
    assert checks(stack, held)["checked_at"] > LONG_AGO
    health = stack.container.chain_health()
    assert health.execute().overdue == 0
    with stack.container.engine().begin() as connection:
        connection.execute(update(t.chain_checks).where(
            t.chain_checks.c.workspace_id == ahead).values(
                checked_at=datetime(2999, 1, 1, tzinfo=UTC)))
        connection.execute(update(t.chain_checks).where(
            t.chain_checks.c.workspace_id == marked).values(checked_at=LONG_AGO,
                                                            deleting=True))
    assert health.execute().overdue == 2
    assert stack.container.schedule_chain_checks().execute() == [ahead]
    stack.drain()
    assert checks(stack, ahead)["checked_at"] < datetime.now(UTC)
    assert health.execute().overdue == 1  # the one marked: its check stays off


def test_upkeep_checks_every_chain_it_finds_without_being_asked(stack: Stack) -> None:
    """No call of the test's: upkeep at the worker's start finds the new chains, two at a
    time, and each check queues the next, without waiting for the next upkeep (15 s)."""
    ids = [stack.new_workspace(f"W{n}")[0] for n in range(7)]
    assert stack.deliver_until(
        lambda: all(checks(stack, w).get("valid") is True for w in ids), timeout=10)


def test_a_chain_being_linked_meanwhile_is_never_taken_for_tampered(stack: Stack) -> None:
    """Each check reads one snapshot: events linked, tiles written and checkpoints signed
    while it reads are not half seen."""
    workspace_id, _ = stack.new_workspace()
    done, checked_once = threading.Event(), threading.Event()

    def link_in_chunks() -> None:
        ingest, process = (stack.container.ingest_events(),
                           stack.container.process_pending_events())
        try:
            for chunk in range(40):
                ingest.execute(workspace_id, [{"action": "user.login",
                                               "actor": {"id": "u", "type": "user"}}] * 50,
                               batch=True)
                process.execute(workspace_id)
                stack.container.transparency_log().sign(workspace_id)
                if chunk == 0:  # on a busy machine the linking could otherwise end first
                    checked_once.wait(timeout=30)
        finally:
            done.set()

    linking = threading.Thread(target=link_in_chunks)
    linking.start()
    found = []
    while not done.is_set() or len(found) < 3:
        found.append(stack.container.check_chain().execute(workspace_id))
        checked_once.set()
    linking.join()
    assert all(check is not None and check.valid for check in found), [
        check.described() for check in found if check is not None and not check.valid]
    assert len({check.checked for check in found if check is not None}) > 1  # it grew


def test_the_interval_is_a_setting_and_0_turns_the_checks_off(tmp_path: Any) -> None:
    assert Settings.from_env({}).chain_check_hours == 24
    assert Settings.from_env({"AUDITRAIL_CHAIN_CHECK_HOURS": "168"}).chain_check_hours == 168
    for bad in ("-1", "8761", "1.5", "daily"):
        with pytest.raises(SettingsError, match="AUDITRAIL_CHAIN_CHECK_HOURS"):
            Settings.from_env({"AUDITRAIL_CHAIN_CHECK_HOURS": bad})
    off = embedded_stack(tmp_path / "var", chain_check_hours=0)
    try:
        off.new_workspace()
        assert off.container.schedule_chain_checks().execute() == []
        metrics = off.client.get("/metrics").get_data(as_text=True)
        assert "auditrail_chains_invalid 0.0" in metrics
        assert "auditrail_chain_checks_overdue" not in metrics
        assert off.container.chain_health().execute().overdue is None
    finally:
        off.close()


def test_how_often_a_workspace_may_ask_is_a_setting(tmp_path: Any) -> None:
    assert Settings.from_env({}).chain_check_request_minutes == 5
    assert Settings.from_env({"AUDITRAIL_CHAIN_CHECK_REQUEST_MINUTES": "1440"}) \
        .chain_check_request_minutes == 1440
    for bad in ("0", "10081", "hourly"):
        with pytest.raises(SettingsError, match="AUDITRAIL_CHAIN_CHECK_REQUEST_MINUTES"):
            Settings.from_env({"AUDITRAIL_CHAIN_CHECK_REQUEST_MINUTES": bad})
    daily = embedded_stack(tmp_path / "var", chain_check_request_minutes=1440)
    try:
        _, key = daily.new_workspace()
        assert daily.client.post("/api/v1/chain-check", headers=bearer(key)).status_code \
            == 202
        assert daily.deliver_until(lambda: call(daily, "GET", "/chain-check", key)["valid"])
        again = daily.client.post("/api/v1/chain-check", headers=bearer(key))
        assert (again.status_code, again.json["error"]["code"]) == (429, "rate_limited")
        assert 86000 < int(again.headers["Retry-After"]) <= 86400
        assert "checked less than 1440 minutes ago" in again.json["error"]["message"]
    finally:
        daily.close()


def test_a_check_may_run_for_a_day_on_rq(tmp_path: Any, request: pytest.FixtureRequest
                                         ) -> None:
    """RQ stops a job after its timeout; a check of a chain of a billion events runs for
    most of a day (a hung one is retaken when its ten-minute claim lapses)."""
    stack = production_stack(request.getfixturevalue("postgres_url"),
                             request.getfixturevalue("redis_url"), data_dir=tmp_path / "var")
    try:
        queue = stack.container.job_queue()
        queue.enqueue_chain_checks(["ws_gone"])
        [job] = [job for each in queue.queues for job in each.jobs
                 if job.func_name.endswith("check_chain")]
        assert job.timeout == 24 * 3600
        stack.drain()  # a workspace that is not there: nothing checked, nothing kept
        assert checks(stack, "ws_gone") == {}
    finally:
        stack.close()


def requested(stack: Stack) -> dict[str, float]:
    """``auditrail_chain_checks_requested_total`` by outcome, as /metrics says now."""
    text = stack.client.get("/metrics").get_data(as_text=True)
    return {outcome: float(value) for outcome, value in re.findall(
        r'^auditrail_chain_checks_requested_total\{outcome="(\w+)"\} (\S+)$', text, re.M)}


def test_a_workspace_reads_its_chain_checks_and_asks_for_one_now(stack: Stack) -> None:
    before = requested(stack)
    assert set(before) == {"queued", "already", "too_soon", "busy"}  # from 0, each
    workspace_id, key = stack.new_workspace()
    other, other_key = stack.new_workspace("Other")
    never = call(stack, "GET", "/chain-check", key)
    assert never == {"status": "idle", "checked_at": None, "valid": None, "checked": 0,
                     "reason": None, "detail": None, "first_invalid_sequence": None,
                     "event_id": None, "invalid_since": None, "next_check_at": None}
    call(stack, "POST", "/events/batch", key, {"events": [
        {"action": "user.login", "actor": {"id": f"usr_{n}", "type": "user",
                                           "name": "Jane Roe"}} for n in range(3)]})
    stack.drain()  # processing, and upkeep's first check of the new chain
    assert stack.deliver_until(lambda: call(stack, "GET", "/chain-check", key)["valid"])
    checked = call(stack, "GET", "/chain-check", key)
    assert checked["status"] == "idle" and checked["checked_at"] is not None
    assert datetime.fromisoformat(checked["next_check_at"]) - datetime.fromisoformat(
        checked["checked_at"]) == timedelta(hours=24)

    again = stack.client.post("/api/v1/chain-check", headers=bearer(key))
    assert (again.status_code, again.json["error"]["code"]) == (429, "rate_limited")
    assert 0 < int(again.headers["Retry-After"]) <= 300
    assert "checked less than 5 minutes ago" in again.json["error"]["message"]

    stack.sql("UPDATE events SET body = replace(body, 'Jane Roe', 'Jane Rod') "
              "WHERE workspace_id = :w AND sequence = 2", w=workspace_id)
    stack.sql("UPDATE chain_checks SET checked_at = :t WHERE workspace_id = :w",
              t=LONG_AGO, w=workspace_id)
    asked = stack.client.post("/api/v1/chain-check", headers=bearer(key))
    assert asked.status_code == 202 and asked.json["status"] == "checking"
    stack.drain()
    found = call(stack, "GET", "/chain-check", key)
    assert (found["status"], found["valid"], found["reason"], found["first_invalid_sequence"],
            found["checked"]) == ("idle", False, "hash_mismatch", 2, 2)
    assert found["invalid_since"] == found["checked_at"]
    stack.sql("UPDATE chain_checks SET claimed_until = :u WHERE workspace_id = :w",
              u=datetime.now(UTC) + timedelta(minutes=30), w=workspace_id)  # one queued
    assert call(stack, "POST", "/chain-check", key)["status"] == "checking"  # that one
    assert call(stack, "GET", "/chain-check", other_key)["valid"] is True  # its own

    busy = datetime.now(UTC) + timedelta(minutes=30)  # two chains being checked elsewhere
    for held in (workspace_id, other):
        stack.sql("INSERT INTO chain_checks (workspace_id, checked, deleting) "
                  "VALUES (:w, 0, false) ON CONFLICT (workspace_id) DO NOTHING", w=held)
        stack.sql("UPDATE chain_checks SET claimed_until = :u WHERE workspace_id = :w",
                  u=busy, w=held)
    _, third_key = stack.new_workspace("Third")
    refused = stack.client.post("/api/v1/chain-check", headers=bearer(third_key))
    assert (refused.status_code, refused.json["error"]["code"]) == (503, "unavailable")
    assert refused.headers["Retry-After"] == "60"
    assert call(stack, "GET", "/chain-check", third_key)["status"] == "idle"  # nothing queued
    assert call(stack, "GET", "/chain-check", key)["status"] == "checking"
    after = requested(stack)
    assert {outcome: after[outcome] - before[outcome] for outcome in after} == {
        "queued": 1, "already": 1, "too_soon": 1, "busy": 1}
    writer = stack.new_key(workspace_id, "events:write")
    denied = stack.client.get("/api/v1/chain-check", headers=bearer(writer))
    assert (denied.status_code, denied.json["error"]["code"]) == (403, "insufficient_scope")
