"""Which actions a log stream (or an alert rule) is about: exact names or ``prefix.*``.

The same two forms a search's ``action`` filter takes (``event_search.action_filter``), so
that a pattern tried out in ``GET /events?action=…`` selects the same events here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from domain.errors import FieldError, ValidationFailed
from domain.event_search import InvalidFilter, action_filter

MAX_PATTERNS = 50


@dataclass(frozen=True)
class ActionPatterns:
    """No pattern at all means every action."""

    exact: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    """Each ends with ``.``: ``user.*`` is kept as ``user.``."""

    @property
    def everything(self) -> bool:
        return not self.exact and not self.prefixes

    def matches(self, action: str) -> bool:
        return self.everything or action in self.exact or action.startswith(self.prefixes)


def action_patterns(patterns: Iterable[str]) -> ActionPatterns:
    """Patterns already checked (``checked_patterns``), as a matcher."""
    exact: set[str] = set()
    prefixes: list[str] = []
    for pattern in patterns:
        parsed = action_filter(pattern)
        if "action" in parsed:
            exact.add(parsed["action"])
        else:
            prefixes.append(parsed["action_prefix"])
    return ActionPatterns(frozenset(exact), tuple(sorted(set(prefixes))))


def checked_patterns(patterns: Sequence[object], field: str, *,
                     most: int = MAX_PATTERNS,
                     instead: str = "leave the filter out to take every action"
                     ) -> tuple[str, ...]:
    """The patterns without repeats, or ``ValidationFailed`` naming each bad one as
    ``field[i]``; an empty list is refused, since it reads as "nothing" but would mean
    "everything" (``instead`` says how to ask for that)."""
    if not patterns:
        raise ValidationFailed([FieldError(field, f"List at least one action, or {instead}.")])
    if len(patterns) > most:
        raise ValidationFailed([FieldError(field, f"At most {most:,} patterns.")])
    errors, checked = [], []
    for index, pattern in enumerate(patterns):
        try:
            if not isinstance(pattern, str):
                raise InvalidFilter(field, "Not a string.")
            action_filter(pattern)
            checked.append(pattern)
        except InvalidFilter as exc:
            errors.append(FieldError(f"{field}[{index}]", str(exc)))
    if errors:
        raise ValidationFailed(errors)
    return tuple(dict.fromkeys(checked))
