"""What a monitor's state file keeps of what it proved, so that the next check asks the
log only for what is new."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta, timezone

from auditrail_client.errors import MonitorAlarm
from auditrail_client.receipts import Receipt

UNLINKED_FOR_TOO_LONG = timedelta(days=1)
"""A receipted event in no checkpoint this long after it was accepted is an alarm."""


class SeenProved:
    """The checkpoints seen elsewhere already proved in the log's history, by size (their
    roots in base64), as the state keeps them. Sound because the state's checkpoint moves
    only once proved consistent with the one before: what was in its history is in that
    of every later one. Only those given to this check are kept on."""

    def __init__(self, kept: object) -> None:
        self.before = {str(size): root for size, root in kept.items()
                       if isinstance(root, str)} if isinstance(kept, dict) else {}
        self.now: dict[str, str] = {}
        self.earlier = 0

    def already(self, size: int, root: bytes) -> bool:
        encoded = base64.b64encode(root).decode()
        if self.before.get(str(size)) != encoded:
            return False
        self.now[str(size)] = encoded
        self.earlier += 1
        return True

    def add(self, size: int, root: bytes) -> None:
        self.now[str(size)] = base64.b64encode(root).decode()



class Honoured:
    """The receipts proved honoured, by the SHA-256 of their notes, as the state keeps
    them: each of their events is in a tree every later checked one extends. Only those
    given to this check are kept on."""

    def __init__(self, kept: object) -> None:
        self.before = {item for item in kept if isinstance(item, str)} \
            if isinstance(kept, list) else set()
        self.now: set[str] = set()
        self.earlier = 0
        self.ignored = 0
        self.waiting: list[Receipt] = []

    def already(self, note: str) -> bool:
        digest = hashlib.sha256(note.encode("utf-8")).hexdigest()
        if digest not in self.before:
            return False
        self.now.add(digest)
        self.earlier += 1
        return True

    def add(self, note: str) -> None:
        self.now.add(hashlib.sha256(note.encode("utf-8")).hexdigest())

    def too_late(self) -> None:
        """``MonitorAlarm`` when a waiting receipt's events were accepted too long ago to
        be still unlinked: the log links within seconds, and promised to."""
        if not self.waiting:
            return
        oldest = min(receipt.received_at for receipt in self.waiting)
        accepted = datetime.fromisoformat(oldest.replace("Z", "+00:00"))
        if datetime.now(timezone.utc) - accepted > UNLINKED_FOR_TOO_LONG:
            raise MonitorAlarm(f"events the log accepted at {oldest} (a receipt it signed "
                               f"says so) are still in no checkpoint")

