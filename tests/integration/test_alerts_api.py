"""Alert rules and alerts over HTTP on both stacks: rules, evaluation inside processing,
signed notifications to real receivers, countries from a real .mmdb, isolation."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from domain.alert_evaluation import WindowState
from domain.timestamps import format_timestamp, from_micros, to_micros
from entrypoints.cli import main
from tests.geo_db import LONDON_V4, SYDNEY_V6, build_city_database
from tests.integration.api_document import assert_sent_as_documented
from tests.integration.stacks import Stack, bearer, point_the_cli_at
from tests.integration.test_observability import sample
from tests.receivers import Answer, receiver, signature_valid

SECRET = "whsec_alert_secret_0123456789abcdef"
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def city_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_city_database(tmp_path_factory.mktemp("geo") / "City.mmdb")


@pytest.fixture(params=["embedded", "production"])
def stack(request: pytest.FixtureRequest, stack_factory: Any, city_db: Path) -> Stack:
    return stack_factory(request.param, allow_private_destinations=True,
                         geoip_db=str(city_db), stream_batch_seconds=0.0)


def new_rule(stack: Stack, key: str, url: str = "https://hooks.example.com/alerts",
             **body: Any) -> Any:
    body = {"name": "Brute force", "match": {"actions": ["user.login_failed"]},
            "notify": {"webhook_url": url, "secret": SECRET}, **body}
    return stack.client.post("/api/v1/alert-rules", headers=bearer(key), json=body)


def send(stack: Stack, key: str, *events: dict[str, Any]) -> None:
    response = stack.client.post("/api/v1/events/batch", headers=bearer(key),
                                 json={"events": list(events)})
    assert response.status_code == 202, response.json


def login_failed(seconds: float = 0, actor: str = "usr_42", ip: str = LONDON_V4,
                 action: str = "user.login_failed") -> dict[str, Any]:
    return {"action": action, "actor": {"id": actor, "type": "user"},
            "occurred_at": format_timestamp(NOW + timedelta(seconds=seconds)),
            "context": {"ip_address": ip}}


def alerts(stack: Stack, key: str, **query: Any) -> list[dict[str, Any]]:
    response = stack.client.get("/api/v1/alerts", headers=bearer(key),
                                query_string={"order": "asc", **query})
    assert response.status_code == 200, response.json
    return response.json["data"]


def fields(response: Any) -> list[str]:
    assert response.status_code == 422, response.json
    return sorted(detail["field"] for detail in response.json["error"]["details"])


def test_a_threshold_rule_triggers_once_and_notifies_signed(stack: Stack) -> None:
    _, key = stack.new_workspace()
    with receiver() as hook:
        rule = new_rule(stack, key, hook.url, threshold={
            "count": 3, "window_seconds": 60, "group_by": "actor_id"}, cooldown_seconds=3600)
        assert rule.status_code == 201, rule.json
        rule = rule.json
        assert rule["notify"]["format"] == "auditrail"  # the signed document, by default
        send(stack, key, login_failed(0), login_failed(10), login_failed(20, actor="usr_7"))
        stack.drain()
        assert alerts(stack, key) == []
        send(stack, key, login_failed(30), login_failed(40))  # the third; then cooldown
        assert stack.deliver_until(lambda: len(hook.requests) >= 1)
        [sent] = hook.requests
    [alert] = alerts(stack, key)
    assert (alert["rule_id"], alert["group_key"], alert["count"]) == \
        (rule["id"], "actor_id:usr_42", 3)
    assert alert["notification"]["status"] == "delivered"
    assert alert["notification"]["attempts"] == 1
    assert signature_valid(SECRET, sent)
    body = sent.json()
    assert body["type"] == "alert.triggered"
    assert body["alert"] == {key_: alert[key_] for key_ in body["alert"]}
    assert body["rule"]["id"] == rule["id"] and "secret" not in str(body["rule"])
    assert [event["id"] for event in body["events"]] == alert["event_ids"]
    assert [event["occurred_at"] for event in body["events"]] == [
        format_timestamp(NOW + timedelta(seconds=s)) for s in (0, 10, 30)]
    assert body["events"][0]["geo"]["country_code"] == "GB"  # events in full, geo included
    assert_sent_as_documented(stack, "alertTriggered", sent)
    assert stack.client.get(f"/api/v1/alerts/{alert['id']}", headers=bearer(key)).json == alert


def test_a_backfill_sent_in_parts_with_upkeep_between_counts_as_one(stack: Stack) -> None:
    """History from a month ago, sent in two batches with upkeep in between: the count
    the first left is kept (it arrived just now), so the second completes it. Upkeep once
    deleted it by event time, and the third event started from nothing."""
    _, key = stack.new_workspace()
    new_rule(stack, key, threshold={"count": 3, "window_seconds": 60, "group_by": "actor_id"})
    month = -30 * 86_400
    send(stack, key, login_failed(month), login_failed(month + 10))
    stack.drain()
    assert stack.container.delivery_upkeep().execute().windows_removed == 0
    send(stack, key, login_failed(month + 20))
    stack.drain()
    [alert] = alerts(stack, key)
    assert alert["count"] == 3


def test_country_rules_use_the_located_address(stack: Stack) -> None:
    _, key = stack.new_workspace()
    with receiver() as hook:
        new_rule(stack, key, hook.url, name="outside GB",
                 match={"actions": ["user.*"], "countries_not_in": ["gb"]})
        new_rule(stack, key, hook.url, name="in AU", match={"actions": ["user.*"],
                                                            "countries": ["AU"]})
        send(stack, key, login_failed(0, ip=LONDON_V4), login_failed(1, ip=SYDNEY_V6),
             login_failed(2, ip="8.8.8.8"), login_failed(3, ip="10.1.2.3"))
        assert stack.deliver_until(lambda: len(hook.requests) >= 2)
    triggered = alerts(stack, key)
    assert len(triggered) == 2  # unknown and private addresses have no country
    rules = {rule["id"]: rule["name"] for rule in stack.client.get(
        "/api/v1/alert-rules", headers=bearer(key)).json["data"]}
    assert sorted(rules[alert["rule_id"]] for alert in triggered) == ["in AU", "outside GB"]
    sydney = stack.client.get(f"/api/v1/events/{triggered[0]['event_ids'][0]}",
                              headers=bearer(key)).json
    assert sydney["geo"]["country_code"] == "AU"


def test_rules_match_actor_types_and_targets_and_keep_them(stack: Stack) -> None:
    """A rule on invoices touched by machine actors: stored and shown as given (conditions
    left out stay out), matched in processing, replaced whole by a PATCH."""
    _, key = stack.new_workspace()
    created = new_rule(stack, key, match={"actions": ["invoice.*"],
                                          "actor_types": ["api_key", "service"],
                                          "target_types": ["invoice"]})
    assert created.status_code == 201, created.json
    rule = created.json
    assert rule["match"] == {"actions": ["invoice.*"], "actor_types": ["api_key", "service"],
                             "target_types": ["invoice"]}

    def touched(seconds: float, actor_type: str, *targets: tuple[str, str]) -> dict[str, Any]:
        return {**login_failed(seconds, action="invoice.updated"),
                "actor": {"id": "app_1", "type": actor_type},
                "targets": [{"id": id_, "type": type_} for id_, type_ in targets]}

    send(stack, key, touched(0, "api_key", ("inv_1", "invoice")),
         touched(1, "user", ("inv_1", "invoice")),
         touched(2, "service", ("doc_1", "document"), ("inv_2", "invoice")),
         touched(3, "service", ("doc_1", "document")))
    stack.drain()
    first = [alert["event_ids"] for alert in alerts(stack, key)]
    events = stack.client.get("/api/v1/events", headers=bearer(key),
                              query_string={"order": "asc"}).json["data"]
    assert first == [[events[0]["id"]], [events[2]["id"]]]

    changed = stack.client.patch(f"/api/v1/alert-rules/{rule['id']}", headers=bearer(key),
                                 json={"match": {"actions": ["invoice.*"],
                                                 "target_ids": ["inv_2"]}})
    assert changed.status_code == 200, changed.json
    assert changed.json["match"] == {"actions": ["invoice.*"], "target_ids": ["inv_2"]}
    send(stack, key, touched(4, "user", ("inv_1", "invoice")),
         touched(5, "user", ("inv_2", "invoice")))
    stack.drain()
    assert len(alerts(stack, key)) == 3
    assert fields(new_rule(stack, key, match={"actions": ["a.b"], "actor_types": [7]})) == [
        "match.actor_types[0]"]
    assert fields(new_rule(stack, key, match={"actions": ["a.b"], "target_ids": [],
                                              "target_types": ["x" * 257]})) == [
        "match.target_ids", "match.target_types[0]"]


def test_rules_match_metadata_values_and_keep_them(stack: Stack) -> None:
    """Stored as given, read back from either database, matched in processing by kind:
    a rule on MFA-less admin logins does not take "false" for false."""
    _, key = stack.new_workspace()
    match = {"actions": ["user.login"], "metadata": {"mfa": [False], "role": ["admin",
                                                                              "owner"]}}
    created = new_rule(stack, key, match=match)
    assert created.status_code == 201, created.json
    assert created.json["match"] == match
    listed = stack.client.get("/api/v1/alert-rules", headers=bearer(key)).json["data"]
    assert [rule["match"] for rule in listed] == [match]

    def login(seconds: float, **metadata: Any) -> dict[str, Any]:
        return {**login_failed(seconds, action="user.login"), "metadata": metadata}

    send(stack, key, login(0, mfa=False, role="admin"), login(1, mfa="false", role="admin"),
         login(2, mfa=False, role="viewer"), login(3, mfa=False),
         login(4, mfa=False, role="owner", extra=1), login(5, mfa=0, role="owner"))
    stack.drain()
    events = stack.client.get("/api/v1/events", headers=bearer(key),
                              query_string={"order": "asc"}).json["data"]
    assert [alert["event_ids"] for alert in alerts(stack, key)] == [
        [events[0]["id"]], [events[4]["id"]]]
    assert fields(new_rule(stack, key, match={"actions": ["a.b"], "metadata": {
        "mfa": [{"nested": True}]}})) == ["match.metadata.mfa[0]"]
    assert fields(new_rule(stack, key, match={"actions": ["a.b"], "metadata": {
        "mfa": "no"}})) == ["match.metadata.mfa"]


def test_disabled_rules_and_other_actions_trigger_nothing(stack: Stack) -> None:
    _, key = stack.new_workspace()
    rule = new_rule(stack, key, enabled=False).json
    new_rule(stack, key, match={"actions": ["admin.*"]})
    send(stack, key, login_failed(0), login_failed(1, action="administrator.login"))
    stack.drain()
    assert alerts(stack, key) == []
    path = f"/api/v1/alert-rules/{rule['id']}"
    assert stack.client.patch(path, headers=bearer(key), json={"enabled": True}).json[
        "enabled"] is True
    send(stack, key, login_failed(2), login_failed(3, action="admin.user.delete"))
    stack.drain()
    assert len(alerts(stack, key)) == 2


def test_a_failing_webhook_is_visible_on_the_alert_and_the_rule(stack: Stack) -> None:
    _, key = stack.new_workspace()
    with receiver(lambda _: Answer(500, body=b"down")) as hook:
        rule = new_rule(stack, key, hook.url).json
        send(stack, key, login_failed(0))
        assert stack.deliver_until(lambda: alerts(stack, key) and alerts(stack, key)[0][
            "notification"]["attempts"] >= 1)
        stack.sql("UPDATE alert_rules SET failures = 4 WHERE id = :id", id=rule["id"])
        stack.sql("UPDATE alert_rules SET next_attempt_at = NULL WHERE id = :id",
                  id=rule["id"])
        stack.container.job_queue().enqueue_deliveries([rule["id"]], force=True)
        assert stack.deliver_until(lambda: stack.client.get(
            f"/api/v1/alert-rules/{rule['id']}", headers=bearer(key)).json[
            "notification"]["status"] == "failing")
    [alert] = alerts(stack, key)
    notification = alert["notification"]
    assert notification["status"] == "pending" and notification["attempts"] >= 2
    behind = stack.container.delivery_status().execute(rules=1000).rules_behind
    [mine] = [lag for lag in behind if lag.rule_id == rule["id"]]
    assert (mine.status, mine.pending) == ("failing", 1) and mine.lag_seconds > 0
    pending = next(line for line in stack.client.get("/metrics").data.decode().splitlines()
                   if line.startswith("auditrail_alert_notifications_pending "))
    assert float(pending.split()[1]) >= 1
    assert notification["last_error"] == "HTTP 500: down"
    state = stack.client.get(f"/api/v1/alert-rules/{rule['id']}", headers=bearer(key)).json
    assert state["notification"]["last_error"] == "HTTP 500: down"
    with receiver() as fixed:
        response = stack.client.patch(f"/api/v1/alert-rules/{rule['id']}", headers=bearer(key),
                                      json={"notify": {"webhook_url": fixed.url}})
        assert response.status_code == 200, response.json
        assert stack.deliver_until(lambda: fixed.requests)
    assert alerts(stack, key)[0]["notification"]["status"] == "delivered"


def test_a_test_notification_is_a_signed_sample_that_records_nothing(stack: Stack) -> None:
    """Shaped as a real one, in the rule's own group form, marked ``"test": true``."""
    _, key = stack.new_workspace()
    with receiver() as hook:
        rule = new_rule(stack, key, hook.url, enabled=False, threshold={
            "count": 5, "window_seconds": 60, "group_by": "ip_address"}).json
        response = stack.client.post(f"/api/v1/alert-rules/{rule['id']}/test",
                                     headers=bearer(key))
        assert response.status_code == 200, response.json
        [sent] = hook.requests
    result = response.json
    assert (result["status"], result["http_status"], result["error"]) == \
        ("delivered", 200, None)
    assert signature_valid(SECRET, sent)
    body = sent.json()
    assert sent.headers["auditrail-delivery-id"] == body["alert"]["id"] == result["alert_id"]
    assert (body["type"], body["test"], body["rule"]["id"]) == \
        ("alert.triggered", True, rule["id"])
    assert (body["alert"]["group_key"], body["alert"]["count"], body["alert"]["rule_id"]) == \
        ("ip_address:192.0.2.1", 1, rule["id"])
    [event] = body["events"]
    assert body["alert"]["event_ids"] == [event["id"]]
    assert (event["action"], event["metadata"]["test"]) == ("auditrail.alert.test", True)
    assert_sent_as_documented(stack, "alertTriggered", sent)
    assert alerts(stack, key) == []
    after = stack.client.get(f"/api/v1/alert-rules/{rule['id']}", headers=bearer(key)).json
    assert after == rule | {"notify": after["notify"]} and "secret" not in after["notify"]


