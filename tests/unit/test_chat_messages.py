"""Alerts as chat messages (``notify.format: slack`` and ``teams``): what the channel reads,
and that an event's fields cannot turn into markup there."""

from __future__ import annotations

import json
from typing import Any

from adapters.webhooks.chat import FIELD_CHARACTERS, LISTED_EVENTS, chat_body, teams_body


def event(n: int, **fields: Any) -> dict[str, Any]:
    return {"id": f"evt_{n}", "workspace_id": "ws_1", "action": "user.login_failed",
            "occurred_at": f"2026-12-06T10:00:{n:02d}Z",
            "actor": {"id": f"usr_{n}", "type": "user"}, "targets": [], "context": {},
            "geo": None, **fields}


def document(events: list[dict[str, Any]], group_key: str = "workspace",
             **extra: Any) -> dict[str, Any]:
    return {"type": "alert.triggered",
            "alert": {"id": "alt_1", "rule_id": "alr_1", "group_key": group_key,
                      "count": len(events), "event_ids": [e["id"] for e in events],
                      "triggered_at": "2026-12-06T10:01:00Z"},
            "rule": {"id": "alr_1", "name": "Deletions"}, "events": events, **extra}


def text(body: bytes) -> list[str]:
    message = json.loads(body)
    assert list(message) == ["text"]
    return message["text"].split("\n")


def test_one_event_a_line_with_who_what_and_where() -> None:
    lines = text(chat_body(document([event(
        1, actor={"id": "usr_1", "type": "user", "name": "Jane Roe"},
        targets=[{"id": "doc_7", "type": "document", "name": "Q3 plan"}, {"id": "x"}],
        context={"ip_address": "81.2.69.160"},
        geo={"city": "London", "country_code": "GB"})])))
    assert lines == [
        ":rotating_light: Alert *Deletions*: 1 matching event",
        "• 2026-12-06T10:00:01Z  `user.login_failed` by Jane Roe (usr_1) on Q3 plan from "
        "81.2.69.160 (London, GB)",
        "Alert alt_1 of rule alr_1 in workspace ws_1."]


def test_a_long_alert_lists_its_first_events_and_counts_the_rest() -> None:
    lines = text(chat_body(document([event(n) for n in range(25)], "actor_id:usr_1")))
    assert lines[0].endswith("25 matching events for `actor_id:usr_1`")
    assert len(lines) == 1 + LISTED_EVENTS + 2
    assert lines[-2] == f"…and {25 - LISTED_EVENTS} more."


def test_a_test_notification_says_so_first() -> None:
    [heading, *_] = text(chat_body(document([event(1)], test=True)))
    assert heading.startswith("Test notification, no alert was triggered. :rotating_light:")


def test_event_fields_cannot_mention_link_or_break_the_line() -> None:
    hostile = "<!here|x> @channel & `code`\nsecond line"
    [_, line, _] = text(chat_body(document([event(
        1, actor={"id": "usr_1", "type": "user", "name": hostile},
        targets=[{"id": "<https://evil.example|click>"}])])))
    assert "<" not in line and ">" not in line and "\n" not in line
    assert "&lt;!here|x&gt; @\u2060channel &amp; 'code' second line (usr_1)" in line
    assert "on &lt;https://evil.example|click&gt;" in line


def test_long_fields_are_cut_short() -> None:
    [_, line, _] = text(chat_body(document([event(1, actor={"id": "u" * 500,
                                                            "type": "user"})])))
    assert "u" * (FIELD_CHARACTERS - 1) + "…" in line and "u" * FIELD_CHARACTERS not in line


def card(body: bytes) -> list[dict[str, Any]]:
    """The text blocks of a Teams message's one Adaptive Card."""
    message = json.loads(body)
    [attachment] = message["attachments"]
    assert (message["type"], attachment["contentType"]) == (
        "message", "application/vnd.microsoft.card.adaptive")
    content = attachment["content"]
    assert (content["type"], content["version"]) == ("AdaptiveCard", "1.4")
    assert all(block["type"] == "TextBlock" and block["wrap"] for block in content["body"])
    return content["body"]


def test_a_teams_card_says_what_triggered_and_lists_the_events() -> None:
    blocks = card(teams_body(document([event(
        1, actor={"id": "usr_1", "type": "user", "name": "Jane Roe"},
        targets=[{"id": "doc_7", "type": "document", "name": "Q3 plan"}],
        context={"ip_address": "81.2.69.160"},
        geo={"city": "London", "country_code": "GB"})], "actor_id:usr_1")))
    assert [block["text"] for block in blocks] == [
        "Alert: Deletions", "1 matching event for actor_id:usr_1",
        "2026-12-06T10:00:01Z: user.login_failed by Jane Roe (usr_1) on Q3 plan from "
        "81.2.69.160 (London, GB)",
        "Alert alt_1 of rule alr_1 in workspace ws_1."]
    assert blocks[0]["weight"] == "Bolder" and blocks[-1]["isSubtle"] is True


def test_a_teams_card_lists_the_first_events_and_says_when_it_is_a_test() -> None:
    blocks = card(teams_body(document([event(n) for n in range(25)], test=True)))
    assert blocks[0]["text"] == "Test notification, no alert was triggered. Alert: Deletions"
    assert len(blocks) == 2 + LISTED_EVENTS + 2
    assert blocks[-2]["text"] == f"…and {25 - LISTED_EVENTS} more."


def test_event_fields_cannot_make_a_link_in_a_teams_card() -> None:
    hostile = "[Reset your password](https://evil.example/login)\nnext"
    [_, _, line, _] = card(teams_body(document([event(
        1, actor={"id": "usr_1", "type": "user", "name": hostile})])))
    assert "](" not in line["text"] and "\n" not in line["text"]
    assert "[Reset your password]\u2060(https://evil.example/login) next (usr_1)" in \
        line["text"]
