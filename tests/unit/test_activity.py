"""A workspace's records of changes to itself: built, refused to clients, written with the
change or not at all, and linked into the chain like any event."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from application.counting import EventCounter
from application.errors import NotFound
from application.principal import Principal
from application.use_cases.alert_rules import CreateAlertRule, DeleteAlertRule, UpdateAlertRule
from application.use_cases.api_keys import RevokeApiKey
from application.use_cases.deliver_stream import DeliverStream
from application.use_cases.evaluate_alerts import AlertEvaluation
from application.use_cases.exports import CreateExport
from application.use_cases.notify_alerts import NotifyAlerts
from application.use_cases.process_pending_events import ProcessPendingEvents
from application.use_cases.search_events import SearchEvents
from application.use_cases.stream_deliveries import ReplayStream
from application.use_cases.streams import CreateStream, DeleteStream, UpdateStream
from application.use_cases.viewer_links import CreateViewerLink, RevokeViewerLink
from application.use_cases.workspace_settings import UpdateWorkspace
from application.use_cases.workspaces import UpdateWorkspacePlan
from domain.activity import (
    OPERATOR,
    Actor,
    Change,
    activity_body,
    changed,
    destination,
    edited,
    witness_turned,
)
from domain.alert_rules import AlertRule
from domain.cosignatures import cosigner_key
from domain.deliveries import Attempt
from domain.errors import ValidationFailed
from domain.event_search import EventFilters
from domain.events import Event, new_event
from domain.log_witnesses import LogWitness
from domain.sending import FAILING_AFTER
from domain.timestamps import format_timestamp
from tests.fakes import FakeMetadataRules
from tests.unit.test_deliver_stream import FakeDeliverer, FakeVault, _Secrets
from tests.unit.test_use_cases import World

WITNESS_KEY_TEXT = cosigner_key("witness.example/w", bytes(range(32)))
CLOCK_START = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
ADMIN = Actor("key_1", "api_key", "deploy bot", "203.0.113.7", "curl/8.5")


class Recording(World):
    """A workspace recording its activity, with the use cases that change it."""

    def __init__(self) -> None:
        super().__init__()
        self.update = UpdateWorkspace(self.uow, self.changes, self.activity, FakeMetadataRules())
        self.turn(True)
        self.queue.enqueued.clear()

    def turn(self, on: bool, actor: Actor = ADMIN) -> None:
        self.update.execute(self.principal(), {"record_activity": on}, "203.0.113.7", actor)

    def principal(self) -> Principal:
        return self.authenticate.execute(self.admin.secret, "203.0.113.7")

    def records(self) -> list[Event]:
        """The workspace's events, oldest first."""
        page = SearchEvents(self.uow, EventCounter()).execute(
            self.workspace.id, EventFilters(), order="asc", limit=100)
        return list(page.items)

    def actions(self) -> list[str]:
        return [event.action for event in self.records()]


@pytest.fixture
def world() -> Recording:
    return Recording()


def test_a_record_is_an_event_naming_who_did_what_to_which_resource_from_where() -> None:
    body = activity_body(Change("api_key.revoked", "api_key", "key_9", "ci",
                                {"scopes": ["events:write"]}), ADMIN)
    assert body == {"action": "auditrail.api_key.revoked",
                    "actor": {"id": "key_1", "type": "api_key", "name": "deploy bot"},
                    "targets": [{"id": "key_9", "type": "api_key", "name": "ci"}],
                    "context": {"ip_address": "203.0.113.7", "user_agent": "curl/8.5"},
                    "metadata": {"scopes": ["events:write"]}}


def test_an_operator_on_the_command_line_has_no_address_and_an_odd_one_is_left_out() -> None:
    operator = activity_body(Change("api_key.created", "api_key", "key_9"),
                             Actor(OPERATOR, OPERATOR, "root"))
    assert "context" not in operator and "metadata" not in operator
    assert operator["actor"] == {"id": "operator", "type": "operator", "name": "root"}
    socket = activity_body(Change("api_key.created", "api_key", "key_9"),
                           Actor("key_1", "api_key", None, "unix-socket", "x" * 5000))
    assert socket["context"] == {"user_agent": "x" * 1024}


