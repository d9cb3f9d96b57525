"""Alert rules, evaluation inside processing, and notifications, against fakes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from application.errors import NotFound
from application.ports.delivery import Notification
from application.ports.repositories.alerts import AlertFilters
from application.use_cases.alert_rules import (
    CreateAlertRule,
    DeleteAlertRule,
    UpdateAlertRule,
)
from application.use_cases.alerts import GetAlert, ListAlerts
from application.use_cases.apply_retention import ApplyRetention
from application.use_cases.delivery_status import GetDeliveryStatus
from application.use_cases.delivery_upkeep import DeliveryUpkeep
from application.use_cases.evaluate_alerts import AlertEvaluation
from application.use_cases.notify_alerts import (
    CLAIMED_AT_ONCE,
    EVENTS_AT_ONCE,
    NotifyAlerts,
    SendTestNotification,
    within_events,
)
from application.use_cases.process_pending_events import ProcessPendingEvents
from domain.alerts import CANCELLED, DELIVERED, PENDING, Alert
from domain.deliveries import Attempt
from domain.sending import FAILING_AFTER
from domain.timestamps import format_timestamp
from tests.unit.test_deliver_stream import LEASE, FakeDeliverer, FakeVault, _Secrets
from tests.unit.test_use_cases import World

RULE = {"name": "Brute force", "match": {"actions": ["user.login_failed"]},
        "threshold": {"count": 3, "window_seconds": 60, "group_by": "actor_id"},
        "cooldown_seconds": 600, "notify": {"webhook_url": "https://hooks.example.com/a"}}


class Alerts(World):
    def __init__(self, chunk_size: int = 500) -> None:
        super().__init__()
        self.deliverer = FakeDeliverer()
        self.vault = FakeVault()
        self.evaluation = AlertEvaluation(self.ids, self.clock, self.queue)
        self.process = ProcessPendingEvents(self.uow, self.geo, chunk_size=chunk_size,
                                            chunk_handlers=[self.evaluation, self.log.sign_linked])
        self.create = CreateAlertRule(self.uow, self.clock, self.ids, _Secrets(), self.vault,
                                      self.deliverer, allow_private=False,
                                      activity=self.activity)
        self.update = UpdateAlertRule(self.uow, self.clock, self.queue, self.vault,
                                      self.deliverer, allow_private=False,
                                      activity=self.activity)
        self.notify = NotifyAlerts(self.uow, self.deliverer, self.vault, self.queue,
                                   self.clock, lambda: 0.5, LEASE, self.activity)

    def rule(self, **body: Any) -> str:
        return self.create.execute(self.workspace.id, {**RULE, **body}).rule.id

    def failed_logins(self, count: int, actor: str = "usr_1", **fields: Any) -> None:
        self.ingest.execute(self.workspace.id, [
            self.event(action="user.login_failed", actor={"id": actor, "type": "user"},
                       **fields)] * count, batch=True)
        self.process.execute(self.workspace.id)

    def get_rule(self, rule_id: str) -> Any:
        with self.uow as uow:
            return uow.alert_rules.get(self.workspace.id, rule_id)

    def alerts(self) -> list[Any]:
        return list(ListAlerts(self.uow).execute(self.workspace.id, order="asc").items)


@pytest.fixture
def world() -> Alerts:
    return Alerts()


def test_processing_triggers_alerts_and_wakes_their_rules_after_the_commit(
        world: Alerts) -> None:
    rule_id = world.rule()
    world.failed_logins(2)
    assert world.alerts() == []
    world.failed_logins(2)
    [alert] = world.alerts()
    assert (alert.rule_id, alert.group_key, alert.count, alert.status) == \
        (rule_id, "actor_id:usr_1", 3, PENDING)
    assert alert.rule["threshold"] == RULE["threshold"]
    assert (rule_id, False) in world.queue.deliveries


def test_chunk_boundaries_do_not_change_the_alerts(world: Alerts) -> None:
    small = Alerts(chunk_size=2)
    for each in (world, small):
        each.rule()
        each.rule(name="plain", threshold=None, cooldown_seconds=0,
                  match={"actions": ["user.*"]})
        for actor in ("a", "b", "a", "a", "b", "a", "b", "b"):
            each.failed_logins(1, actor=actor)
    assert [(a.group_key, a.count) for a in world.alerts()] == \
        [(a.group_key, a.count) for a in small.alerts()]


def test_notifications_are_signed_webhooks_retried_until_accepted(world: Alerts) -> None:
    rule_id = world.rule()
    world.failed_logins(3)
    world.deliverer.answers = [Attempt(False, 503, "HTTP 503")]
    assert world.notify.execute(rule_id) == 0
    assert world.get_rule(rule_id).sending.failures == 1
    world.clock.advance(seconds=5)
    assert world.notify.execute(rule_id) == 1
    (destination, first), (_, retry) = world.deliverer.sent
    assert destination.type == "webhook" and destination.url == RULE["notify"]["webhook_url"]
    assert destination.credential == "whsec_generated_secret_0000"
    assert isinstance(first, Notification) and first == retry  # the same body again
    body = first.document
    assert body["type"] == "alert.triggered" and body["rule"]["id"] == rule_id
    assert [event["action"] for event in body["events"]] == ["user.login_failed"] * 3
    assert body["alert"]["event_ids"] == [event["id"] for event in body["events"]]
    [alert] = world.alerts()
    assert (alert.status, alert.attempts) == (DELIVERED, 2)


def test_a_test_notification_is_sent_now_beside_what_is_pending(world: Alerts) -> None:
    """It neither records an alert nor counts as one of the rule's attempts, and a rule
    without threshold shows the ``workspace`` group its alerts have."""
    rule_id = world.rule(threshold=None)
    world.failed_logins(1)
    test = SendTestNotification(world.uow, world.deliverer, world.vault, world.clock,
                                world.ids)
    world.deliverer.answers = [Attempt(False, 503, "HTTP 503")]
    sent = test.execute(world.workspace.id, rule_id)
    assert (sent.attempt.ok, sent.attempt.http_status, sent.sent_at) == \
        (False, 503, world.clock.now())
    [(destination, notification)] = world.deliverer.sent
    assert destination.url == RULE["notify"]["webhook_url"]
    assert isinstance(notification, Notification) and notification.alert_id == sent.alert_id
    body = notification.document
    assert (body["test"], body["alert"]["group_key"], body["rule"]["id"]) == \
        (True, "workspace", rule_id)
    [pending] = world.alerts()
    assert (pending.status, pending.attempts) == (PENDING, 0)
    assert world.get_rule(rule_id).sending.failures == 0
    with pytest.raises(NotFound):
        test.execute("ws_someone_else", rule_id)


def test_a_rule_whose_webhook_keeps_failing_is_failing_and_says_so(world: Alerts) -> None:
    rule_id = world.rule()
    world.failed_logins(3)
    world.deliverer.answers = [Attempt(False, None, "Connection failed")] * FAILING_AFTER
    for _ in range(FAILING_AFTER):
        world.clock.advance(minutes=11)
        world.notify.execute(rule_id)
    rule = world.get_rule(rule_id)
    assert rule.sending.failing and rule.sending.last_error == "Connection failed"
    status = GetDeliveryStatus(world.uow, world.clock)
    [behind] = status.execute(rules=5).rules_behind
    assert (behind.rule_id, behind.status, behind.pending) == (rule_id, "failing", 1)
    assert behind.lag_seconds == FAILING_AFTER * 11 * 60  # since it triggered
    assert status.execute().rules_behind == []  # the metrics ask for none
    [alert] = world.alerts()
    assert (alert.status, alert.attempts, alert.last_error) == \
        (PENDING, FAILING_AFTER, "Connection failed")
    world.update.execute(world.workspace.id, rule_id,
                         {"notify": {"webhook_url": "https://fixed.example.com/"}})
    assert (rule_id, True) in world.queue.deliveries  # retried at once
    assert world.notify.execute(rule_id) == 1
    assert not world.get_rule(rule_id).sending.failing


def sent_sequences(world: Alerts) -> list[int]:
    return [payload.document["events"][0]["sequence"] for _, payload in world.deliverer.sent]


def test_alerts_of_a_rule_are_notified_in_the_order_they_triggered(world: Alerts) -> None:
    """Several alerts a claim, and a transaction a claim after the first: the outcomes of
    one claim's notifications and the next claim are written together."""
    rule_id = world.rule(threshold=None, cooldown_seconds=0)
    world.failed_logins(2 * CLAIMED_AT_ONCE + 5)
    transactions = 0

    def counted(**options: Any) -> Any:
        nonlocal transactions
        transactions += 1
        return world.uow(**options)

    notify = NotifyAlerts(counted, world.deliverer, world.vault, world.queue, world.clock,
                          lambda: 0.5, LEASE, world.activity)
    assert notify.execute(rule_id) == 2 * CLAIMED_AT_ONCE + 5
    assert sent_sequences(world) == list(range(1, 2 * CLAIMED_AT_ONCE + 6))
    assert transactions == 1 + 3
    assert {alert.status for alert in world.alerts()} == {DELIVERED}


