"""The records Auditrail keeps, in a workspace's own log, of changes to the workspace.

Who issued an admin key, who removed a witness or switched a stream off are questions an
auditor asks of the audit log itself: the answer belongs in the same chain, tree and
checkpoints as the events, where nobody can drop it unseen. Such records are ordinary
events under actions that begin ``auditrail.``, a prefix refused to clients so that an
event under it can only be one Auditrail wrote.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from domain.chain_checks import ChainCheck
from domain.event_rules import (
    NAME_MAX_LENGTH,
    RESERVED_PREFIX,
    USER_AGENT_MAX_LENGTH,
    canonical_ip_address,
)
from domain.log_witnesses import LogWitness
from domain.sending import FAILING_AFTER, Sending
from domain.timestamps import format_timestamp

OPERATOR = "operator"
"""The actor type of changes made on the server's command line, outside the API."""


@dataclass(frozen=True)
class Actor:
    """Who made a change: an API key, a viewer link or the server's operator, and from
    where (the request's address and user agent; none on the command line)."""

    id: str
    type: str
    name: str | None = None
    ip_address: str | None = None
    user_agent: str | None = None


SYSTEM = Actor("auditrail", "system", "Auditrail")
"""Auditrail itself, for what no one did: a destination that stopped or started again
accepting what is sent to it."""


@dataclass(frozen=True)
class Change:
    """One change to a workspace: ``action`` without the prefix (``api_key.created``),
    the resource changed and what is worth knowing of it. Never a secret: the record is
    read by everyone who may read the log."""

    action: str
    target_type: str
    target_id: str
    target_name: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def activity_body(change: Change, actor: Actor) -> dict[str, Any]:
    """The event body recording ``change``: validated like any client's, so a record
    satisfies every rule of an event (sizes, nesting, I-JSON)."""
    body: dict[str, Any] = {
        "action": RESERVED_PREFIX + change.action,
        "actor": _party(actor.id, actor.type, actor.name),
        "targets": [_party(change.target_id, change.target_type, change.target_name)],
    }
    # What the server saw, not what a client typed: an address a unix socket or a test
    # client leaves empty or odd is left out rather than failing the change.
    context = {"ip_address": canonical_ip_address(actor.ip_address or ""),
               "user_agent": (actor.user_agent or "")[:USER_AGENT_MAX_LENGTH] or None}
    context = {key: value for key, value in context.items() if value}
    if context:
        body["context"] = context
    if change.details:
        body["metadata"] = change.details
    return body


def changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """``{field: {"from": old, "to": new}}`` for each setting whose value differs."""
    return {name: {"from": before.get(name), "to": value}
            for name, value in after.items() if before.get(name) != value}


def named(kind: str, entries: list[str], most: int) -> dict[str, Any]:
    """``{kind: the first `most` entries}``, and ``{kind}_not_named``: how many more, when
    there are: a record is an event, held to 32 KiB, and the lists a setting holds may be
    longer."""
    more = {f"{kind}_not_named": len(entries) - most} if len(entries) > most else {}
    return {kind: entries[:most], **more}


def edited(body: Mapping[str, Any], *shown: str) -> dict[str, Any]:
    """The details of a PATCH: the fields it set, and the values of those in ``shown``
    (a rule's ``enabled``, a stream's ``status``: whether it still watches or sends).
    Other values stay out, as they may hold a secret or a URL with a token in it."""
    return {"fields": sorted(body), **{name: body[name] for name in shown if name in body}}


def sending_turned(kind: str, target_id: str, name: str | None, before: Sending,
                   after: Sending, outcome: str, http_status: int | None) -> Change | None:
    """The change when an attempt turns a destination (``kind``: ``log_stream``,
    ``alert_rule``, ``log_witness``) failing, or is the first to succeed after it was:
    what went to its receiver in between was held back, a gap the log keeps on record.
    Every other attempt changes nothing worth a record. Only the kind of failure is kept,
    never the receiver's answer, which the log's every reader would then read."""
    if after.failing and not before.failing:
        return Change(f"{kind}.failing", kind, target_id, name,
                      {"failures": after.failures, "outcome": outcome,
                       "http_status": http_status})
    if after.failures == 0 and before.failures >= FAILING_AFTER:
        return _recovered(kind, target_id, name, before)
    return None


def witness_turned(before: LogWitness, after: LogWitness, outcome: str,
                   tree_size: int) -> Change | None:
    """A witness refusing the log's checkpoint is recorded as it starts: it holds a history
    of this log that the log's latest does not extend (the log showed it another, or was
    rewritten). It stands until the witness cosigns again, which is recorded too; a
    witness failing otherwise is recorded as a stream's is."""
    if after.refused and not before.refused:
        return Change("log_witness.refused", "log_witness", after.id, after.name,
                      {"tree_size": tree_size, "held_size": after.held_size})
    if after.refused:
        return None  # refusing still: its refusal is on record already
    if before.refused:
        return _recovered("log_witness", after.id, after.name, before.sending, refused=True)
    return sending_turned("log_witness", after.id, after.name, before.sending, after.sending,
                          outcome, None)


def chain_turned(before: ChainCheck, after: ChainCheck) -> Change | None:
    """The change when a scheduled check first finds the workspace's chain invalid, or
    first finds it valid again (restored from a backup, say): the log itself then says
    when its own integrity was in doubt, and an alert rule on it tells whoever watches.
    The record names what broke and where, as ``GET /events/verify`` would."""
    if after.invalid and not before.invalid:
        return Change("chain.invalid", "workspace", after.workspace_id, None,
                      {"reason": after.reason,
                       "first_invalid_sequence": after.first_invalid_sequence,
                       "event_id": after.event_id, "detail": after.detail})
    if before.invalid and after.valid:
        since = before.invalid_since
        return Change("chain.recovered", "workspace", after.workspace_id, None,
                      {"checked": after.checked,
                       "invalid_since": format_timestamp(since) if since else None})
    return None


def _recovered(kind: str, target_id: str, name: str | None, before: Sending,
               **details: Any) -> Change:
    since = before.failing_since
    return Change(f"{kind}.recovered", kind, target_id, name,
                  {"failures": before.failures,
                   "failing_since": format_timestamp(since) if since else None, **details})


def destination(url: str) -> str:
    """Where a URL sends to (its host), without the path or query a token may hide in."""
    return urlsplit(url).hostname or ""


def _party(id_: str, type_: str, name: str | None) -> dict[str, Any]:
    party: dict[str, Any] = {"id": id_, "type": type_}
    if name:
        party["name"] = name[:NAME_MAX_LENGTH]
    return party