def test_a_slack_rule_posts_a_chat_message_its_events_unable_to_mention_anyone(
        stack: Stack) -> None:
    workspace_id, key = stack.new_workspace()
    with receiver() as hook:
        rule = new_rule(stack, key, hook.url, name="Brute force <prod>", threshold={
            "count": 2, "window_seconds": 60, "group_by": "ip_address"},
            notify={"webhook_url": hook.url, "format": "slack"})
        assert rule.status_code == 201, rule.json
        rule = rule.json
        assert rule["notify"]["format"] == "slack"
        sneaky = {"id": "usr_9", "type": "user", "name": "<!channel> @everyone"}
        send(stack, key, login_failed(0), {**login_failed(5), "actor": sneaky})
        assert stack.deliver_until(lambda: len(hook.requests) >= 1)
        tested = stack.client.post(f"/api/v1/alert-rules/{rule['id']}/test",
                                   headers=bearer(key))
        assert tested.json["status"] == "delivered", tested.json
        [sent, sample_sent] = hook.requests
    [alert] = alerts(stack, key)
    assert alert["notification"]["status"] == "delivered"
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["auditrail-delivery-id"] == alert["id"]
    lines = sent.json()["text"].split("\n")
    assert lines[0] == (f":rotating_light: Alert *Brute force &lt;prod&gt;*: 2 matching "
                        f"events for `ip_address:{LONDON_V4}`")
    first, second = (format_timestamp(NOW + timedelta(seconds=s)) for s in (0, 5))
    assert lines[1] == (f"• {first}  `user.login_failed` by usr_42 from {LONDON_V4} "
                        f"(London, GB)")
    assert lines[2] == (f"• {second}  `user.login_failed` by &lt;!channel&gt; "
                        f"@\u2060everyone (usr_9) from {LONDON_V4} (London, GB)")
    assert lines[3] == f"Alert {alert['id']} of rule {rule['id']} in workspace {workspace_id}."
    assert sample_sent.json()["text"].startswith("Test notification, no alert was "
                                                 "triggered. :rotating_light: Alert")

    back = stack.client.patch(f"/api/v1/alert-rules/{rule['id']}", headers=bearer(key),
                              json={"notify": {"format": "auditrail"}})
    assert back.status_code == 200 and back.json["notify"]["format"] == "auditrail"
    refused = stack.client.patch(f"/api/v1/alert-rules/{rule['id']}", headers=bearer(key),
                                 json={"notify": {"format": "discord"}})
    assert fields(refused) == ["notify.format"]
    assert refused.json["error"]["details"][0]["message"] == \
        "One of: auditrail, slack, teams, pagerduty."