def test_clients_may_not_send_actions_under_the_reserved_prefix_in_any_case(
        world: Recording) -> None:
    for action in ("auditrail.api_key.created", "Auditrail.x", "AUDITRAIL.workspace.updated"):
        with pytest.raises(ValidationFailed) as refused:
            world.ingest.execute(world.workspace.id, [world.event(action=action)])
        [error] = refused.value.errors
        assert error.field == "action" and "reserved" in error.message
    world.ingest.execute(world.workspace.id, [world.event(action="auditrail"),
                                              world.event(action="auditrails.x")], batch=True)
    own = activity_body(Change("api_key.created", "api_key", "key_9"), ADMIN)
    assert new_event(own, event_id="evt_1", workspace_id=world.workspace.id,
                     received_at=world.clock.now(), own=True).action == own["action"]


def test_changes_record_nothing_until_the_workspace_turns_recording_on() -> None:
    world = World()
    world.keys.execute(world.workspace.id, "ci", ["events:write"], actor=ADMIN)
    UpdateWorkspace(world.uow, world.changes, world.activity, FakeMetadataRules()).execute(
        world.authenticate.execute(world.admin.secret, "203.0.113.7"), {"name": "Acme Inc"},
        "203.0.113.7", ADMIN)
    assert SearchEvents(world.uow, EventCounter()).execute(
        world.workspace.id, EventFilters()).total_count == 0
    assert world.queue.enqueued == []


def test_turning_recording_on_and_off_are_both_recorded_and_nothing_between_is_lost(
        world: Recording) -> None:
    world.turn(False)
    world.keys.execute(world.workspace.id, "unseen", ["events:read"], actor=ADMIN)
    world.turn(True)
    on, off, on_again = world.records()
    assert [event.action for event in (on, off, on_again)] == ["auditrail.workspace.updated"] * 3
    assert on.metadata == {"changes": {"record_activity": {"from": False, "to": True}}}
    assert off.metadata == {"changes": {"record_activity": {"from": True, "to": False}}}
    assert on.actor == {"id": "key_1", "type": "api_key", "name": "deploy bot"}
    assert on.targets == [{"id": world.workspace.id, "type": "workspace", "name": "Acme"}]


def test_a_settings_change_lists_each_setting_from_what_to_what(world: Recording) -> None:
    world.update.execute(world.principal(), {"name": "Acme Inc", "retention_days": 30,
                                             "ip_allowlist": ["203.0.113.0/24"]},
                         "203.0.113.7", ADMIN)
    UpdateWorkspacePlan(world.uow, world.changes, world.activity).execute(
        world.workspace.id, "pro", None, Actor(OPERATOR, OPERATOR, "ops"))
    *_, settings, plan = world.records()
    assert settings.metadata == {"changes": {
        "name": {"from": "Acme", "to": "Acme Inc"},
        "ip_allowlist": {"from": [], "to": ["203.0.113.0/24"]}}}  # 30 days was the default
    assert plan.metadata == {"changes": {"plan": {"from": "free", "to": "pro"},
                                         "rate_limit_per_minute": {"from": 60, "to": 1000}}}
    # (its 30 days are its own setting now, which the plan does not change)
    assert plan.actor == {"id": "operator", "type": "operator", "name": "ops"}
    assert world.queue.enqueued == [world.workspace.id] * 2  # linked now, not at upkeep


def test_keys_issued_and_revoked_are_recorded_without_their_secrets(world: Recording) -> None:
    issued = world.keys.execute(world.workspace.id, "ci", ["events:write"], actor=ADMIN)
    revoke = RevokeApiKey(world.uow, world.clock, world.changes, world.activity)
    revoke.execute(world.workspace.id, issued.key.id, ADMIN)
    revoke.execute(world.workspace.id, issued.key.id, ADMIN)  # already revoked: no change
    *_, created, revoked = world.records()
    assert world.actions()[-3:] == ["auditrail.workspace.updated", "auditrail.api_key.created",
                                    "auditrail.api_key.revoked"]
    assert created.targets == [{"id": issued.key.id, "type": "api_key", "name": "ci"}]
    assert created.metadata == {"scopes": ["events:write"], "prefix": issued.key.prefix,
                                "expires_at": None}
    assert revoked.targets == created.targets
    assert issued.secret not in json.dumps([created.metadata, revoked.metadata])


