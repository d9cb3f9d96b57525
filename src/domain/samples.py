"""Sample events for test sends: shaped like every other event (§5.3), so that a receiver
exercises the path real events take, yet marked as tests and in no chain."""

from __future__ import annotations

from datetime import datetime

from domain.events import PROCESSED, Event

SAMPLE_ADDRESS = "192.0.2.1"
"""TEST-NET-1 (RFC 5737): an address for examples, which no real event can come from."""


def sample_event(event_id: str, workspace_id: str, now: datetime, action: str,
                 note: str, with_address: bool = False) -> Event:
    """A sample event by Auditrail itself, ``metadata.test`` true and ``note`` saying what
    was (not) recorded; ``with_address`` gives it an address, for what groups by one."""
    return Event(id=event_id, workspace_id=workspace_id, action=action, occurred_at=now,
                 received_at=now,
                 actor={"id": "auditrail", "type": "system", "name": "Auditrail"},
                 context={"ip_address": SAMPLE_ADDRESS} if with_address else {},
                 metadata={"test": True, "note": note}, status=PROCESSED)