def test_a_teams_rule_posts_an_adaptive_card_to_its_workflow(stack: Stack) -> None:
    workspace_id, key = stack.new_workspace()
    with receiver(lambda _: Answer(202)) as workflow:  # a Teams workflow answers 202
        rule = new_rule(stack, key, workflow.url, name="Brute force",
                        notify={"webhook_url": workflow.url, "format": "teams"})
        assert rule.status_code == 201 and rule.json["notify"]["format"] == "teams"
        send(stack, key, login_failed(0))
        assert stack.deliver_until(lambda: len(workflow.requests) >= 1)
        tested = stack.client.post(f"/api/v1/alert-rules/{rule.json['id']}/test",
                                   headers=bearer(key))
        assert tested.json["status"] == "delivered", tested.json
        [sent, sample] = workflow.requests
    [alert] = alerts(stack, key)
    assert alert["notification"]["status"] == "delivered"
    [attachment] = sent.json()["attachments"]
    texts = [block["text"] for block in attachment["content"]["body"]]
    assert texts[:2] == ["Alert: Brute force", "1 matching event"]
    assert texts[2].endswith(f"user.login_failed by usr_42 from {LONDON_V4} (London, GB)")
    assert texts[-1] == f"Alert {alert['id']} of rule {rule.json['id']} in workspace " \
                        f"{workspace_id}."
    [sample_card] = sample.json()["attachments"]
    assert sample_card["content"]["body"][0]["text"].startswith("Test notification")