def test_a_refused_change_records_nothing(world: Recording) -> None:
    before = world.actions()
    with pytest.raises(ValidationFailed):
        world.keys.execute(world.workspace.id, "ci", ["events:everything"], actor=ADMIN)
    with pytest.raises(NotFound):
        RevokeApiKey(world.uow, world.clock, world.changes, world.activity).execute(
            world.workspace.id, "key_unknown", ADMIN)
    with pytest.raises(ValidationFailed):
        world.update.execute(world.principal(), {"ip_allowlist": ["198.51.100.0/24"]},
                             "203.0.113.7", ADMIN)  # would lock the caller out
    assert world.actions() == before


def test_records_are_linked_into_the_chain_with_the_events_around_them(
        world: Recording) -> None:
    world.ingest.execute(world.workspace.id, [world.event()])
    world.keys.execute(world.workspace.id, "ci", ["events:write"], actor=ADMIN)
    world.ingest.execute(world.workspace.id, [world.event(action="user.logout")])
    world.process.execute(world.workspace.id)
    records = world.records()
    assert [(event.sequence, event.action) for event in records] == [
        (1, "auditrail.workspace.updated"), (2, "user.login"),
        (3, "auditrail.api_key.created"), (4, "user.logout")]
    assert all(event.hash for event in records)


def _alerting(world: Recording) -> tuple[CreateAlertRule, UpdateAlertRule, DeleteAlertRule]:
    deliverer, vault = FakeDeliverer(), FakeVault()
    return (CreateAlertRule(world.uow, world.clock, world.ids, _Secrets(), vault, deliverer,
                            allow_private=False, activity=world.activity),
            UpdateAlertRule(world.uow, world.clock, world.queue, vault, deliverer,
                            allow_private=False, activity=world.activity),
            DeleteAlertRule(world.uow, world.clock, world.activity))


def test_alert_rules_made_changed_and_deleted_are_recorded_naming_their_destination_only(
        world: Recording) -> None:
    create, update, delete = _alerting(world)
    rule = create.execute(world.workspace.id, {
        "name": "Brute force", "match": {"actions": ["user.login_failed"]},
        "notify": {"webhook_url": "https://hooks.example.com/T0/B0/tokenpart"}}, ADMIN).rule
    update.execute(world.workspace.id, rule.id, {"enabled": False, "notify": {
        "webhook_url": "https://hooks.example.com/T0/B0/othertoken"}}, ADMIN)
    update.execute(world.workspace.id, rule.id, {}, ADMIN)  # changes nothing: no record
    delete.execute(world.workspace.id, rule.id, ADMIN)
    *_, made, edited_, deleted = world.records()
    assert (made.action, edited_.action, deleted.action) == (
        "auditrail.alert_rule.created", "auditrail.alert_rule.updated",
        "auditrail.alert_rule.deleted")
    assert made.metadata == {"actions": ["user.login_failed"], "enabled": True,
                             "notifies": "hooks.example.com"}
    assert edited_.metadata == {"fields": ["enabled", "notify"], "enabled": False}
    assert deleted.targets == [{"id": rule.id, "type": "alert_rule", "name": "Brute force"}]
    recorded = json.dumps([made.metadata, edited_.metadata, deleted.metadata])
    assert "token" not in recorded and "whsec_" not in recorded


