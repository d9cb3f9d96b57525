"""The audit event: its lifecycle and its one canonical document (rules: ``event_rules``).

The document returned by ``GET /events/{id}`` is defined here, not in the HTTP layer,
because the hash chain covers exactly that document: one definition keeps the API and the
hashes from ever drifting apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, NamedTuple

from domain.errors import ValidationFailed
from domain.event_rules import body_violations, canonical_ip_address
from domain.timestamps import format_timestamp, parse_timestamp

PENDING = "pending"
PROCESSED = "processed"


class Link(NamedTuple):
    """Where a linked event sits in its chain."""

    sequence: int
    prev_hash: str
    hash: str


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

    @property
    def country_code(self) -> str | None:
        """The search column beside the event: its writers and verification's check of it
        must derive it alike."""
        return (self.geo or {}).get("country_code")

    @property
    def linked(self) -> Link:
        """Its place in its chain, for code that reads linked events only: a pending event
        there is a bug to stop at, not a None to carry on with."""
        if self.sequence is None or self.prev_hash is None or self.hash is None:
            raise ValueError(f"event {self.id} is not linked into its chain")
        return Link(self.sequence, self.prev_hash, self.hash)

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
              received_at: datetime, own: bool = False) -> Event:
    """Build a pending event from a request body, enforcing every rule of contract §5.1.

    All broken rules are reported together so a client can fix its payload in one go.
    ``own``: one of Auditrail's records of a change (domain.activity), the only events
    allowed the reserved action prefix.
    """
    errors = body_violations(body, received_at, own=own)
    if errors:
        raise ValidationFailed(errors)
    occurred_text = body.get("occurred_at")
    context = body.get("context") or {}
    if "ip_address" in context:
        # Canonical text, so that filters match however the address was typed.
        context = {**context, "ip_address": canonical_ip_address(context["ip_address"])}
    return Event(
        id=event_id,
        workspace_id=workspace_id,
        action=body["action"],
        occurred_at=parse_timestamp(occurred_text) if occurred_text else received_at,
        received_at=received_at,
        actor=body["actor"],
        targets=body.get("targets") or [],
        context=context,
        metadata=body.get("metadata") or {},
    )
