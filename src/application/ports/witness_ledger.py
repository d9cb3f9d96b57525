"""What a witness remembers of each log it follows: the latest checkpoint it cosigned."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from domain.witnessing import Witnessed


@dataclass(frozen=True)
class HeldLog:
    """What the witness holds of one log, for its operator to watch."""

    origin: str
    witnessed: Witnessed
    cosigned_at: datetime


class WitnessLedger(Protocol):
    def latest(self, origin: str) -> Witnessed | None:
        """The latest checkpoint cosigned for the log ``origin``; None before the first."""
        ...

    def advance(self, origin: str, held: Witnessed | None, witnessed: Witnessed,
                note: str) -> bool:
        """Record ``witnessed`` (and ``note``, the checkpoint with the cosignature) as the
        latest, only if the latest is still ``held`` - its size and its root - (None: none
        yet), in one atomic step; False when another request moved it first. Checking and
        recording apart would let a slower, smaller request roll the witness back; and a
        size alone would not do after ``forget``, when another history may hold it."""
        ...

    def forget(self, origin: str) -> str | None:
        """Drop what is held of the log ``origin``; the note that was held, if any."""
        ...

    def held(self) -> list[HeldLog]:
        """Every log the witness holds a checkpoint of, by origin."""
        ...

    def note(self, origin_hash: str) -> str | None:
        """The latest cosigned checkpoint of the log whose origin's SHA-256 is
        ``origin_hash`` (lowercase hex)."""
        ...
