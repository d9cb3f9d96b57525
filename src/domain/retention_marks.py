"""What a reader of the log remembers of when its events occurred, to hold retention to the
period it agreed to.

Retention removes a prefix of the chain: events in sequence order while each occurred
before the cutoff (``application.use_cases.apply_retention``). So every event up to the
signed retention anchor occurred before it was removed less the retention period, and
the latest ``occurred_at`` among sequences 1..S - the prefix maximum - says how young the
removed events were. A monitor that read the events keeps that maximum as a step
function: where it first reached each hour. An anchor past a mark younger than the
period is retention removing events before their time, which an operator holding the
signing key could otherwise do unseen (it signs the anchor itself).

Hours, because the check compares against days and the marks stay few: as many as the
hours the retained events span, whatever their number.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from domain.timestamps import InvalidTimestamp, format_timestamp, parse_timestamp

CLOCK_SLACK = timedelta(hours=1)
"""Allowed between the reader's clock and the server's before an early removal is said."""


@dataclass(frozen=True)
class Mark:
    """The event at ``sequence`` is the first whose ``occurred_at`` is in ``hour`` or
    later, in sequence order."""

    sequence: int
    hour: datetime


@dataclass
class OccurrenceMarks:
    marks: list[Mark] = field(default_factory=list)

    @classmethod
    def from_state(cls, kept: object) -> OccurrenceMarks:
        """The marks a state file kept; none from anything else (a state written before
        marks were kept, or edited by hand), which only means less is checked."""
        marks: list[Mark] = []
        for item in kept if isinstance(kept, list) else []:
            try:
                sequence, hour = item
                mark = Mark(int(sequence), parse_timestamp(hour))
            except (TypeError, ValueError, InvalidTimestamp):
                return cls()
            if marks and (mark.sequence <= marks[-1].sequence or mark.hour <= marks[-1].hour):
                return cls()
            marks.append(mark)
        return cls(marks)

    def to_state(self) -> list[list[object]]:
        return [[mark.sequence, format_timestamp(mark.hour)] for mark in self.marks]

    def read(self, events: Iterable[tuple[int, str]]) -> None:
        """Take events read in sequence order, after those read before (reading some
        again adds nothing): (sequence, ``occurred_at`` as the log holds it). One whose
        time does not parse adds nothing."""
        within = format_timestamp(self.marks[-1].hour)[:13] if self.marks else ""
        for sequence, occurred_at in events:
            if _canonical(occurred_at) and occurred_at[:13] <= within:
                continue  # in the last mark's hour or before: no need to parse it
            try:
                hour = parse_timestamp(occurred_at).replace(minute=0, second=0,
                                                            microsecond=0)
            except (InvalidTimestamp, TypeError):
                continue
            last = self.marks[-1] if self.marks else None
            if last is None or (hour > last.hour and sequence > last.sequence):
                self.marks.append(Mark(sequence, hour))
                within = format_timestamp(hour)[:13]

    def removed_too_early(self, anchor: int, now: datetime, days: int) -> Mark | None:
        """The mark showing that retention, having removed events up to ``anchor``,
        removed one that occurred less than ``days`` before ``now``; None when what was
        read shows none."""
        removed = [mark for mark in self.marks if mark.sequence <= anchor]
        if removed and removed[-1].hour > now.astimezone(UTC) - timedelta(days=days) \
                + CLOCK_SLACK:
            return removed[-1]
        return None

    def forget_below(self, anchor: int) -> None:
        """Keep one mark at or below the anchor (the prefix maximum of what is gone still
        bounds every later anchor) and those above it."""
        below = [mark for mark in self.marks if mark.sequence <= anchor]
        self.marks = below[-1:] + [mark for mark in self.marks if mark.sequence > anchor]


def _canonical(text: object) -> bool:
    """As the API writes times (UTC, six digits, ``Z``): then the text's order is time's."""
    return isinstance(text, str) and len(text) == 27 and text[-1] == "Z" and text[10] == "T"