def test_a_pagerduty_rule_opens_one_incident_an_alert_with_its_routing_key(
        stack: Stack) -> None:
    _, key = stack.new_workspace()
    routing_key = "R0UTINGKEY0123456789abcdefABCDEF"
    with receiver(lambda _: Answer(202, body=b'{"status":"success"}')) as pagerduty:
        missing = new_rule(stack, key, pagerduty.url,
                           notify={"webhook_url": pagerduty.url, "format": "pagerduty"})
        assert fields(missing) == ["notify.secret"]
        rule = new_rule(stack, key, pagerduty.url, notify={
            "webhook_url": pagerduty.url, "format": "pagerduty", "secret": routing_key})
        assert rule.status_code == 201, rule.json
        assert rule.json["notify"]["format"] == "pagerduty"
        assert rule.json["notify"]["secret_hint"] == "…" + routing_key[-4:]
        send(stack, key, login_failed(0))
        assert stack.deliver_until(lambda: len(pagerduty.requests) >= 1)
        [sent] = pagerduty.requests
    [alert] = alerts(stack, key)
    assert alert["notification"]["status"] == "delivered"
    body = sent.json()
    assert (body["routing_key"], body["event_action"], body["dedup_key"]) == (
        routing_key, "trigger", alert["id"])
    assert body["payload"]["summary"].startswith("Auditrail alert ")
    assert [e["id"] for e in body["payload"]["custom_details"]["events"]] == \
        alert["event_ids"]
    assert "auditrail-signature" not in sent.headers

    with receiver() as hook:  # a rule made to sign cannot page with its signing secret
        signing = new_rule(stack, key, hook.url).json
    refused = stack.client.patch(f"/api/v1/alert-rules/{signing['id']}", headers=bearer(key),
                                 json={"notify": {"format": "pagerduty"}})
    assert fields(refused) == ["notify.secret"]
    switched = stack.client.patch(f"/api/v1/alert-rules/{signing['id']}", headers=bearer(key),
                                  json={"notify": {"format": "pagerduty",
                                                   "secret": routing_key}})
    assert switched.status_code == 200 and switched.json["notify"]["format"] == "pagerduty"


