"""An alert as a chat message, for an alert rule whose ``notify.format`` is ``slack``:
the body Slack's incoming webhooks take (``{"text": …}`` in its mrkdwn), which
Mattermost, Rocket.Chat and Discord's ``/slack`` webhook URLs take too.

The message is for the people in the channel: what triggered, the first events in one line
each, and the ids to look the rest up by. Event fields come from whoever the application
let act, so they are escaped: ``<``, ``>`` and ``&`` (Slack's control characters, with
which ``<!channel>`` would notify everyone) and ``@`` (with which ``@channel`` does in
Mattermost and Discord) cannot reach the channel as markup.
"""

from __future__ import annotations

import json
from typing import Any

LISTED_EVENTS = 10
"""Events shown one line each; the alert's id finds the rest."""
FIELD_CHARACTERS = 120
_WORD_JOINER = "\u2060"


def chat_body(document: dict[str, Any]) -> bytes:
    """The message for a notification document (contract §7: alert, rule, events)."""
    alert, rule, events = document["alert"], document["rule"], document["events"]
    group = alert["group_key"]
    count = alert["count"]
    heading = (f":rotating_light: Alert *{_plain(rule['name'])}*: {count} matching "
               f"event{'' if count == 1 else 's'}"
               + (f" for `{_quoted(group)}`" if group != "workspace" else ""))
    if document.get("test"):
        heading = "Test notification, no alert was triggered. " + heading
    lines = [heading, *(_line(event) for event in events[:LISTED_EVENTS])]
    if len(events) > LISTED_EVENTS:
        lines.append(f"…and {len(events) - LISTED_EVENTS} more.")
    workspace = f" in workspace {_quoted(events[0]['workspace_id'])}" if events else ""
    lines.append(f"Alert {alert['id']} of rule {rule['id']}{workspace}.")
    return json.dumps({"text": "\n".join(lines)}, ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")


def _line(event: dict[str, Any]) -> str:
    actor = event["actor"]
    who = _quoted(actor["id"])
    if actor.get("name"):
        who = f"{_quoted(actor['name'])} ({who})"
    line = f"• {event['occurred_at']}  `{_quoted(event['action'])}` by {who}"
    if event["targets"]:
        target = event["targets"][0]
        line += f" on {_quoted(target.get('name') or target['id'])}"
    address = event["context"].get("ip_address")
    if address:
        geo = event.get("geo") or {}
        place = ", ".join(part for part in (geo.get("city"), geo.get("country_code")) if part)
        line += f" from {_quoted(address)}" + (f" ({_quoted(place)})" if place else "")
    return line


def _plain(text: str) -> str:
    """Slack's three control characters escaped, as its formatting guide asks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _quoted(value: object) -> str:
    """A value from an event, on one line, cut short, and unable to mention anyone."""
    text = " ".join(str(value).split())
    if len(text) > FIELD_CHARACTERS:
        text = text[:FIELD_CHARACTERS - 1] + "…"
    return _plain(text).replace("@", "@" + _WORD_JOINER).replace("`", "'")
