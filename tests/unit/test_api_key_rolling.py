"""Rolling an API key: a successor with its name and scopes, the old key working only for
the grace asked, never longer than it already would."""

from __future__ import annotations

from datetime import timedelta

import pytest

from application.errors import Conflict, NotFound, Unauthenticated
from application.use_cases.api_keys import RevokeApiKey, RollApiKey
from application.use_cases.viewer_links import CreateViewerLink
from domain.activity import Actor
from domain.errors import ValidationFailed
from tests.fakes import FakeMetadataRules
from tests.unit.test_use_cases import World


@pytest.fixture
def world() -> World:
    return World()


def roll(world: World) -> RollApiKey:
    return RollApiKey(world.uow, world.clock, world.keys, world.changes, world.activity)


def test_the_successor_has_the_name_and_scopes_and_the_old_key_stops_at_once(
        world: World) -> None:
    old = world.keys.execute(world.workspace.id, "billing", ["events:write", "events:read"])
    rolled = roll(world).execute(world.workspace.id, old.key.id)
    new = world.authenticate.execute(rolled.issued.secret, "198.51.100.1").api_key
    assert (new.name, new.scopes) == ("billing", old.key.scopes)
    assert new.id != old.key.id and rolled.issued.secret != old.secret
    assert rolled.replaced.expires_at == world.clock.now()
    with pytest.raises(Unauthenticated):
        world.authenticate.execute(old.secret, "198.51.100.1")
    assert world.changes.announced == 1  # every process's credential cache hears of it


def test_the_old_key_works_through_its_grace_and_not_a_moment_longer(world: World) -> None:
    old = world.keys.execute(world.workspace.id, "ci", ["events:write"])
    roll(world).execute(world.workspace.id, old.key.id, expires_in_seconds=3600)
    world.clock.advance(seconds=3599)
    assert world.authenticate.execute(old.secret, "198.51.100.1").api_key.id == old.key.id
    world.clock.advance(seconds=1)
    with pytest.raises(Unauthenticated):
        world.authenticate.execute(old.secret, "198.51.100.1")


def test_rolling_never_extends_a_key_and_may_give_the_successor_an_expiry(
        world: World) -> None:
    soon = world.clock.now() + timedelta(minutes=10)
    later = world.clock.now() + timedelta(days=90)
    old = world.keys.execute(world.workspace.id, "ci", ["events:write"], soon)
    rolled = roll(world).execute(world.workspace.id, old.key.id, expires_in_seconds=86_400,
                                 expires_at=later)
    assert rolled.replaced.expires_at == soon
    assert rolled.issued.key.expires_at == later


def test_only_a_working_key_of_the_workspace_can_be_rolled(world: World) -> None:
    revoked = world.keys.execute(world.workspace.id, "gone", ["events:write"])
    RevokeApiKey(world.uow, world.clock, world.changes, world.activity).execute(
        world.workspace.id, revoked.key.id)
    with pytest.raises(Conflict, match="revoked or expired"):
        roll(world).execute(world.workspace.id, revoked.key.id)
    link = CreateViewerLink(world.uow, world.clock, world.ids, world.secrets,
                            world.activity).execute(world.workspace.id, {}, 900)
    for key_id in (link.link.id, "key_unknown"):
        with pytest.raises(NotFound):
            roll(world).execute(world.workspace.id, key_id)
    mine = world.keys.execute(world.workspace.id, "x", ["events:read"])
    with pytest.raises(NotFound):  # asked through another workspace
        roll(world).execute("ws_other", mine.key.id)


@pytest.mark.parametrize("grace", [-1, 7 * 86_400 + 1])
def test_a_grace_out_of_range_is_refused_naming_the_field(world: World, grace: int) -> None:
    old = world.keys.execute(world.workspace.id, "ci", ["events:write"])
    with pytest.raises(ValidationFailed) as refused:
        roll(world).execute(world.workspace.id, old.key.id, expires_in_seconds=grace)
    assert [error.field for error in refused.value.errors] == ["expires_in_seconds"]
    assert world.authenticate.execute(old.secret, "198.51.100.1")  # untouched


def test_a_recording_workspace_has_the_roll_and_the_successor_on_record(
        world: World) -> None:
    from application.counting import EventCounter
    from application.use_cases.search_events import SearchEvents
    from application.use_cases.workspace_settings import UpdateWorkspace
    from domain.event_search import EventFilters
    admin = Actor("key_1", "api_key", "admin", "203.0.113.7")
    UpdateWorkspace(world.uow, world.changes, world.activity, FakeMetadataRules()).execute(
        world.authenticate.execute(world.admin.secret, "203.0.113.7"),
        {"record_activity": True}, "203.0.113.7", admin)
    old = world.keys.execute(world.workspace.id, "ci", ["events:write"])
    rolled = roll(world).execute(world.workspace.id, old.key.id, 60, actor=admin)
    *_, was_rolled, created = SearchEvents(world.uow, EventCounter()).execute(
        world.workspace.id, EventFilters(), order="asc").items
    assert (was_rolled.action, was_rolled.targets[0]["id"]) == ("auditrail.api_key.rolled",
                                                                old.key.id)
    assert was_rolled.metadata["replaced_by"] == rolled.issued.key.id
    assert (created.action, created.targets[0]["id"]) == ("auditrail.api_key.created",
                                                          rolled.issued.key.id)
