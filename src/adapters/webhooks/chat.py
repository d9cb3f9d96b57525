"""An alert as a chat message, for an alert rule whose ``notify.format`` is ``slack`` or
``teams``: the body Slack's incoming webhooks take (``{"text": …}`` in its mrkdwn), which
Mattermost, Rocket.Chat and Discord's ``/slack`` webhook URLs take too; or an Adaptive
Card in the message a Microsoft Teams workflow's webhook ("When a Teams webhook request
is received") posts to its channel.

The message is for the people in the channel: what triggered, the first events in one line
each, and the ids to look the rest up by. Event fields come from whoever the application
let act, so they reach the channel as text only. For Slack, ``<``, ``>`` and ``&`` (its
control characters, with which ``<!channel>`` would notify everyone) and ``@`` (with which
``@channel`` does in Mattermost and Discord) are escaped. Teams notifies only those a card
names in its mention entities, which these cards have none of; what its markdown could
make of a field is a link, so ``](`` is broken apart and a link is never formed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, NamedTuple

LISTED_EVENTS = 10
"""Events shown one line each; the alert's id finds the rest."""
FIELD_CHARACTERS = 120
_WORD_JOINER = "\u2060"
TEST_PREFIX = "Test notification, no alert was triggered. "


class _Seen(NamedTuple):
    """What a line says of an event: each value as the event has it, on one line."""

    occurred_at: str
    action: str
    actor: str
    target: str | None
    address: str | None
    place: str | None


def chat_body(document: dict[str, Any]) -> bytes:
    """The Slack message for a notification document (contract §7: alert, rule, events)."""
    alert, rule = document["alert"], document["rule"]
    group = alert["group_key"]
    heading = (f":rotating_light: Alert *{_plain(rule['name'])}*: {_matching(alert)}"
               + (f" for `{_quoted(group)}`" if group != "workspace" else ""))
    if document.get("test"):
        heading = TEST_PREFIX + heading
    lines = [heading, *(_slack_line(seen) for seen in _listed(document))]
    lines += _rest(document, _quoted)
    return _json({"text": "\n".join(lines)})


def teams_body(document: dict[str, Any]) -> bytes:
    """The Teams message for a notification document: an Adaptive Card of plain text
    blocks, one an event."""
    alert, rule = document["alert"], document["rule"]
    group = alert["group_key"]
    heading = f"Alert: {_card_text(rule['name'])}"
    if document.get("test"):
        heading = TEST_PREFIX + heading
    counted = _matching(alert) + (f" for {_card_text(group)}" if group != "workspace" else "")
    blocks = [_block(heading, weight="Bolder", size="Medium"), _block(counted)]
    blocks += [_block(_card_line(seen), spacing="Small") for seen in _listed(document)]
    blocks += [_block(line, isSubtle=True) for line in _rest(document, _card_text)]
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard", "version": "1.4", "body": blocks}
    return _json({"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
         "content": card}]})


def _matching(alert: dict[str, Any]) -> str:
    count = alert["count"]
    return f"{count} matching event{'' if count == 1 else 's'}"


def _listed(document: dict[str, Any]) -> list[_Seen]:
    return [_seen(event) for event in document["events"][:LISTED_EVENTS]]


def _rest(document: dict[str, Any], quote: Callable[[object], str]) -> list[str]:
    """The count of events not listed, and the ids that find the alert."""
    alert, rule, events = document["alert"], document["rule"], document["events"]
    lines = [f"…and {len(events) - LISTED_EVENTS} more."] if len(events) > LISTED_EVENTS \
        else []
    workspace = f" in workspace {quote(events[0]['workspace_id'])}" if events else ""
    lines.append(f"Alert {alert['id']} of rule {rule['id']}{workspace}.")
    return lines


def _seen(event: dict[str, Any]) -> _Seen:
    actor = event["actor"]
    who = _one_line(actor["id"])
    if actor.get("name"):
        who = f"{_one_line(actor['name'])} ({who})"
    target = None
    if event["targets"]:
        first = event["targets"][0]
        target = _one_line(first.get("name") or first["id"])
    address = event["context"].get("ip_address")
    geo = event.get("geo") or {}
    place = ", ".join(part for part in (geo.get("city"), geo.get("country_code")) if part)
    return _Seen(event["occurred_at"], _one_line(event["action"]), who, target,
                 _one_line(address) if address else None,
                 _one_line(place) if address and place else None)


def _slack_line(seen: _Seen) -> str:
    line = f"• {seen.occurred_at}  `{_slack(seen.action)}` by {_slack(seen.actor)}"
    return line + _where(seen, _slack)


def _card_line(seen: _Seen) -> str:
    line = f"{seen.occurred_at}: {_card(seen.action)} by {_card(seen.actor)}"
    return line + _where(seen, _card)


def _where(seen: _Seen, escape: Callable[[str], str]) -> str:
    text = f" on {escape(seen.target)}" if seen.target else ""
    if seen.address:
        text += f" from {escape(seen.address)}" + (f" ({escape(seen.place)})"
                                                    if seen.place else "")
    return text


def _one_line(value: object) -> str:
    """A value from an event, on one line and cut short."""
    text = " ".join(str(value).split())
    if len(text) > FIELD_CHARACTERS:
        text = text[:FIELD_CHARACTERS - 1] + "…"
    return text


def _plain(text: str) -> str:
    """Slack's three control characters escaped, as its formatting guide asks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _quoted(value: object) -> str:
    return _slack(_one_line(value))


def _slack(text: str) -> str:
    """Text for Slack: unable to mention anyone or to close the code span it is in."""
    return _plain(text).replace("@", "@" + _WORD_JOINER).replace("`", "'")


def _card_text(value: object) -> str:
    return _card(_one_line(value))


def _card(text: str) -> str:
    """Text for a card's markdown: ``[text](url)`` cannot form across it."""
    return text.replace("](", "]" + _WORD_JOINER + "(")


def _block(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