def test_streams_made_changed_replayed_and_deleted_are_recorded(world: Recording) -> None:
    deliverer, vault = FakeDeliverer(), FakeVault()
    create = CreateStream(world.uow, world.clock, world.ids, _Secrets(), vault, deliverer,
                          allow_private=False, activity=world.activity)
    stream = create.execute(world.workspace.id, {
        "name": "SIEM", "type": "webhook",
        "config": {"url": "https://siem.example.com/in?token=abc"}}, ADMIN).stream
    UpdateStream(world.uow, world.clock, world.queue, vault, deliverer, allow_private=False,
                 activity=world.activity).execute(
        world.workspace.id, stream.id,
        {"status": "paused", "config": {"url": "https://elsewhere.example.net/in"}}, ADMIN)
    ReplayStream(world.uow, world.clock, world.queue, world.activity).execute(
        world.workspace.id, stream.id, 1, ADMIN)
    DeleteStream(world.uow, world.activity).execute(world.workspace.id, stream.id, ADMIN)
    *_, made, paused, replayed, deleted = world.records()
    assert made.metadata == {"type": "webhook", "sends_to": "siem.example.com",
                             "actions": None, "status": "active"}
    assert paused.metadata == {"fields": ["config", "status"], "status": "paused",
                               "sends_to": "elsewhere.example.net"}
    assert replayed.metadata == {"from_sequence": 1}
    assert deleted.action == "auditrail.log_stream.deleted"
    assert "abc" not in json.dumps(made.metadata)
    with pytest.raises(NotFound):
        DeleteStream(world.uow, world.activity).execute(world.workspace.id, stream.id, ADMIN)
    assert world.actions()[-1] == "auditrail.log_stream.deleted"


def test_viewer_links_and_exports_are_recorded_with_what_they_expose(world: Recording) -> None:
    issued = CreateViewerLink(world.uow, world.clock, world.ids, world.secrets,
                              world.activity).execute(
        world.workspace.id, {"action": "user.*"}, 900, allow_export=True, title="Acme",
        actor=ADMIN)
    reader = world.authenticate.execute(issued.token, "198.51.100.1")
    CreateExport(world.uow, world.clock, world.ids, world.queue, world.activity).execute(
        world.workspace.id, "csv", {}, link=reader.viewer,
        actor=reader.actor("198.51.100.1", "Mozilla/5.0"))
    RevokeViewerLink(world.uow, world.clock, world.changes, world.activity).execute(
        world.workspace.id, issued.link.id, ADMIN)
    *_, made, exported, revoked = world.records()
    assert made.metadata["filters"] == {"action": "user.*"}
    assert made.metadata["allow_export"] is True
    assert exported.action == "auditrail.export.created"
    assert exported.actor == {"id": issued.link.id, "type": "viewer_link", "name": "Acme"}
    assert exported.context == {"ip_address": "198.51.100.1", "user_agent": "Mozilla/5.0"}
    assert exported.metadata == {"format": "csv", "filters": {"action": "user.*"}}
    assert revoked.action == "auditrail.viewer_link.revoked"
    assert issued.token not in json.dumps([made.metadata, exported.metadata])


def test_an_internal_change_without_an_actor_is_not_recorded(world: Recording) -> None:
    before = world.actions()
    world.keys.execute(world.workspace.id, "internal", ["events:write"])
    assert world.actions() == before


@pytest.mark.parametrize(("body", "shown", "expected"), [
    ({"enabled": False, "name": "x"}, ("enabled",),
     {"fields": ["enabled", "name"], "enabled": False}),
    ({"notify": {"secret": "whsec_x"}}, ("enabled",), {"fields": ["notify"]}),
])
def test_a_patch_is_recorded_by_its_fields_and_only_the_values_shown(
        body: dict[str, Any], shown: tuple[str, ...], expected: dict[str, Any]) -> None:
    assert edited(body, *shown) == expected


def test_a_destination_is_its_host_and_a_change_lists_only_what_differs() -> None:
    assert destination("https://user:pw@hooks.example.com:8443/a/b?token=1") == \
        "hooks.example.com"
    assert changed({"a": 1, "b": [1]}, {"a": 1, "b": [2]}) == {"b": {"from": [1], "to": [2]}}


def test_setting_what_is_already_set_records_nothing(world: Recording) -> None:
    before = world.actions()
    world.update.execute(world.principal(), {"name": "Acme", "record_activity": True},
                         "203.0.113.7", ADMIN)
    assert world.actions() == before


