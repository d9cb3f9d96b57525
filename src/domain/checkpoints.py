"""A signed checkpoint as the log keeps it: a size, a root, and the note that signs them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.timestamps import CLOCK_SKEW


@dataclass(frozen=True)
class SignedCheckpoint:
    workspace_id: str
    tree_size: int
    root_hash: bytes
    note: str
    """The C2SP signed note, byte for byte as served."""
    created_at: datetime

    def signed_within(self, gap: timedelta, now: datetime) -> bool:
        """Signed less than ``gap`` ago, so the next may wait. A time further ahead than
        the clocks' skew is not believed: it would hold signing back until then."""
        return now - gap < self.created_at <= now + CLOCK_SKEW


def origin_of(log_name: str, workspace_id: str) -> str:
    """``<log name>/<workspace id>``: each workspace's log has an identity of its own,
    and the key's name in its signatures is this origin."""
    return f"{log_name}/{workspace_id}"


@dataclass(frozen=True)
class KeyRotation:
    """A retired signing key's hand-over of a workspace's log to its successor, kept once
    signed: whatever pinned the retired key - a monitor that has not run since, an
    auditor's copy of its verifier key - can follow it after the key itself is gone."""

    workspace_id: str
    key_id: str
    """The retired key's id (hex), under the workspace's log name."""
    verifier_key: str
    """The retired key's."""
    note: str
    """The rotation note the retired key signed, naming its successor."""
    created_at: datetime
