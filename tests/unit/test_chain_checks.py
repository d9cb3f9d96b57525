"""Scheduled checks of every chain: when one is due, who may run it, what it keeps, and what
it tells (the log, the workspace's own records, the operator's counts)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from application.errors import AskedTooSoon, Busy
from application.use_cases.check_chains import (
    CheckChain,
    GetChainHealth,
    ScheduleChainChecks,
)
from application.use_cases.delete_workspace import DeleteWorkspace
from application.use_cases.verify_chain import VerifyChain
from application.use_cases.workspaces import CreateWorkspace
from domain.activity import chain_turned
from domain.chain_checks import LONGEST_CLAIM, ChainCheck
from domain.timestamps import CLOCK_SKEW
from domain.verification import TREE_MISMATCH, VerificationReport
from tests.fakes import FakeBlobStore, FakeCredentialChanges
from tests.unit.test_activity import Recording
from tests.unit.test_transparency import linked, signing

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
DAY = timedelta(hours=24)
VALID = VerificationReport(valid=True, checked=5)
BROKEN = VerificationReport(valid=False, checked=2, first_invalid_sequence=3, event_id="evt_3",
                            reason=TREE_MISMATCH)


def test_a_chain_is_due_when_unchecked_or_checked_an_interval_ago_and_unclaimed() -> None:
    fresh = ChainCheck("ws_1")
    assert fresh.due(NOW, DAY)
    claimed = fresh.claimed(NOW + timedelta(hours=1))
    assert not claimed.due(NOW, DAY)
    assert claimed.due(NOW + timedelta(hours=1), DAY)  # the claim lapsed: a worker died
    checked = claimed.found(VALID, NOW)
    assert checked.claimed_until is None and checked.checked_at == NOW and checked.checked == 5
    assert not checked.due(NOW + DAY - timedelta(seconds=1), DAY)
    assert checked.due(NOW + DAY, DAY)
    assert not ChainCheck("ws_1", deleting=True).due(NOW, DAY)


def test_a_check_dated_in_the_future_is_no_check() -> None:
    """One UPDATE of the time would otherwise silence the checks for as long; clocks
    that differ by less than CLOCK_SKEW are no reason to check early."""
    assert not ChainCheck("ws_1", checked_at=NOW + CLOCK_SKEW).due(NOW, DAY)
    ahead = ChainCheck("ws_1", checked_at=NOW + CLOCK_SKEW + timedelta(seconds=1))
    assert ahead.due(NOW, DAY) and ahead.unchecked_since(NOW - 2 * DAY, NOW)


def test_a_claim_further_ahead_than_any_check_makes_is_no_claim(world: Checking) -> None:
    """Believed, two such claims would take both slots and stop every chain's checks."""
    horizon = LONGEST_CLAIM + CLOCK_SKEW
    assert ChainCheck("ws_1", claimed_until=NOW + horizon).checking(NOW)
    beyond = ChainCheck("ws_1", claimed_until=NOW + horizon + timedelta(seconds=1))
    assert not beyond.checking(NOW) and beyond.due(NOW, DAY)
    ws, second, third = world.workspace.id, world.another("B"), world.another("C")
    store = world.uow._store.chain_checks
    for each in (ws, second):
        store[each] = ChainCheck(each, claimed_until=world.clock.now() + timedelta(days=365))
    assert world.schedule.execute() == [ws, second]  # claimed anew, as if never
    assert world.schedule.execute() == []  # those claims are real: no room
    world.check.execute(ws)
    assert world.schedule.execute() == [third]


def test_a_run_of_invalid_checks_keeps_when_it_began() -> None:
    first = ChainCheck("ws_1").found(BROKEN, NOW)
    again = first.found(BROKEN, NOW + DAY)
    assert (first.invalid_since, again.invalid_since) == (NOW, NOW)
    assert again.described() == "tree_mismatch at sequence 3"
    assert again.found(VALID, NOW + 2 * DAY).invalid_since is None


def test_only_a_turn_is_recorded() -> None:
    never, valid = ChainCheck("ws_1"), ChainCheck("ws_1").found(VALID, NOW)
    invalid = valid.found(BROKEN, NOW + DAY)
    assert chain_turned(never, valid) is None
    turned = chain_turned(valid, invalid)
    assert turned is not None and (turned.action, turned.target_type, turned.target_id) == (
        "chain.invalid", "workspace", "ws_1")
    assert turned.details == {"reason": TREE_MISMATCH, "first_invalid_sequence": 3,
                              "event_id": "evt_3", "detail": None}
    assert chain_turned(never, ChainCheck("ws_1").found(BROKEN, NOW)) is not None
    assert chain_turned(invalid, invalid.found(BROKEN, NOW + 2 * DAY)) is None
    recovered = chain_turned(invalid, invalid.found(VALID, NOW + 2 * DAY))
    assert recovered is not None and recovered.action == "chain.recovered"
    assert recovered.details == {"checked": 5, "invalid_since": "2026-12-07T12:00:00.000000Z"}


