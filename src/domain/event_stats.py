"""Counts of events by one attribute: which actions, actors, addresses or countries a
search holds most of, and how many a day.

A page of events answers "what happened"; an auditor's next question is "how much, and by
whom": a login failure count by address, the actors behind most deletions, a day with ten
times the usual activity. The counts are taken by the database over the search's own
filters, never by reading the events out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from domain.event_search import METADATA_FILTER, metadata_key

DAY = "day"
GROUPS = ("action", "actor_id", "actor_type", "ip_address", "country_code", "status", DAY)
"""What events can be counted by: their filter columns, the UTC day they occurred, and
(``metadata.<key>``) a top-level key of their metadata."""
DEFAULT_GROUPS = 10
MAX_GROUPS = 1_000
"""Enough for every action an application audits (a workspace lists up to as many as
``accepted_actions``), in one answer of some 60 KB."""


def metadata_group(group_by: str) -> str | None:
    """The key a ``metadata.<key>`` grouping counts by (``InvalidFilter`` for one that
    names none); None for the other groupings."""
    return metadata_key(group_by) if group_by.startswith(METADATA_FILTER) else None


def grouped_value(metadata: Mapping[str, Any], key: str) -> str | int | float | bool | None:
    """What a metadata grouping counts an event under: the key's string, number or
    boolean; None without one (the key missing, or holding null, an object or a list)."""
    value = metadata.get(key)
    return value if isinstance(value, str | int | float) else None


@dataclass(frozen=True)
class Group:
    value: str | int | float | bool | None
    """The attribute's value (``YYYY-MM-DD`` for a day; a metadata key's string, number
    or boolean); None for events without one (no address, or an address no geo database
    located, no such metadata key)."""
    count: int


@dataclass(frozen=True)
class EventStats:
    """The largest groups, most events first (days: the latest first), and how many
    events matched in all, so that what the groups leave out is known too."""

    group_by: str
    total: int
    groups: tuple[Group, ...]

    @property
    def other(self) -> int:
        """Matching events in groups not listed."""
        return self.total - sum(group.count for group in self.groups)
