"""Run by ``test_generated_client.py`` inside a virtualenv of its own, with the client
openapi-python-client generated from the served API document importable as
``auditrail_api``: an integrator's first hour with it against a real server. Each call's
answer must parse into the document's model for its status (a status or body the document
does not describe parses into None, or fails). Prints what it saw as JSON."""

import datetime
import json
import sys
import time

from auditrail_api import AuthenticatedClient
from auditrail_api.api.alerts import create_alert_rule, delete_alert_rule, list_alert_rules
from auditrail_api.api.events import (
    event_stats,
    get_event,
    ingest_batch,
    ingest_event,
    list_events,
    verify_events,
)
from auditrail_api.api.exports import create_export, get_export
from auditrail_api.api.transparency_log import event_proof, log_key
from auditrail_api.api.workspace import get_workspace
from auditrail_api.models import (
    Accepted,
    AlertRuleCreate,
    AlertRuleCreated,
    AlertRulePage,
    BatchAccepted,
    Error,
    Event,
    EventBatchBody,
    EventOut,
    EventPage,
    EventStats,
    ExportCreate,
    ExportCreateFormat,
    ExportOut,
    InclusionProof,
    ListEventsOrder,
    LogKey,
    Party,
    VerifyReport,
    WorkspaceOut,
)

base, key = sys.argv[1:]
client = AuthenticatedClient(base_url=base, token=key, raise_on_unexpected_status=True)
seen = {}


def parsed(response, model):
    assert isinstance(response.parsed, model), (response.status_code, response.content)
    return response.parsed


def until(step, done, seconds=30):
    deadline = time.monotonic() + seconds
    while True:
        result = step()
        if done(result) or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


batch = parsed(ingest_batch.sync_detailed(client=client, idempotency_key="gen-batch-1",
                                          body=EventBatchBody(events=[Event(
                                              action="user.login",
                                              actor=Party(id=f"usr_{n}", type_="user"))
                                              for n in range(3)])), BatchAccepted)
seen["batch_ids"] = len(batch.ids)
accepted = parsed(ingest_event.sync_detailed(client=client, body=Event(
    action="document.update", actor=Party(id="usr_9", type_="user", name="Ann"),
    occurred_at=datetime.datetime(2026, 11, 1, 12, 0, tzinfo=datetime.UTC))), Accepted)
event = until(lambda: parsed(get_event.sync_detailed(accepted.id, client=client), EventOut),
              lambda e: e.status == "processed")
seen["event"] = {"status": event.status, "sequence": event.sequence,
                 "occurred_at": event.occurred_at.isoformat(),
                 "actor_name": event.actor.name, "hash_length": len(event.hash_)}

first = parsed(list_events.sync_detailed(client=client, action="user.*", limit=2,
                                         order=ListEventsOrder.ASC), EventPage)
second = parsed(list_events.sync_detailed(client=client, action="user.*", limit=2,
                                          order=ListEventsOrder.ASC,
                                          cursor=first.next_cursor), EventPage)
seen["pages"] = [[e.actor.id for e in first.data], first.has_more, first.total_count,
                 [e.actor.id for e in second.data], second.has_more]
stats = parsed(event_stats.sync_detailed(client=client, group_by="action"),
               EventStats)
seen["stats"] = {group.value: group.count for group in stats.groups}

report = parsed(verify_events.sync_detailed(client=client), VerifyReport)
seen["verified"] = [report.valid, report.checked]
proof = parsed(until(lambda: event_proof.sync_detailed(accepted.id, client=client),
                     lambda r: r.status_code == 200), InclusionProof)
key_of_log = parsed(log_key.sync_detailed(client=client), LogKey)
seen["proof"] = [proof.event_id == accepted.id, proof.tree_size, len(proof.inclusion_path),
                 proof.checkpoint.split("\n")[0] == key_of_log.origin]
seen["log_key_algorithm"] = str(key_of_log.algorithm)

export = parsed(create_export.sync_detailed(client=client, body=ExportCreate(
    format_=ExportCreateFormat.NDJSON)), ExportOut)
export = until(lambda: parsed(get_export.sync_detailed(export.id, client=client), ExportOut),
               lambda e: e.status == "completed")
seen["export"] = [export.status, export.row_count, isinstance(export.completed_at,
                                                              datetime.datetime)]

rule = parsed(create_alert_rule.sync_detailed(client=client, body=AlertRuleCreate.from_dict({
    "name": "Logins", "match": {"actions": ["user.login"]},
    "notify": {"webhook_url": "https://alerts.example.com/hook"}})), AlertRuleCreated)
seen["rules"] = [r.name for r in parsed(list_alert_rules.sync_detailed(client=client),
                                        AlertRulePage).data]
assert delete_alert_rule.sync_detailed(rule.id, client=client).status_code == 204
seen["workspace"] = parsed(get_workspace.sync_detailed(client=client), WorkspaceOut).name

missing = parsed(get_event.sync_detailed("evt_01JD0000000000000000000000", client=client), Error)
seen["missing"] = [missing.error.code, missing.error.request_id.startswith("req_")]
refused = parsed(list_events.sync_detailed(
    client=client, since=datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC),
    until=datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC)), Error)
seen["refused"] = refused.error.code
print(json.dumps(seen))