def test_a_workspace_created_recording_has_its_creation_and_first_key_on_record() -> None:
    from application.use_cases.workspaces import CreateWorkspace
    world = World()
    create = CreateWorkspace(world.uow, world.clock, world.ids, world.keys, world.activity)
    operator = Actor(OPERATOR, OPERATOR, "ops")
    workspace, admin = create.execute("Beta", "pro", record_activity=True, actor=operator)
    quiet, _ = create.execute("Gamma", actor=operator)
    search = SearchEvents(world.uow, EventCounter())
    made, key = search.execute(workspace.id, EventFilters(), order="asc").items
    assert (made.action, made.actor, made.metadata) == (
        "auditrail.workspace.created", {"id": "operator", "type": "operator", "name": "ops"},
        {"plan": "pro", "rate_limit_per_minute": 1000})
    assert (key.action, key.targets[0]["id"]) == ("auditrail.api_key.created", admin.key.id)
    assert search.execute(quiet.id, EventFilters()).total_count == 0
    assert world.queue.enqueued == [workspace.id]


SYSTEM_ACTOR = {"id": "auditrail", "type": "system", "name": "Auditrail"}


def _turns(world: Recording, kind: str) -> list[Event]:
    return [event for event in world.records()
            if event.action in (f"auditrail.{kind}.failing", f"auditrail.{kind}.recovered")]


def test_a_stream_turning_failing_and_recovering_is_on_record_once_each(
        world: Recording) -> None:
    deliverer, vault = FakeDeliverer(), FakeVault()
    stream = CreateStream(world.uow, world.clock, world.ids, _Secrets(), vault, deliverer,
                          allow_private=False, activity=world.activity).execute(
        world.workspace.id, {"name": "SIEM", "type": "webhook",
                             "config": {"url": "https://siem.example.com/in"}}, ADMIN).stream
    engine = DeliverStream(world.uow, deliverer, vault, world.queue, world.clock, world.ids,
                           lambda: 0.5, timedelta(0), timedelta(seconds=30), world.activity)
    world.ingest.execute(world.workspace.id, [world.event()], batch=True)
    world.process.execute(world.workspace.id)

    def attempt(answer: Attempt) -> None:
        deliverer.answers = [answer]
        world.clock.advance(minutes=11)
        engine.execute(stream.id)

    for _ in range(FAILING_AFTER - 1):  # not yet failing: nothing to record
        attempt(Attempt(False, 503, "HTTP 503: secret-looking receiver text"))
    assert _turns(world, "log_stream") == []
    world.queue.enqueued.clear()
    attempt(Attempt(False, 503, "HTTP 503: secret-looking receiver text"))
    failing_at = format_timestamp(world.clock.now())
    [failing] = _turns(world, "log_stream")
    assert world.queue.enqueued == [world.workspace.id]  # linked now, not at upkeep
    attempt(Attempt(False, None, "No answer within 10 s."))  # still failing: no new record
    attempt(Attempt(True, 200))
    attempt(Attempt(True, 200))  # working as before: nothing to record
    [_, recovered] = _turns(world, "log_stream")
    assert (failing.action, failing.actor, failing.targets) == (
        "auditrail.log_stream.failing", SYSTEM_ACTOR,
        [{"id": stream.id, "type": "log_stream", "name": "SIEM"}])
    assert failing.metadata == {"failures": FAILING_AFTER, "outcome": "http_error",
                                "http_status": 503}
    assert "secret-looking" not in json.dumps([failing.metadata, recovered.metadata])
    assert (recovered.action, recovered.actor) == ("auditrail.log_stream.recovered",
                                                   SYSTEM_ACTOR)
    assert recovered.metadata == {"failures": FAILING_AFTER + 1, "failing_since": failing_at}