def test_a_failure_holds_the_alerts_claimed_after_it(world: Alerts) -> None:
    """The claim's alerts after the one that failed are not sent: they wait, in order,
    for its retry."""
    rule_id = world.rule(threshold=None, cooldown_seconds=0)
    world.failed_logins(5)
    world.deliverer.answers = [Attempt(True, 200), Attempt(True, 200),
                               Attempt(False, 503, "HTTP 503")]
    assert world.notify.execute(rule_id) == 2
    assert [(a.status, a.attempts) for a in world.alerts()] == \
        [(DELIVERED, 1), (DELIVERED, 1), (PENDING, 1), (PENDING, 0), (PENDING, 0)]
    assert world.get_rule(rule_id).sending.failures == 1
    world.clock.advance(seconds=5)
    assert world.notify.execute(rule_id) == 3
    assert sent_sequences(world) == [1, 2, 3, 3, 4, 5]


def test_no_notification_starts_in_the_last_half_of_the_lease(world: Alerts) -> None:
    """However slowly a receiver answers, the last request of a claim starts while the
    lease has half its length left (more than an attempt may take), so that no other job
    takes the rule while it is in flight; the rest of the claim waits for the next claim,
    and, the job's turn being over, for the next job."""
    rule_id = world.rule(threshold=None, cooldown_seconds=0)
    world.failed_logins(6)
    started: list[tuple[Any, Any]] = []

    def slow() -> None:
        started.append((world.clock.now(), world.get_rule(rule_id).sending.leased_until))
        world.clock.advance(seconds=LEASE.total_seconds() / 4)

    world.deliverer.during_send = slow
    assert world.notify.execute(rule_id) == 3  # then its turn is over: it queues the rest
    assert world.queue.deliveries[-1] == (rule_id, False)
    assert world.notify.execute(rule_id) == 3
    assert sent_sequences(world) == [1, 2, 3, 4, 5, 6]
    assert all(at + LEASE / 2 <= leased_until for at, leased_until in started)
    assert len({leased_until for _, leased_until in started}) == 2  # two claims


