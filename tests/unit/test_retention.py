"""Retention removes a prefix of the chain, leaves an anchor, and never a pending event."""

from __future__ import annotations

from datetime import timedelta

import pytest

from application.counting import EventCounter
from application.use_cases.apply_retention import ApplyRetention
from application.use_cases.retention_status import RetentionStatus
from application.use_cases.verify_chain import VerifyChain
from domain.event_search import EventFilters
from domain.timestamps import format_timestamp
from tests.unit.test_use_cases import World


def aged(world: World, days: float) -> dict:
    return world.event(occurred_at=format_timestamp(world.clock.now() - timedelta(days=days)))


def processed(world: World, workspace_id: str) -> None:
    """Processing, then the checkpoint the service signs within seconds of it."""
    world.process.execute(workspace_id)
    world.log.sign(workspace_id)


def test_removes_the_expired_prefix_and_keeps_the_rest_verifiable() -> None:
    world = World()  # free plan: 30 days
    ws = world.workspace.id
    bodies = [aged(world, 40), aged(world, 35), aged(world, 31), aged(world, 2),
              aged(world, 50), aged(world, 1)]  # the 50-day-old one sits after a fresh one
    world.ingest.execute(ws, bodies, batch=True)
    processed(world, ws)
    world.ingest.execute(ws, [aged(world, 90)], batch=True)  # still pending
    assert ApplyRetention(world.uow, world.clock, world.log, chunk=2).execute() == 3

    report = VerifyChain(world.uow, world.log).execute(ws)
    assert report.valid and (report.from_sequence, report.to_sequence) == (4, 6)
    assert report.anchor is not None and report.anchor.sequence == 3
    with world.uow as uow:
        assert EventCounter().count(uow, ws, EventFilters()) == 4  # 3 retained + 1 pending
        assert EventCounter().count(uow, ws, EventFilters(status="pending")) == 1
        assert EventCounter().totals(uow, ws) == (4, 1)  # what GET /usage shows
    assert ApplyRetention(world.uow, world.clock, world.log).execute() == 0  # idempotent


def test_a_chunk_boundary_does_not_stop_the_trim_early() -> None:
    world = World()
    world.ingest.execute(world.workspace.id, [aged(world, 60)] * 7, batch=True)
    processed(world, world.workspace.id)
    assert ApplyRetention(world.uow, world.clock, world.log, chunk=3).execute() == 7
    report = VerifyChain(world.uow, world.log).execute(world.workspace.id)
    assert report.valid and report.checked == 0 and report.anchor.sequence == 7


def test_a_run_is_bounded_and_the_next_one_carries_on() -> None:
    """Upkeep must not sit on one chain's lock for a huge backlog; it comes back."""
    world = World()
    world.ingest.execute(world.workspace.id, [aged(world, 60)] * 7, batch=True)
    processed(world, world.workspace.id)
    retention = ApplyRetention(world.uow, world.clock, world.log, chunk=2, max_chunks=2)
    assert [retention.execute() for _ in range(3)] == [4, 3, 0]
    report = VerifyChain(world.uow, world.log).execute(world.workspace.id)
    assert report.valid and report.anchor.sequence == 7


def test_only_what_a_checkpoint_covers_is_removed() -> None:
    """An anchor past the latest checkpoint could not be proved consistent with any
    checkpoint a monitor holds until the next one: old events linked moments ago wait."""
    world = World()
    ws = world.workspace.id
    world.ingest.execute(ws, [aged(world, 60)] * 3, batch=True)
    processed(world, ws)
    world.ingest.execute(ws, [aged(world, 50)] * 2, batch=True)
    world.process.execute(ws)  # linked (sequences 4 and 5), no checkpoint of size 5 yet
    retention = ApplyRetention(world.uow, world.clock, world.log)
    assert retention.execute() == 3
    assert world.log.latest(ws).tree_size == 3
    assert VerifyChain(world.uow, world.log).execute(ws).anchor.sequence == 3
    world.log.sign(ws)
    assert retention.execute() == 2
    assert VerifyChain(world.uow, world.log).execute(ws).anchor.sequence == 5


