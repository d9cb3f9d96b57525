"""An alert as a PagerDuty incident, for an alert rule whose ``notify.format`` is
``pagerduty``: a ``trigger`` event of the Events API v2, sent to the rule's URL
(``https://events.pagerduty.com/v2/enqueue``, or the EU's ``events.eu.pagerduty.com``)
with the rule's secret as the routing key of the service to page.

The alert's id is the ``dedup_key``: a retry of a notification whose answer was lost
reaches the same incident, never a second page. The summary says what triggered in a
line; ``custom_details`` carries the alert, the rule and the first events in full, within
the API's 512 KB, and the ids of every event.
"""

from __future__ import annotations

import json
from typing import Any

LISTED_EVENTS = 10
"""Events carried in full; the alert's ``event_ids`` name every one."""
SUMMARY_CHARACTERS = 1024
"""The API's limit on ``payload.summary``."""
SEVERITY = "error"
"""Of PagerDuty's four (critical, error, warning, info): an alert rule is written for
what someone should look at now, and a service's own rules can raise or lower it."""


def pagerduty_body(document: dict[str, Any], routing_key: str) -> bytes:
    """The trigger event for a notification document (contract §7: alert, rule, events)."""
    alert, rule, events = document["alert"], document["rule"], document["events"]
    count = alert["count"]
    summary = (f"Auditrail alert {rule['name']}: {count} matching "
               f"event{'' if count == 1 else 's'}")
    if alert["group_key"] != "workspace":
        summary += f" for {alert['group_key']}"
    if events:
        summary += f", the first {events[0]['action']} by {events[0]['actor']['id']}"
    if document.get("test"):
        summary = "Test notification, no alert was triggered. " + summary
    details: dict[str, Any] = {"alert": alert, "rule": rule,
                               "events": events[:LISTED_EVENTS]}
    if document.get("checkpoint") is not None:
        details["checkpoint"] = document["checkpoint"]
    body = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": alert["id"],
        "client": "Auditrail",
        "payload": {
            "summary": " ".join(summary.split())[:SUMMARY_CHARACTERS],
            "source": events[0]["workspace_id"] if events else "auditrail",
            "severity": SEVERITY,
            "timestamp": alert["triggered_at"],
            "component": rule["id"],
            "class": "alert.triggered",
            "custom_details": details,
        },
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