def _failing_rule(world: Recording, alerts: int, error: Attempt
                  ) -> tuple[AlertRule, FakeDeliverer, NotifyAlerts]:
    """A rule with ``alerts`` alerts, whose webhook has just turned failing with ``error``."""
    create, _, _ = _alerting(world)
    deliverer, vault = FakeDeliverer(), FakeVault()
    rule = create.execute(world.workspace.id, {
        "name": "Logins", "match": {"actions": ["user.login"]},
        "notify": {"webhook_url": "https://hooks.example.com/a"}}, ADMIN).rule
    evaluate = ProcessPendingEvents(world.uow, world.geo, chunk_size=50, chunk_handlers=[
        AlertEvaluation(world.ids, world.clock, world.queue)])
    world.ingest.execute(world.workspace.id, [world.event()] * alerts, batch=True)
    evaluate.execute(world.workspace.id)
    notify = NotifyAlerts(world.uow, deliverer, vault, world.queue, world.clock,
                          lambda: 0.5, timedelta(seconds=30), world.activity)
    deliverer.answers = [error] * FAILING_AFTER
    for _ in range(FAILING_AFTER):
        world.clock.advance(minutes=11)
        notify.execute(rule.id)
    return rule, deliverer, notify


def test_an_alert_rules_webhook_failing_then_fixed_is_on_record(world: Recording) -> None:
    _, update, _ = _alerting(world)
    rule, _, notify = _failing_rule(world, 1, Attempt(False, None, "Connection failed"))
    update.execute(world.workspace.id, rule.id,  # fixed by an admin: retried at once
                   {"notify": {"webhook_url": "https://fixed.example.com/"}}, ADMIN)
    assert notify.execute(rule.id) == 1
    failing, recovered = _turns(world, "alert_rule")
    assert (failing.action, failing.metadata) == (
        "auditrail.alert_rule.failing",
        {"failures": FAILING_AFTER, "outcome": "http_error", "http_status": None})
    assert failing.targets == [{"id": rule.id, "type": "alert_rule", "name": "Logins"}]
    assert (recovered.action, recovered.metadata) == (  # the admin's change cleared since
        "auditrail.alert_rule.recovered", {"failures": FAILING_AFTER, "failing_since": None})
    assert world.actions().index("auditrail.alert_rule.updated") < \
        world.actions().index("auditrail.alert_rule.recovered")


def test_a_rules_recovery_is_on_record_when_a_failure_follows_it_in_one_claim(
        world: Recording) -> None:
    """Several alerts go out a claim: the first accepted after a failing spell ends it on
    record, though the claim's last attempt fails again (one failure is not failing)."""
    rule, deliverer, notify = _failing_rule(world, 3, Attempt(False, 503, "HTTP 503"))
    deliverer.answers = [Attempt(True, 200), Attempt(False, 503, "HTTP 503")]
    world.clock.advance(minutes=11)
    assert notify.execute(rule.id) == 1
    assert [turn.action for turn in _turns(world, "alert_rule")] == [
        "auditrail.alert_rule.failing", "auditrail.alert_rule.recovered"]


def test_a_witness_refusing_then_cosigning_again_is_recorded_as_it_turns() -> None:
    fine = LogWitness("lwt_1", "ws_1", "https://w.example", WITNESS_KEY_TEXT,
                      created_at=CLOCK_START, held_size=3, cosigned_size=3)
    refusing = fine.failed(CLOCK_START, "refused", 0.0, refused=True)
    assert witness_turned(fine, refusing, "refused", 5) == Change(
        "log_witness.refused", "log_witness", "lwt_1", "witness.example/w",
        {"tree_size": 5, "held_size": 3})
    still = refusing.failed(CLOCK_START, "unreachable", 0.0)
    assert witness_turned(refusing, still, "unreachable", 5) is None
    for _ in range(FAILING_AFTER):
        still = still.failed(CLOCK_START, "refused", 0.0, refused=True)
    assert witness_turned(refusing, still, "refused", 6) is None  # refused: not "failing"
    cosigned = still.cosigned(7, CLOCK_START)
    assert witness_turned(still, cosigned, "cosigned", 7) == Change(
        "log_witness.recovered", "log_witness", "lwt_1", "witness.example/w",
        {"failures": FAILING_AFTER + 2, "failing_since": format_timestamp(CLOCK_START),
         "refused": True})
    assert witness_turned(cosigned, cosigned.cosigned(8, CLOCK_START), "cosigned", 8) is None
