"""The audit event: its input rules, its lifecycle and its one canonical document.

The document returned by ``GET /events/{id}`` is defined here, not in the HTTP layer,
because the hash chain covers exactly that document: one definition keeps the API and the
hashes from ever drifting apart.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from domain.errors import FieldError, ValidationFailed
from domain.json_rules import ijson_violations, metadata_violations
from domain.timestamps import InvalidTimestamp, format_timestamp, parse_timestamp

ACTION_MAX_LENGTH = 128
ACTION_PATTERN = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
IDENTIFIER_MAX_LENGTH = 256
NAME_MAX_LENGTH = 256
USER_AGENT_MAX_LENGTH = 1024
MAX_TARGETS = 50
MAX_EVENT_BYTES = 32 * 1024
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
MAX_CLOCK_SKEW = timedelta(minutes=5)
EARLIEST_OCCURRED_AT = "1970-01-01T00:00:00Z"

PENDING = "pending"
PROCESSED = "processed"


@dataclass(frozen=True)
class Event:
    """One audit event; ``geo``, ``sequence``, ``prev_hash`` and ``hash`` arrive on processing."""

    id: str
    workspace_id: str
    action: str
    occurred_at: datetime
    received_at: datetime
    actor: dict[str, Any]
    targets: list[dict[str, Any]] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    status: str = PENDING
    geo: dict[str, Any] | None = None
    sequence: int | None = None
    prev_hash: str | None = None
    hash: str | None = None

    @property
    def ip_address(self) -> str | None:
        return self.context.get("ip_address")

    def core(self) -> dict[str, Any]:
        """The hashed part of the document: everything but ``status``, ``prev_hash``, ``hash``."""
        return {
            "id": self.id,
            "workspace_id": self.workspace_id,
            "action": self.action,
            "occurred_at": format_timestamp(self.occurred_at),
            "received_at": format_timestamp(self.received_at),
            "actor": self.actor,
            "targets": self.targets,
            "context": self.context,
            "metadata": self.metadata,
            "geo": self.geo,
            "sequence": self.sequence,
        }

    def document(self) -> dict[str, Any]:
        """The event exactly as the API returns it (contract §5.3)."""
        return {**self.core(), "status": self.status, "prev_hash": self.prev_hash,
                "hash": self.hash}

    def processed(self, *, sequence: int, prev_hash: str, hash_: str) -> Event:
        return replace(self, status=PROCESSED, sequence=sequence, prev_hash=prev_hash,
                       hash=hash_)

    def with_geo(self, geo: dict[str, Any] | None) -> Event:
        return replace(self, geo=geo)


def new_event(body: dict[str, Any], *, event_id: str, workspace_id: str,
              received_at: datetime) -> Event:
    """Build a pending event from a request body, enforcing every rule of contract §5.1.

    All broken rules are reported together so a client can fix its payload in one go.
    """
    errors = list(_body_violations(body, received_at))
    if errors:
        raise ValidationFailed(errors)
    occurred_text = body.get("occurred_at")
    return Event(
        id=event_id,
        workspace_id=workspace_id,
        action=body["action"],
        occurred_at=parse_timestamp(occurred_text) if occurred_text else received_at,
        received_at=received_at,
        actor=dict(body["actor"]),
        targets=[dict(target) for target in body.get("targets") or []],
        context=_normalised_context(body.get("context") or {}),
        metadata=dict(body.get("metadata") or {}),
    )


def _normalised_context(context: dict[str, Any]) -> dict[str, Any]:
    """Store IP addresses in their canonical text so filters match however they were typed."""
    if "ip_address" in context:
        return {**context, "ip_address": str(ipaddress.ip_address(context["ip_address"]))}
    return dict(context)


def _body_violations(body: dict[str, Any], received_at: datetime):
    yield from _action_violations(body.get("action"))
    yield from _occurred_at_violations(body.get("occurred_at"), received_at)
    yield from _party_violations(body.get("actor"), "actor")
    targets = body.get("targets") or []
    if len(targets) > MAX_TARGETS:
        yield FieldError("targets", f"At most {MAX_TARGETS} targets are allowed.")
    for index, target in enumerate(targets):
        yield from _party_violations(target, f"targets[{index}]")
    yield from _context_violations(body.get("context") or {})
    if isinstance(body.get("metadata"), dict):
        for path, message in metadata_violations(body["metadata"], "metadata"):
            yield FieldError(path, message)
    ijson = [FieldError(path, message) for path, message in ijson_violations(body, "")]
    yield from ijson
    if not ijson and _serialized_size(body) > MAX_EVENT_BYTES:
        yield FieldError("", f"A serialized event may be at most {MAX_EVENT_BYTES} bytes.")


def _action_violations(action: Any):
    if not isinstance(action, str) or not action:
        yield FieldError("action", "Missing data for required field.")
    elif len(action) > ACTION_MAX_LENGTH:
        yield FieldError("action", f"At most {ACTION_MAX_LENGTH} characters.")
    elif not ACTION_PATTERN.match(action):
        yield FieldError("action", "Dot-separated segments of letters, digits, '_' and '-' "
                                   "(e.g. 'user.login_failed').")


def _occurred_at_violations(text: Any, received_at: datetime):
    if text is None:
        return
    if not isinstance(text, str):
        yield FieldError("occurred_at", "Not a valid ISO 8601 timestamp.")
        return
    try:
        moment = parse_timestamp(text)
    except InvalidTimestamp as exc:
        yield FieldError("occurred_at", str(exc))
        return
    if moment > received_at + MAX_CLOCK_SKEW:
        yield FieldError("occurred_at", "Must not be more than 5 minutes in the future.")
    if moment < parse_timestamp(EARLIEST_OCCURRED_AT):
        yield FieldError("occurred_at", f"Must not be before {EARLIEST_OCCURRED_AT}.")


def _party_violations(party: Any, path: str):
    """Actors and targets share one shape: id, type, optional name and metadata."""
    if not isinstance(party, dict):
        yield FieldError(path, "Missing data for required field.")
        return
    for key in ("id", "type"):
        value = party.get(key)
        if not isinstance(value, str) or not value:
            yield FieldError(f"{path}.{key}", "Missing data for required field.")
        elif len(value) > IDENTIFIER_MAX_LENGTH:
            yield FieldError(f"{path}.{key}", f"At most {IDENTIFIER_MAX_LENGTH} characters.")
        elif _CONTROL_CHARACTERS.search(value):
            yield FieldError(f"{path}.{key}", "Must not contain control characters.")
    name = party.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > NAME_MAX_LENGTH):
        yield FieldError(f"{path}.name", f"A string of at most {NAME_MAX_LENGTH} characters.")
    if isinstance(party.get("metadata"), dict):
        for sub_path, message in metadata_violations(party["metadata"], f"{path}.metadata"):
            yield FieldError(sub_path, message)


def _context_violations(context: dict[str, Any]):
    address = context.get("ip_address")
    if address is not None:
        try:
            if not isinstance(address, str):
                raise ValueError(address)
            ipaddress.ip_address(address)
        except ValueError:
            yield FieldError("context.ip_address", "Not a valid IPv4 or IPv6 address.")
    agent = context.get("user_agent")
    if agent is not None and (not isinstance(agent, str) or len(agent) > USER_AGENT_MAX_LENGTH):
        yield FieldError("context.user_agent",
                         f"A string of at most {USER_AGENT_MAX_LENGTH} characters.")


def _serialized_size(body: dict[str, Any]) -> int:
    return len(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