def test_a_failed_test_notification_says_why_and_leaves_the_rule_alone(stack: Stack) -> None:
    _, key = stack.new_workspace()
    failures_before = failed_alert_sends(stack)
    with receiver(lambda _: Answer(401, body=b"bad signature")) as hook:
        rule = new_rule(stack, key, hook.url, threshold={
            "count": 2, "window_seconds": 60, "group_by": "actor_id"}).json
        result = stack.client.post(f"/api/v1/alert-rules/{rule['id']}/test",
                                   headers=bearer(key)).json
        [sent] = hook.requests
    assert (result["status"], result["http_status"], result["error"]) == \
        ("failed", 401, "HTTP 401: bad signature")
    assert sent.json()["alert"]["group_key"] == "actor_id:auditrail"
    after = stack.client.get(f"/api/v1/alert-rules/{rule['id']}", headers=bearer(key)).json
    assert after["notification"] == rule["notification"]
    assert failed_alert_sends(stack) == failures_before + 1


def failed_alert_sends(stack: Stack) -> float:
    return sample(stack.client.get("/metrics").data.decode(), "auditrail_deliveries_total",
                  outcome="http_error", type="alert")


def test_rules_are_strictly_validated(stack: Stack) -> None:
    _, key = stack.new_workspace()
    assert fields(new_rule(stack, key, threshold={"count": 3, "window_seconds": 60,
                                                  "group_by": "team"})) == \
        ["threshold.group_by"]
    assert fields(new_rule(stack, key, colour="red")) == ["colour"]
    assert fields(new_rule(stack, key, match={"actions": ["a.b"], "actorids": ["x"]})) == \
        ["match.actorids"]
    assert fields(new_rule(stack, key, notify={"webhook_url": "ftp://x"})) == \
        ["notify.webhook_url"]
    assert fields(new_rule(stack, key, match={"actions": []}, cooldown_seconds=-5)) == \
        ["cooldown_seconds", "match.actions"]
    assert fields(new_rule(stack, key, enabled="yes")) == ["enabled"]
    assert fields(new_rule(stack, key, enabled=0)) == ["enabled"]
    slips = new_rule(stack, key, cooldown=60, notify={"webhook": "https://hooks.example.com"})
    assert {(d["field"], d["message"]) for d in slips.json["error"]["details"]} == {
        ("cooldown", "Unknown field; did you mean 'cooldown_seconds'?"),
        ("notify.webhook", "Unknown field; did you mean 'webhook_url'?")}
    assert stack.client.get("/api/v1/alert-rules", headers=bearer(key)).json[
        "total_count"] == 0


