"""The actions a workspace accepts, when it lists them.

An event, once accepted, stays in the log for as long as the workspace keeps events: a
misspelt action (``user.logn``) or one sent by a test build cannot be corrected or removed
later, only explained. A workspace that lists what it expects has such an event refused
at the door instead, with the action it was probably meant to be, while the sender can
still fix it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from domain.action_patterns import ActionPatterns, action_patterns, checked_patterns
from domain.activity import named
from domain.errors import FieldError, ValidationFailed
from domain.event_rules import RESERVED_PREFIX, is_reserved
from domain.field_names import meant_field

MAX_ACCEPTED_ACTIONS = 1_000
"""More than any application's catalogue of audited actions; a pattern (``billing.*``)
covers a family."""
FIELD = "accepted_actions"
RECORDED_ENTRIES = 100
"""Actions a record of a change names, added and removed each: a workspace's records are
events, and an event holds at most 32 KiB (a list may hold 1,000 actions of 128
characters)."""
MAX_GUESSES = 10
"""Refused actions of one request whose likely meaning is looked for: a close match costs
a millisecond against a long list, and a batch holds up to 1,000 events."""
WHERE_TO_ADD = ("an admin key adds actions with PATCH /api/v1/workspace "
                f'{{"{FIELD}": [...]}}')


def checked_accepted_actions(value: object) -> tuple[str, ...] | None:
    """The list as stored (repeats dropped), or None for "any action";
    ``ValidationFailed`` names each bad pattern as ``accepted_actions[i]``."""
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    listed = checked_patterns(items, FIELD, most=MAX_ACCEPTED_ACTIONS,
                              instead="null to accept any action")
    reserved = [FieldError(f"{FIELD}[{index}]",
                           f"Actions beginning '{RESERVED_PREFIX}' are Auditrail's own "
                           f"records of changes to the workspace, kept whatever this list "
                           f"says, and no application may send them; leave them out.")
                for index, pattern in enumerate(items) if is_reserved(pattern)]
    if reserved:
        raise ValidationFailed(reserved)
    return listed


def recorded_change(before: tuple[str, ...] | None,
                    after: tuple[str, ...] | None) -> dict[str, object]:
    """A change of the list as the workspace's record of it says it: how many actions it
    listed before and after (None: any action was accepted) and which were added and
    removed, the first ``RECORDED_ENTRIES`` of each, with how many more were not named."""
    old, new = set(before or ()), set(after or ())
    return {"from": None if before is None else len(before),
            "to": None if after is None else len(after),
            **named("added", [a for a in after or () if a not in old], RECORDED_ENTRIES),
            **named("removed", [a for a in before or () if a not in new], RECORDED_ENTRIES)}


class AcceptedActions:
    """A workspace's list as a matcher, built once and kept with the workspace (the
    credential cache holds it between requests)."""

    def __init__(self, listed: Iterable[str]) -> None:
        self._listed = tuple(listed)
        self._patterns: ActionPatterns = action_patterns(self._listed)

    def unmatched(self, patterns: Sequence[str], field: str, what: str) -> list[FieldError]:
        """Of an alert rule's or a stream's action patterns (``what`` names it), those no
        accepted action can match, as ``field[i]`` errors: such a rule would never
        trigger, such a stream never send, and nobody would be told. Auditrail's own
        records (``auditrail.*``) are kept whatever the list says."""
        errors = []
        for index, pattern in enumerate(patterns):
            if self.may_match(pattern):
                continue
            meant = meant_field(pattern, self._listed)
            guess = f"; did you mean '{meant}'?" if meant else "."
            errors.append(FieldError(f"{field}[{index}]", (
                f"No action this workspace accepts matches {pattern!r}, so {what} would "
                f"never see an event{guess} To accept it first, {WHERE_TO_ADD}.")))
        return errors

    def may_match(self, pattern: str) -> bool:
        """Whether some action the list accepts could match ``pattern`` (Auditrail's own
        records always can)."""
        if is_reserved(pattern):
            return True
        wanted = action_patterns([pattern])
        if wanted.exact:
            return self._patterns.matches(next(iter(wanted.exact)))
        (prefix,) = wanted.prefixes
        return any(action.startswith(prefix) for action in self._patterns.exact) or any(
            listed.startswith(prefix) or prefix.startswith(listed)
            for listed in self._patterns.prefixes)

    def refusals(self, actions: Iterable[str]) -> dict[str, str]:
        """Why each action not listed is refused, by action; the first
        ``MAX_GUESSES`` of them name the listed action each is probably a slip of."""
        refused: dict[str, str] = {}
        for action in actions:
            if action not in refused and not self._patterns.matches(action):
                meant = self._meant(action) if len(refused) < MAX_GUESSES else None
                guess = f"; did you mean '{meant}'?" if meant else "."
                refused[action] = (f"Not one of this workspace's accepted actions{guess} "
                                   f"To accept it, {WHERE_TO_ADD}.")
        return refused

    def _meant(self, action: str) -> str | None:
        """A listed action ``action`` misspells, else ``action`` under a listed prefix
        whose segments it misspells (``bliling.refund`` under ``billing.*``)."""
        meant = meant_field(action, self._patterns.exact)
        if meant:
            return meant
        segments = action.split(".")
        for depth in sorted({prefix.count(".") for prefix in self._patterns.prefixes}):
            if len(segments) > depth:
                head = ".".join(segments[:depth]) + "."
                alike = meant_field(head, [prefix for prefix in self._patterns.prefixes
                                           if prefix.count(".") == depth])
                if alike:
                    return alike + ".".join(segments[depth:])
        return None