class Checking(Recording):
    """A workspace recording its activity, whose events are linked and signed, and the
    scheduled checks as the container wires them."""

    def __init__(self) -> None:
        super().__init__()
        signing(self)
        self.schedule = ScheduleChainChecks(self.uow, self.clock, self.queue, DAY,
                                            concurrency=2, claim=timedelta(hours=1))
        self.check = CheckChain(self.uow, self.clock, VerifyChain(self.uow, self.log),
                                self.activity)
        self.health = GetChainHealth(self.uow, self.clock, DAY)

    def another(self, name: str) -> str:
        workspace, _ = CreateWorkspace(self.uow, self.clock, self.ids, self.keys,
                                       self.activity).execute(name)
        return workspace.id


@pytest.fixture
def world() -> Checking:
    return Checking()


def test_upkeep_claims_what_is_due_up_to_the_concurrency(world: Checking) -> None:
    ws, second, third = world.workspace.id, world.another("B"), world.another("C")
    assert world.schedule.execute() == [ws, second]  # never checked: due at once
    assert world.queue.chain_checks == [ws, second]
    assert world.schedule.execute() == []  # two claims live: no room
    assert third in world.uow._store.chain_checks  # but its row is there, due
    world.check.execute(ws)
    assert world.schedule.execute() == [third]  # a finished check makes room
    world.check.execute(second)
    world.check.execute(third)
    assert world.schedule.execute() == []  # all checked just now
    world.clock.advance(hours=24)
    assert world.schedule.execute() == [ws, second]  # the longest unchecked first


