"""When the events a ``Monitor`` read occurred, to hold the log's retention to the days
agreed. Retention removes a prefix of the chain, each event of it older than the period
when removed, so the latest ``occurred_at`` among sequences 1..S bounds how young the
events under a retention anchor at S were. The monitor keeps that maximum as the
sequences where it first reached each hour (as many marks as hours, whatever the number
of events); the state file holds them as the server's ``auditrail log monitor`` does."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

CLOCK_SLACK = timedelta(hours=1)
"""Allowed between this machine's clock and the server's before an early removal is said."""


class OccurrenceMarks:
    def __init__(self, kept: object = None) -> None:
        """From a state's ``occurred_marks``; none from anything malformed (less is
        checked, nothing is wrongly said)."""
        self.marks: list[tuple[int, datetime]] = []
        for item in kept if isinstance(kept, list) else []:
            try:
                sequence, hour = int(item[0]), _parse(item[1])
            except (TypeError, ValueError, IndexError, KeyError):
                self.marks = []
                return
            if self.marks and (sequence <= self.marks[-1][0] or hour <= self.marks[-1][1]):
                self.marks = []
                return
            self.marks.append((sequence, hour))

    def to_state(self) -> list[list[Any]]:
        return [[sequence, _format(hour)] for sequence, hour in self.marks]

    def read(self, events: Iterable[tuple[int, Any]]) -> None:
        """Events read in sequence order, as (sequence, ``occurred_at``); reading some
        again adds nothing."""
        within = _format(self.marks[-1][1])[:13] if self.marks else ""
        for sequence, occurred_at in events:
            if _canonical(occurred_at) and occurred_at[:13] <= within:
                continue  # in the last mark's hour or before: no need to parse it
            try:
                hour = _parse(occurred_at).replace(minute=0, second=0, microsecond=0)
            except (TypeError, ValueError):
                continue
            if not self.marks or (hour > self.marks[-1][1] and sequence > self.marks[-1][0]):
                self.marks.append((sequence, hour))
                within = _format(hour)[:13]

    def removed_too_early(self, anchor: int, days: int) -> tuple[int, datetime] | None:
        """The (sequence, hour) showing that retention, up to ``anchor``, removed an event
        that occurred less than ``days`` ago; None when what was read shows none."""
        removed = [mark for mark in self.marks if mark[0] <= anchor]
        cutoff = datetime.now(timezone.utc) - timedelta(days=days) + CLOCK_SLACK
        return removed[-1] if removed and removed[-1][1] > cutoff else None

    def forget_below(self, anchor: int) -> None:
        below = [mark for mark in self.marks if mark[0] <= anchor]
        self.marks = below[-1:] + [mark for mark in self.marks if mark[0] > anchor]


def _parse(text: Any) -> datetime:
    if not isinstance(text, str):
        raise TypeError("not a timestamp")
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _format(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _canonical(text: Any) -> bool:
    """As the API writes times (UTC, six digits, ``Z``): then the text's order is time's."""
    return isinstance(text, str) and len(text) == 27 and text[-1] == "Z" and text[10] == "T"