def test_private_webhooks_are_refused_unless_allowed(stack_factory: Any) -> None:
    strict = stack_factory("embedded")
    _, key = strict.new_workspace()
    for url in ("http://127.0.0.1:9/x", "http://169.254.169.254/", "http://localhost/"):
        assert fields(new_rule(strict, key, url)) == ["notify.webhook_url"]


def test_the_secret_is_shown_once(stack: Stack) -> None:
    _, key = stack.new_workspace()
    created = stack.client.post("/api/v1/alert-rules", headers=bearer(key), json={
        "name": "n", "match": {"actions": ["a.*"]},
        "notify": {"webhook_url": "https://h.example.com/"}})
    assert created.status_code == 201, created.json
    secret = created.json["notify"]["secret"]
    assert secret.startswith("whsec_") and created.json["notify"]["secret_hint"] == \
        "…" + secret[-4:]
    shown = stack.client.get(f"/api/v1/alert-rules/{created.json['id']}",
                             headers=bearer(key)).json
    assert "secret" not in shown["notify"] and secret not in str(shown)


def test_every_alert_endpoint_hides_other_workspaces(stack: Stack) -> None:
    _, owner = stack.new_workspace("Owner")
    _, other = stack.new_workspace("Other")
    rule = new_rule(stack, owner).json
    send(stack, owner, login_failed(0))
    stack.drain()
    [alert] = alerts(stack, owner)
    for method, url, body in [("GET", f"/api/v1/alert-rules/{rule['id']}", None),
                              ("PATCH", f"/api/v1/alert-rules/{rule['id']}", {"name": "x"}),
                              ("DELETE", f"/api/v1/alert-rules/{rule['id']}", None),
                              ("POST", f"/api/v1/alert-rules/{rule['id']}/test", None),
                              ("GET", f"/api/v1/alerts/{alert['id']}", None)]:
        response = stack.client.open(url, method=method, headers=bearer(other), json=body)
        assert response.status_code == 404, (method, url)
    assert alerts(stack, other) == []
    assert alerts(stack, other, rule_id=rule["id"]) == []
    assert stack.client.get("/api/v1/alert-rules", headers=bearer(other)).json["data"] == []
    reader = stack.new_key(stack.client.get("/api/v1/workspace", headers=bearer(owner))
                           .json["id"], "events:read")
    assert stack.client.get("/api/v1/alerts", headers=bearer(reader)).status_code == 403


def test_alerts_filter_by_rule_and_time(stack: Stack) -> None:
    _, key = stack.new_workspace()
    first = new_rule(stack, key).json
    second = new_rule(stack, key, name="admin", match={"actions": ["admin.*"]}).json
    send(stack, key, login_failed(0), login_failed(1, action="admin.x"))
    stack.drain()
    assert [a["rule_id"] for a in alerts(stack, key, rule_id=second["id"])] == [second["id"]]
    assert len(alerts(stack, key, rule_id=first["id"])) == 1
    later = format_timestamp(datetime.now(UTC) + timedelta(minutes=1))
    assert alerts(stack, key, since=later) == []
    assert len(alerts(stack, key, until=later)) == 2
    bad = stack.client.get("/api/v1/alerts", headers=bearer(key),
                           query_string={"since": "yesterday"})
    assert bad.status_code == 400 and "'since'" in bad.json["error"]["message"]


def test_alerts_filter_by_group_across_rules(stack: Stack) -> None:
    _, key = stack.new_workspace()
    new_rule(stack, key, threshold={"count": 2, "window_seconds": 60, "group_by": "actor_id"})
    new_rule(stack, key, name="any admin", match={"actions": ["admin.*"]})
    send(stack, key, login_failed(0), login_failed(1), login_failed(2, actor="usr_7"),
         login_failed(3, actor="usr_7"), login_failed(4, action="admin.x"))
    stack.drain()
    assert sorted(a["group_key"] for a in alerts(stack, key)) == \
        ["actor_id:usr_42", "actor_id:usr_7", "workspace"]
    [mine] = alerts(stack, key, group_key="actor_id:usr_42")
    assert mine["group_key"] == "actor_id:usr_42" and mine["count"] == 2
    assert [a["group_key"] for a in alerts(stack, key, group_key="workspace")] == ["workspace"]
    assert alerts(stack, key, group_key="actor_id:usr_4") == []  # exact, not a prefix
    page = stack.client.get("/api/v1/alerts", headers=bearer(key),
                            query_string={"group_key": "actor_id:usr_7", "limit": 1}).json
    assert page["total_count"] == 1 and len(page["data"]) == 1
    empty = stack.client.get("/api/v1/alerts", headers=bearer(key),
                             query_string={"group_key": ""})
    assert empty.status_code == 400 and "'group_key'" in empty.json["error"]["message"]