def test_a_claim_that_lapses_is_taken_again(world: Checking) -> None:
    ws = world.workspace.id
    assert world.schedule.execute() == [ws]
    world.clock.advance(minutes=59)
    assert world.schedule.execute() == []
    world.clock.advance(minutes=1)  # its job never started (lost with the queue)
    assert world.schedule.execute() == [ws]

    class Dying(VerifyChain):
        def execute(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            raise RuntimeError("SIGKILL")

    with pytest.raises(RuntimeError):  # started: the running check holds it 10 minutes
        CheckChain(world.uow, world.clock, Dying(world.uow, world.log),
                   world.activity).execute(ws)
    world.clock.advance(minutes=9, seconds=59)
    assert world.schedule.execute() == []
    world.clock.advance(seconds=1)  # the worker died mid-check, or a deploy stopped it
    assert world.schedule.execute() == [ws]


def test_a_long_check_renews_its_claim_as_it_reads(world: Checking) -> None:
    """A check of a large chain runs for an hour or more: its claim, ten minutes at a
    time, is moved on as it reads, so no other check starts meanwhile."""
    ws = world.workspace.id
    linked(world, 5)
    left: list[timedelta] = []

    class Slow(VerifyChain):
        def execute(self, workspace_id, *args, progress, **kwargs):  # type: ignore[no-untyped-def]
            def read_a_chunk() -> None:  # four minutes an event: over 20 minutes in all
                world.clock.advance(minutes=4)
                progress()
                claimed_until = world.uow._store.chain_checks[workspace_id].claimed_until
                left.append(claimed_until - world.clock.now())
                assert world.schedule.execute() == []
            return super().execute(workspace_id, *args, progress=read_a_chunk, **kwargs)

    check = CheckChain(world.uow, world.clock, Slow(world.uow, world.log, chunk_size=1),
                       world.activity).execute(ws)
    assert check is not None and check.valid and check.checked >= 5
    assert left == [timedelta(minutes=10)] * check.checked
    assert check.claimed_until is None  # released as it ends


def test_a_workspace_asks_for_a_check_at_most_every_five_minutes(world: Checking) -> None:
    ws = world.workspace.id
    ask = world.schedule.request
    seen = world.health
    assert not seen.workspace(ws).checking and seen.workspace(ws).check.checked_at is None
    asked = ask(ws)
    assert asked.checking and world.queue.chain_checks == [ws]
    assert ask(ws).checking and world.queue.chain_checks == [ws]  # queued once
    second = world.another("B")
    assert world.schedule.execute() == [second]  # its claim counts for upkeep
    world.check.execute(ws)
    done = seen.workspace(ws)
    assert (done.checking, done.check.valid) == (False, True)
    assert done.next_check_at == world.clock.now() + DAY
    world.clock.advance(minutes=4)
    with pytest.raises(AskedTooSoon) as soon:
        ask(ws)
    assert soon.value.retry_after == 60
    world.clock.advance(minutes=1)
    assert ask(ws).checking
    third = world.another("C")  # two checks live: the deployment's bound
    with pytest.raises(Busy):
        ask(third)
    assert not seen.workspace(third).checking


def test_the_operator_may_space_requests_further_apart(world: Checking) -> None:
    """AUDITRAIL_CHAIN_CHECK_REQUEST_MINUTES: on a shared deployment, a tenant with a very
    large chain would otherwise hold one of the two check slots most of the time."""
    ws = world.workspace.id
    hourly = ScheduleChainChecks(world.uow, world.clock, world.queue, DAY,
                                 asked_again_after=timedelta(hours=1))
    assert hourly.request(ws).checking
    world.check.execute(ws)
    world.clock.advance(minutes=59)
    with pytest.raises(AskedTooSoon, match="less than 60 minutes ago") as soon:
        hourly.request(ws)
    assert soon.value.retry_after == 60
    world.clock.advance(minutes=1)
    assert hourly.request(ws).checking


def test_checks_off_claim_nothing(world: Checking) -> None:
    off = ScheduleChainChecks(world.uow, world.clock, world.queue, None)
    assert off.execute() == [] and world.queue.chain_checks == []
    assert GetChainHealth(world.uow, world.clock, None).execute().overdue is None


def test_a_valid_chain_is_kept_valid_and_nothing_is_recorded(world: Checking) -> None:
    linked(world, 5)
    before = world.actions()
    world.schedule.execute()
    check = world.check.execute(world.workspace.id)
    assert check is not None and check.valid and check.checked == len(before)
    assert world.actions() == before
    health = world.health.execute(chains=5)
    assert (health.invalid, health.overdue, health.troubled) == (0, 0, ())


def test_tampering_is_found_recorded_once_and_its_repair_too(
        world: Checking, caplog: pytest.LogCaptureFixture) -> None:
    ws = world.workspace.id
    linked(world, 5)
    world.schedule.execute()
    world.check.execute(ws)
    original = world.uow.leaf(ws, 2)
    world.uow.tamper_leaf(ws, 2, bytes(32))  # as someone holding the database could
    world.clock.advance(hours=24)
    world.schedule.execute()
    found = world.check.execute(ws)
    assert found is not None and found.invalid
    assert (found.reason, found.first_invalid_sequence) == (TREE_MISMATCH, 3)
    assert f"the chain of {ws} is invalid: tree_mismatch at sequence 3" in caplog.text
    records = [e for e in world.records() if e.action == "auditrail.chain.invalid"]
    assert len(records) == 1
    assert records[0].actor == {"id": "auditrail", "type": "system", "name": "Auditrail"}
    assert records[0].metadata["first_invalid_sequence"] == 3
    assert ws in world.queue.enqueued  # woken, so the record is linked at once

    health = world.health.execute(chains=5)
    assert health.invalid == 1 and [c.workspace_id for c in health.troubled] == [ws]
    world.clock.advance(hours=24)
    world.process.execute(ws)  # the record is linked onto the chain's head meanwhile
    world.schedule.execute()
    again = world.check.execute(ws)
    assert again is not None and again.invalid and again.invalid_since == found.checked_at
    assert world.actions().count("auditrail.chain.invalid") == 1  # recorded once

    world.uow.tamper_leaf(ws, 2, original)  # restored
    world.clock.advance(hours=24)
    world.schedule.execute()
    restored = world.check.execute(ws)
    assert restored is not None and restored.valid
    assert world.actions()[-1] == "auditrail.chain.recovered"
    assert f"the chain of {ws} verifies again" in caplog.text
    assert world.health.execute().invalid == 0


def test_a_workspace_being_deleted_is_checked_no_more(world: Checking) -> None:
    ws = world.workspace.id
    linked(world, 5)
    world.schedule.execute()  # claimed and queued, then the operator deletes it
    DeleteWorkspace(world.uow, FakeBlobStore(), world.clock, FakeCredentialChanges(),
                    chunk=2).execute(ws)
    assert world.check.execute(ws) is None
    world.clock.advance(hours=48)
    assert world.schedule.execute() == []


def test_a_chain_marked_deleting_but_left_so_counts_as_overdue(world: Checking) -> None:
    """Left unfinished, or marked behind the service's back to silence its checks: either
    way the chain goes unchecked, which the overdue count must show."""
    ws = world.workspace.id
    linked(world, 5)
    world.schedule.execute()
    world.check.execute(ws)
    world.uow._store.chain_checks[ws] = replace(world.uow._store.chain_checks[ws],
                                                deleting=True)
    assert world.schedule.execute() == []  # not checked: its events may be going
    assert world.health.execute().overdue == 0
    world.clock.advance(hours=48, seconds=1)
    assert world.schedule.execute() == [] and world.health.execute().overdue == 1


def test_a_check_of_a_chain_deleted_mid_way_keeps_nothing(world: Checking) -> None:
    """A deletion that began while the check read the chain: its result is dropped, as
    the events going would look like tampering."""
    ws = world.workspace.id
    linked(world, 5)
    world.schedule.execute()

    class Deleting(VerifyChain):
        def execute(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            report = super().execute(*args, **kwargs)
            with world.uow as uow:
                uow.chain_checks.retire(ws)
                uow.commit()
            return BROKEN if report.valid else report

    check = CheckChain(world.uow, world.clock, Deleting(world.uow, world.log), world.activity)
    assert check.execute(ws) is None
    assert world.health.execute().invalid == 0
    assert "auditrail.chain.invalid" not in world.actions()
