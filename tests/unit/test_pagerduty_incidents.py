"""Alerts as PagerDuty incidents (``notify.format: pagerduty``): the Events API v2 trigger
the on-call service receives, one incident an alert however often it is retried, and the
routing key a rule needs."""

from __future__ import annotations

import json

import pytest

from adapters.webhooks.formats import SIGNATURE_HEADER, request_for
from adapters.webhooks.incident import LISTED_EVENTS, SUMMARY_CHARACTERS, pagerduty_body
from application.ports.delivery import Destination, Notification
from domain.alert_rule_settings import rule_settings
from domain.errors import ValidationFailed
from tests.unit.test_chat_messages import document, event

KEY = "R0UTINGKEY0123456789abcdefABCDEF"
RULE = {"name": "Deletions", "match": {"actions": ["user.*"]},
        "notify": {"webhook_url": "https://events.pagerduty.com/v2/enqueue",
                   "format": "pagerduty"}}


def test_an_alert_is_a_trigger_deduplicated_by_its_id() -> None:
    body = json.loads(pagerduty_body(document([event(1), event(2)], "actor_id:usr_1"), KEY))
    assert (body["routing_key"], body["event_action"], body["dedup_key"]) == (
        KEY, "trigger", "alt_1")
    payload = body["payload"]
    assert payload["summary"] == ("Auditrail alert Deletions: 2 matching events for "
                                  "actor_id:usr_1, the first user.login_failed by usr_1")
    assert (payload["source"], payload["severity"], payload["timestamp"]) == (
        "ws_1", "error", "2026-12-06T10:01:00Z")
    assert (payload["component"], payload["class"]) == ("alr_1", "alert.triggered")
    details = payload["custom_details"]
    assert details["alert"]["event_ids"] == ["evt_1", "evt_2"]
    assert [e["id"] for e in details["events"]] == ["evt_1", "evt_2"]  # in full


def test_a_large_alert_carries_its_first_events_and_every_id() -> None:
    events = [event(n % 60, actor={"id": "u" * 200, "type": "user"}) for n in range(300)]
    body = json.loads(pagerduty_body(document(events, checkpoint="log.example/ws_1\n…"), KEY))
    details = body["payload"]["custom_details"]
    assert len(details["events"]) == LISTED_EVENTS
    assert len(details["alert"]["event_ids"]) == 300
    assert details["checkpoint"].startswith("log.example/ws_1")
    assert len(body["payload"]["summary"]) <= SUMMARY_CHARACTERS


def test_a_test_notification_says_so_and_a_retry_sends_the_same_bytes() -> None:
    sample = document([event(1)], test=True)
    body = json.loads(pagerduty_body(sample, KEY))
    assert body["payload"]["summary"].startswith("Test notification, no alert was triggered.")
    destination = Destination("pagerduty", "https://events.pagerduty.com/v2/enqueue", KEY)
    first = request_for(destination, Notification("alt_1", sample), now=1_000)
    again = request_for(destination, Notification("alt_1", sample), now=2_000)
    assert first.body == again.body  # the same incident, however late the retry
    assert SIGNATURE_HEADER not in first.headers  # the key routes; it does not sign


def test_a_rule_paging_pagerduty_needs_its_routing_key() -> None:
    with pytest.raises(ValidationFailed) as refused:
        rule_settings(RULE, allow_private=False, creating=True)
    assert [e.field for e in refused.value.errors] == ["notify.secret"]
    assert "integration key" in refused.value.errors[0].message
    with_key = {**RULE, "notify": {**RULE["notify"], "secret": KEY}}
    assert rule_settings(with_key, allow_private=False, creating=True)["notify_format"] == \
        "pagerduty"