def test_alerts_filter_by_how_their_notification_stands(stack: Stack) -> None:
    """Which alerts a receiver has not accepted yet: one rule's receiver is down."""
    _, key = stack.new_workspace()
    with receiver(lambda _: Answer(500)) as broken, receiver() as working:
        down = new_rule(stack, key, broken.url).json
        fine = new_rule(stack, key, working.url, name="admin",
                        match={"actions": ["admin.*"]}).json
        send(stack, key, login_failed(0), login_failed(1, action="admin.x"))
        assert stack.deliver_until(lambda: len(working.requests) == 1 and
                                   len(broken.requests) >= 1)
    [pending] = alerts(stack, key, notification_status="pending")
    [delivered] = alerts(stack, key, notification_status="delivered")
    assert (pending["rule_id"], pending["notification"]["status"]) == (down["id"], "pending")
    assert (delivered["rule_id"], delivered["notification"]["status"]) == \
        (fine["id"], "delivered")
    assert alerts(stack, key, notification_status="cancelled") == []
    page = stack.client.get("/api/v1/alerts", headers=bearer(key), query_string={
        "notification_status": "pending", "rule_id": fine["id"]}).json
    assert page["data"] == [] and page["total_count"] == 0
    bad = stack.client.get("/api/v1/alerts", headers=bearer(key),
                           query_string={"notification_status": "failed"})
    assert bad.status_code == 400 and "'notification_status'" in bad.json["error"]["message"]


def test_deleting_a_rule_keeps_its_alerts(stack: Stack) -> None:
    _, key = stack.new_workspace()
    rule = new_rule(stack, key, "http://127.0.0.1:9/closed").json
    send(stack, key, login_failed(0))
    stack.drain()
    deleted = stack.client.delete(f"/api/v1/alert-rules/{rule['id']}", headers=bearer(key))
    assert deleted.status_code == 204
    [alert] = alerts(stack, key)
    assert alert["notification"]["status"] in ("cancelled", "delivered")


def test_retention_removes_alerts_with_their_events(stack: Stack) -> None:
    _, key = stack.new_workspace(plan="starter")  # 90 days
    with receiver() as hook:
        rule = new_rule(stack, key, hook.url, cooldown_seconds=0).json
        send(stack, key, *(login_failed(-days * 86400) for days in (200, 100, 10)))
        assert stack.deliver_until(lambda: len(hook.requests) == 3)
    gone, _, kept = alerts(stack, key)
    assert stack.container.apply_retention().execute() == 2

    assert [alert["id"] for alert in alerts(stack, key)] == [kept["id"]]
    assert stack.client.get(f"/api/v1/alerts/{gone['id']}",
                            headers=bearer(key)).status_code == 404
    assert alerts(stack, key, rule_id=rule["id"], group_key="workspace") == [kept]