def test_enterprise_keeps_everything_unless_set() -> None:
    from application.use_cases.workspaces import UpdateWorkspacePlan
    world = World()
    UpdateWorkspacePlan(world.uow, world.changes, world.activity).execute(
        world.workspace.id, "enterprise", 100)
    world.ingest.execute(world.workspace.id, [aged(world, 4000)], batch=True)
    world.process.execute(world.workspace.id)
    assert ApplyRetention(world.uow, world.clock, world.log).execute() == 0


def test_a_legal_hold_keeps_every_event_until_released_and_blocks_deletion() -> None:
    from application.errors import UnderLegalHold
    from application.use_cases.delete_workspace import DeleteWorkspace
    from application.use_cases.workspaces import UpdateWorkspacePlan
    from tests.fakes import FakeBlobStore

    world = World()  # free plan: 30 days
    ws = world.workspace.id
    world.ingest.execute(ws, [aged(world, 40), aged(world, 35), aged(world, 1)], batch=True)
    processed(world, ws)
    hold = UpdateWorkspacePlan(world.uow, world.changes, world.activity)
    assert hold.execute(ws, None, None, legal_hold=True).legal_hold
    retention = ApplyRetention(world.uow, world.clock, world.log)
    assert retention.execute() == 0
    world.clock.advance(days=400)  # however long the dispute lasts
    assert retention.execute() == 0
    deletion = DeleteWorkspace(world.uow, FakeBlobStore(), world.clock, world.changes)
    with pytest.raises(UnderLegalHold, match="is under a legal hold"):
        deletion.contents(ws)
    with pytest.raises(UnderLegalHold):
        deletion.execute(ws)
    with world.uow as uow:
        assert EventCounter().count(uow, ws, EventFilters()) == 3
        assert uow.workspaces.get(ws) is not None
        assert all(key.revoked_at is None for key in uow.api_keys.page(ws, "asc", None, 10))

    hold.execute(ws, None, None, legal_hold=False)  # released: retention resumes
    assert retention.execute() == 3
    assert VerifyChain(world.uow, world.log).execute(ws).valid


def test_status_says_how_far_past_its_period_each_workspace_keeps_events_and_why() -> None:
    from application.use_cases.retention_status import GetRetentionStatus
    from application.use_cases.workspaces import CreateWorkspace, UpdateWorkspacePlan

    world = World()  # free plan: 30 days
    ws = world.workspace.id
    held, _ = CreateWorkspace(world.uow, world.clock, world.ids, world.keys,
                              world.activity).execute("Held")
    late, _ = CreateWorkspace(world.uow, world.clock, world.ids, world.keys,
                              world.activity).execute("Late")
    world.ingest.execute(ws, [aged(world, 40), aged(world, 1)], batch=True)
    processed(world, ws)
    world.ingest.execute(late.id, [aged(world, 32), aged(world, 31)], batch=True)
    world.process.execute(late.id)  # linked, no checkpoint covering them yet
    world.ingest.execute(held.id, [aged(world, 90)], batch=True)
    processed(world, held.id)
    UpdateWorkspacePlan(world.uow, world.changes, world.activity).execute(
        held.id, None, None, legal_hold=True)  # kept on purpose: not late
    status = GetRetentionStatus(world.uow, world.clock)

    report = status.execute(workspaces=10)
    assert report.overdue_workspaces == 2 and report.overdue_seconds == 10 * 86400
    assert [(lag.workspace_id, lag.overdue_seconds, lag.retention_days, lag.held_by)
            for lag in report.overdue] == [(ws, 10 * 86400, 30, ()),  # upkeep's next run
                                           (late.id, 2 * 86400, 30, ("checkpoint",))]
    assert status.execute().overdue == ()  # the totals alone, unless asked

    ApplyRetention(world.uow, world.clock, world.log).execute()
    report = status.execute(workspaces=1)
    assert [(lag.workspace_id, lag.overdue_seconds, lag.held_by)
            for lag in report.overdue] == [(late.id, 2 * 86400, ("checkpoint",))]
    world.log.sign(late.id)
    ApplyRetention(world.uow, world.clock, world.log).execute()
    assert status.execute(workspaces=10) == RetentionStatus(0.0, 0)
