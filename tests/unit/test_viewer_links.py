"""Viewer links: a reader narrows the link's filters and never widens them; the link's
credential authenticates, expires and is revoked as a key is."""

from __future__ import annotations

from datetime import timedelta

import pytest

from application.errors import NotFound, Unauthenticated
from application.use_cases.get_event import GetEvent
from application.use_cases.viewer_links import CreateViewerLink, RevokeViewerLink
from domain.errors import ValidationFailed
from domain.event_search import InvalidFilter, parse_filters
from domain.scopes import EVENTS_READ, VIEWER
from domain.viewer_links import narrowed
from tests.unit.test_use_cases import World


@pytest.fixture
def world() -> World:
    return World()


@pytest.mark.parametrize(("forced", "reader", "result"), [
    ({}, {"actor_id": "u1"}, {"actor_id": "u1"}),
    ({"action": "user.*"}, {}, {"action": "user.*"}),
    ({"action": "user.*"}, {"action": "user.login"}, {"action": "user.login"}),
    ({"action": "user.*"}, {"action": "user.mfa.*"}, {"action": "user.mfa.*"}),
    ({"action": "user.login"}, {"action": "user.login"}, {"action": "user.login"}),
    ({"since": "2026-01-01T00:00:00Z", "until": "2026-02-01T00:00:00Z"},
     {"since": "2026-01-15T00:00:00Z", "until": "2026-03-01T00:00:00Z"},
     {"since": "2026-01-15T00:00:00Z", "until": "2026-02-01T00:00:00Z"}),
    ({"since": "2026-01-15T00:00:00Z"}, {"since": "2025-01-01T00:00:00Z"},
     {"since": "2026-01-15T00:00:00Z"}),
    ({"ip_address": "::ffff:192.0.2.1"}, {"ip_address": "::ffff:c000:201"},
     {"ip_address": "::ffff:192.0.2.1"}),
    ({"country_code": "AU"}, {"country_code": "au"}, {"country_code": "AU"}),
    ({"actor_id": "u1"}, {"target_id": "doc_1"}, {"actor_id": "u1", "target_id": "doc_1"}),
    ({"metadata.tenant": "acme"}, {"metadata.region": "eu"},
     {"metadata.region": "eu", "metadata.tenant": "acme"}),
    ({"metadata.tenant": "acme"}, {"metadata.tenant": '"acme"'}, {"metadata.tenant": '"acme"'}),
    ({"metadata.order": "123"}, {"metadata.order": '"123"'}, {"metadata.order": '"123"'}),
])
def test_a_reader_narrows_the_links_filters(forced: dict, reader: dict, result: dict) -> None:
    assert narrowed(forced, reader) == result


@pytest.mark.parametrize(("forced", "reader", "parameter"), [
    ({"action": "user.*"}, {"action": "admin.*"}, "action"),
    ({"action": "user.*"}, {"action": "admin.user.delete"}, "action"),
    ({"action": "user.mfa.*"}, {"action": "user.*"}, "action"),
    ({"action": "user.login"}, {"action": "user.*"}, "action"),
    ({"action": "user.*"}, {"action": "users.login"}, "action"),
    ({"actor_id": "u1"}, {"actor_id": "u2"}, "actor_id"),
    ({"status": "processed"}, {"status": "pending"}, "status"),
    ({"metadata.tenant": "acme"}, {"metadata.tenant": "umbrella"}, "metadata.tenant"),
    ({"metadata.order": '"123"'}, {"metadata.order": "123"}, "metadata.order"),
])
def test_a_reader_never_widens_or_replaces_them(forced: dict, reader: dict,
                                                parameter: str) -> None:
    with pytest.raises(InvalidFilter) as refused:
        narrowed(forced, reader)
    assert refused.value.parameter == parameter


def test_one_event_is_read_only_within_the_filters(world: World) -> None:
    [login] = world.ingest.execute(world.workspace.id, [world.event(
        targets=[{"id": "doc_1", "type": "document"}],
        context={"ip_address": "203.0.113.7"})], batch=True).event_ids
    world.process.execute(world.workspace.id)
    get = GetEvent(world.uow)
    for filters in ({"action": "user.*"}, {"action": "user.login"}, {"actor_id": "u1"},
                    {"target_id": "doc_1"}, {"target_type": "document"},
                    {"ip_address": "203.0.113.7"}, {"country_code": "AU"},
                    {"status": "processed"}, {"since": "2000-01-01T00:00:00Z"}):
        assert get.execute(world.workspace.id, login, parse_filters(filters)).id == login
    for filters in ({"action": "admin.*"}, {"action": "user.logout"}, {"actor_id": "u2"},
                    {"target_id": "doc_2"}, {"target_type": "folder"},
                    {"ip_address": "203.0.113.8"}, {"country_code": "NZ"},
                    {"status": "pending"}, {"until": "2000-01-01T00:00:00Z"}):
        with pytest.raises(NotFound):
            get.execute(world.workspace.id, login, parse_filters(filters))


def test_a_links_credential_authenticates_as_a_viewer_until_revoked(world: World) -> None:
    create = CreateViewerLink(world.uow, world.clock, world.ids, world.secrets, world.activity)
    issued = create.execute(world.workspace.id, {"action": "user.*"}, 900, title="Acme")
    caller = world.authenticate.execute(issued.token, "198.51.100.1")
    assert caller.viewer == issued.link and caller.api_key.scopes == (VIEWER,)
    assert not caller.api_key.allows(EVENTS_READ)  # only views that name viewers admit it
    assert caller.bounded({"action": "user.login"}) == {"action": "user.login"}
    RevokeViewerLink(world.uow, world.clock, world.changes, world.activity).execute(
        world.workspace.id, issued.link.id)
    assert world.changes.announced == 1
    with pytest.raises(Unauthenticated):
        world.authenticate.execute(issued.token, "198.51.100.1")


def test_a_link_expires(world: World) -> None:
    create = CreateViewerLink(world.uow, world.clock, world.ids, world.secrets, world.activity)
    issued = create.execute(world.workspace.id, {}, 60)
    caller = world.authenticate.execute(issued.token, "198.51.100.1")
    world.clock.advance(seconds=61)
    with pytest.raises(Unauthenticated):
        world.authenticate.recheck(caller, "198.51.100.1")


def test_a_link_is_checked_before_it_is_made(world: World) -> None:
    create = CreateViewerLink(world.uow, world.clock, world.ids, world.secrets, world.activity)
    with pytest.raises(ValidationFailed) as refused:
        create.execute(world.workspace.id, {"action": "bad action", "since": "yesterday"}, 30,
                       title="")
    assert {error.field for error in refused.value.errors} == {
        "filters.action", "expires_in_seconds", "title"}


def test_the_lifetime_bounds(world: World) -> None:
    create = CreateViewerLink(world.uow, world.clock, world.ids, world.secrets, world.activity)
    assert create.execute(world.workspace.id, {}, 86_400).link.expires_at == \
        world.clock.now() + timedelta(days=1)
    with pytest.raises(ValidationFailed):
        create.execute(world.workspace.id, {}, 86_401)


def test_a_misspelt_or_mistyped_forced_filter_is_refused_not_ignored(world: World) -> None:
    """Ignored, it would make a link that shows everything."""
    create = CreateViewerLink(world.uow, world.clock, world.ids, world.secrets, world.activity)
    with pytest.raises(ValidationFailed) as refused:
        create.execute(world.workspace.id, {"actor": "u1", "target_id": 7}, 900)
    assert {error.field for error in refused.value.errors} == {"filters.actor",
                                                               "filters.target_id"}