def test_a_failing_notification_holding_retention_shows_in_status_and_metrics(
        stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    workspace_id, key = stack.new_workspace(plan="starter")  # 90 days
    rule = new_rule(stack, key, "http://127.0.0.1:9/closed", cooldown_seconds=0).json
    send(stack, key, *(login_failed(-days * 86400) for days in (200, 100)))
    stack.drain()
    assert stack.container.apply_retention().execute() == 0  # held: notifications pending
    # the event of 200 days before NOW, 110 past its 90 then, and the time since
    past = 110 * 86400 + (datetime.now(UTC) - NOW).total_seconds()

    scraped = sample(stack.client.get("/metrics").get_data(as_text=True),
                     "auditrail_retention_overdue_seconds")
    assert scraped >= past - 60  # the longest of any workspace's
    point_the_cli_at(stack, monkeypatch)
    report = json.loads(CliRunner().invoke(main, ["status", "--json", "--workspaces",
                                                  "1000"]).output)
    [mine] = [lag for lag in report["retention_overdue"]
              if lag["workspace_id"] == workspace_id]
    assert (mine["retention_days"], mine["held_by"]) == (90, ["alert"])
    assert past - 60 <= mine["overdue_seconds"] <= past + 60
    assert report["retention_overdue_seconds"] >= mine["overdue_seconds"]
    text = CliRunner().invoke(main, ["status", "--workspaces", "1000"]).output
    assert f"{workspace_id}  90 days, 110.0 days past, waiting for an alert's notification " \
        "to be accepted" in text

    stack.client.delete(f"/api/v1/alert-rules/{rule['id']}", headers=bearer(key))
    assert stack.container.apply_retention().execute() == 2  # cancelled: nothing holds them
    report = json.loads(CliRunner().invoke(main, ["status", "--json", "--workspaces",
                                                  "1000"]).output)
    assert workspace_id not in [lag["workspace_id"] for lag in report["retention_overdue"]]


def test_a_chunk_costs_a_bounded_number_of_statements_whatever_the_rules(
        stack_factory: Any) -> None:
    """Rules load once a chunk, window states are read and written once, alerts inserted
    once: ten rules cost the statements one does, and 400 events those of one chunk. The
    next drain, in the same process, reads neither the rules (only their versions) nor
    the states it already knows."""
    stack = stack_factory("production")
    counts = []
    for rules in (1, 10):
        workspace_id, key = stack.new_workspace(f"rules-{rules}")
        for n in range(rules):
            new_rule(stack, key, name=f"r{n}", threshold={
                "count": 1000, "window_seconds": 60, "group_by": "actor_id"})
        for _ in range(2):
            send(stack, key, *[login_failed(n % 50, actor=f"usr_{n % 20}")
                               for n in range(400)])
            with stack.statements() as seen:
                assert stack.container.process_pending_events().execute(
                    workspace_id).linked == 400
            counts.append(sum("alert" in statement for statement in seen))
    # The rules' versions, the rules, the window states read and written (nothing
    # triggers); then the versions and the states written.
    assert counts == [4, 2, 4, 2]


def test_window_states_read_back_as_written_and_purge_by_their_horizon(
        stack: Stack) -> None:
    """States are stored in microseconds; the horizon column the purge reads (eight days
    after the state was last touched) is derived from them on write, exact to the
    microsecond."""
    workspace_id, _ = stack.new_workspace()
    newest = to_micros(NOW) + 123_457
    counted = ((newest - 5_000_001, "evt_a", 7), (newest, "evt_b", 9))
    states = {("alr_1", "actor_id:usr_1"): WindowState(counted, newest, touched=newest + 1),
              ("alr_1", "actor_id:usr_2"): WindowState(newest=newest, quiet_until=newest + 9,
                                                       touched=newest + 60_000_001),
              ("alr_2", "workspace"): WindowState()}
    with stack.container.uow() as uow:
        uow.alert_windows.save(workspace_id, states, NOW)
        uow.commit()
    with stack.container.uow(read_only=True) as uow:
        assert uow.alert_windows.load(workspace_id, [*states, ("alr_3", "x")]) == states
        assert uow.alert_windows.load("ws_other", states) == {}
    first = from_micros(states[("alr_1", "actor_id:usr_1")].horizon)  # type: ignore[arg-type]
    tick = timedelta(microseconds=1)
    # The purge is not a workspace's (upkeep runs it for all): what is left is checked.
    for before, left in ((first, 3), (first + tick, 2), (first + timedelta(seconds=60), 2),
                         (first + timedelta(seconds=60) + tick, 1)):
        with stack.container.uow() as uow:
            uow.alert_windows.purge(before, limit=100_000)
            uow.commit()
        with stack.container.uow(read_only=True) as uow:
            kept = uow.alert_windows.load(workspace_id, states)
        assert len(kept) == left, before
    assert kept == {("alr_2", "workspace"): WindowState()}  # no horizon: nothing to wait for


@pytest.mark.parametrize("change", ["patch", "delete"])
def test_a_rule_change_waits_for_the_chunk_being_linked(stack_factory: Any,
                                                        change: str) -> None:
    """A chunk counts under the terms it read: a change that forgets the rule's windows
    waits for the workspace's chain lock, so it cannot forget them under a chunk that
    then writes them back counted under the old terms."""
    stack = stack_factory("production")
    workspace_id, key = stack.new_workspace()
    rule = new_rule(stack, key, threshold={"count": 3, "window_seconds": 60,
                                           "group_by": "actor_id"}).json
    url = f"/api/v1/alert-rules/{rule['id']}"
    answers: list[int] = []

    def make_change() -> None:
        response = (stack.client.patch(url, headers=bearer(key), json={"cooldown_seconds": 30})
                    if change == "patch" else stack.client.delete(url, headers=bearer(key)))
        answers.append(response.status_code)
    with stack.container.uow() as linking:  # as a worker linking a chunk does
        linking.chains.lock(workspace_id)
        changing = threading.Thread(target=make_change)
        changing.start()
        changing.join(timeout=1.0)
        assert changing.is_alive() and answers == []
    changing.join(timeout=10)
    assert answers == [200 if change == "patch" else 204]