def test_a_claim_holds_a_bounded_number_of_events() -> None:
    def alert(count: int) -> Alert:
        return Alert(id=f"alt_{count}", workspace_id="ws_1", rule_id="alr_1",
                     group_key="workspace", event_ids=tuple(f"evt_{n}" for n in range(count)),
                     triggered_at=datetime(2026, 1, 1, tzinfo=UTC), first_sequence=1,
                     trigger_sequence=1, rule={})

    some = [alert(600), alert(400), alert(1)]
    assert within_events(some) == some[:2]  # 1,000 events: the third would pass it
    large = alert(EVENTS_AT_ONCE + 1)
    assert within_events([large, alert(1)]) == [large]  # alone, however large
    assert within_events([]) == []


def test_changing_what_a_rule_counts_starts_afresh(world: Alerts) -> None:
    rule_id = world.rule()
    world.failed_logins(2)
    world.update.execute(world.workspace.id, rule_id, {"name": "renamed"})
    world.failed_logins(1)
    assert len(world.alerts()) == 1  # a rename keeps the count
    world.failed_logins(2)
    world.update.execute(world.workspace.id, rule_id, {"cooldown_seconds": 0})
    world.failed_logins(2)
    assert len(world.alerts()) == 1  # the two before the change no longer count
    world.failed_logins(1)
    assert len(world.alerts()) == 2


def test_deleting_a_rule_cancels_its_pending_notifications_and_keeps_its_alerts(
        world: Alerts) -> None:
    rule_id = world.rule()
    world.failed_logins(3)
    DeleteAlertRule(world.uow, world.clock, world.activity).execute(world.workspace.id, rule_id)
    [alert] = world.alerts()
    assert alert.status == CANCELLED
    assert world.notify.execute(rule_id) == 0 and world.deliverer.sent == []
    with pytest.raises(NotFound):
        DeleteAlertRule(world.uow, world.clock, world.activity).execute(world.workspace.id, rule_id)


def test_upkeep_wakes_rules_with_notifications_pending(world: Alerts) -> None:
    rule_id = world.rule()
    world.failed_logins(3)
    assert world.notify._claim(rule_id) is not None  # a worker takes it, then dies
    upkeep = DeliveryUpkeep(world.uow, world.clock, world.queue, timedelta(days=30))
    assert upkeep.execute().woken == 0
    world.clock.advance(seconds=31)
    assert upkeep.execute().woken == 1 and world.queue.deliveries[-1] == (rule_id, True)


def test_retention_keeps_the_events_of_a_pending_notification(world: Alerts) -> None:
    rule_id = world.rule(threshold=None)
    old = format_timestamp(world.clock.now() - timedelta(days=40))
    world.failed_logins(1, occurred_at=old)
    assert ApplyRetention(world.uow, world.clock, world.log).execute() == 0
    world.notify.execute(rule_id)
    assert len(world.deliverer.sent[0][1].document["events"]) == 1
    assert ApplyRetention(world.uow, world.clock, world.log).execute() == 1


def test_an_alert_goes_with_the_last_of_its_events(world: Alerts) -> None:
    rule_id = world.rule(threshold=None, cooldown_seconds=0)
    grouped = world.rule(name="twice", threshold={"count": 2, "window_seconds": 86400,
                                                  "group_by": "actor_id"})
    cutoff = world.clock.now() - timedelta(days=30)  # the free plan's retention
    for occurred in (cutoff - timedelta(days=10), cutoff - timedelta(hours=1),
                     cutoff + timedelta(hours=1)):
        world.failed_logins(1, occurred_at=format_timestamp(occurred))
    world.log.sign(world.workspace.id)  # retention removes only what a checkpoint covers
    world.notify.execute(rule_id)
    world.notify.execute(grouped)
    assert sorted((a.rule_id, a.first_sequence, a.trigger_sequence, a.status)
                  for a in world.alerts()) == sorted([
        (rule_id, 1, 1, DELIVERED), (rule_id, 2, 2, DELIVERED), (rule_id, 3, 3, DELIVERED),
        (grouped, 2, 3, DELIVERED)])
    others = [replace(a, id=f"alr_other_{n}", workspace_id="ws_other")
              for n, a in enumerate(world.alerts())]
    with world.uow as uow:  # another workspace's alerts at the same sequences stay
        uow.alerts.add_many(others)
        uow.commit()

    assert ApplyRetention(world.uow, world.clock, world.log).execute() == 2
    # the grouped alert keeps one of its events, so it stays until that one goes
    assert sorted((a.rule_id, a.trigger_sequence) for a in world.alerts()) == sorted([
        (rule_id, 3), (grouped, 3)])
    with world.uow as uow:
        assert uow.alerts.count("ws_other", AlertFilters()) == 4


def test_alerts_are_listed_by_rule_and_time_and_hidden_from_other_workspaces(
        world: Alerts) -> None:
    first, second = world.rule(threshold=None), world.rule(name="second", threshold=None)
    world.failed_logins(1)
    world.clock.advance(minutes=5)
    world.failed_logins(1)
    lister = ListAlerts(world.uow)
    assert lister.execute(world.workspace.id, rule_id=first).total_count == 1  # cooldown
    assert lister.execute(world.workspace.id, rule_id=second).total_count == 1
    assert lister.execute(world.workspace.id, since=world.clock.now()).total_count == 0
    assert lister.execute(world.workspace.id, notification_status=PENDING).total_count == 2
    world.notify.execute(first)
    [delivered] = lister.execute(world.workspace.id, notification_status=DELIVERED).items
    assert delivered.rule_id == first
    alert = world.alerts()[0]
    with pytest.raises(NotFound):
        GetAlert(world.uow).execute("ws_other", alert.id)
    assert GetAlert(world.uow).execute(world.workspace.id, alert.id) == alert
