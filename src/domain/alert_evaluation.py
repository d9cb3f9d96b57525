"""How matching events add up to alerts. Pure, and the same whatever the chunking: each
event is evaluated once, in chain order, against state that carries over from chunk to
chunk.

Semantics, per rule and group (``AlertRule.group_key``), by ``occurred_at``:

* Without a threshold, every matching event triggers an alert of its own.
* With one, the rule counts the group's matching events that occurred within the last
  ``window_seconds`` before the newest of them (``newest - window < occurred_at``): when
  that count reaches ``count``, it triggers one alert holding those events, which count
  for no later alert. Events may arrive late and out of order: each counts where its
  ``occurred_at`` puts it, as long as it falls inside that window; an event that occurred
  ``window_seconds`` or more before the group's newest matching event can no longer
  complete a window and is not counted.
* After an alert the group is quiet: matching events that occurred before the alert's
  newest event plus ``cooldown_seconds`` are not counted and trigger nothing. Cooldown is
  measured in event time, like the window, so that the outcome depends only on the events
  and their order in the chain, never on when a worker got to them.
* A group's state is forgotten ``KEPT_SECONDS`` after the arrival (``received_at``) of
  the last event that changed it: an event received later than that counts from nothing.
  Arrival, not occurrence, decides, so that history sent long after it happened (a
  backfill) counts like live traffic; and since no event still to be linked arrived before
  the oldest one pending (nor, bar clock skew, before now), upkeep can delete a state once
  every such event would forget it (``expired_before``), and no worker - whether it
  remembers the state or reads that it is gone - counts differently.
  For live traffic it changes nothing: by then the longest window and cooldown have passed.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from domain.alert_rules import MAX_SECONDS, AlertRule
from domain.events import Event
from domain.timestamps import to_micros

_SECOND = 1_000_000
KEPT_SECONDS = MAX_SECONDS + 86_400
"""The longest window or cooldown, and a day for events that arrive a little late."""
_KEPT = KEPT_SECONDS * _SECOND

Key = tuple[str, str]
"""(rule id, group key)."""

Counted = tuple[int, str, int]
"""An event a window counts: (``occurred_at`` in microseconds since the epoch, id,
sequence). A plain tuple of an int and strings, not an object: a worker remembers tens of
thousands of them between chunks (``application.alert_memory``), and the garbage
collector stops tracking such tuples, where it walks every object on each collection that
reaches them (19 ms of a 500-event chunk's 133 with 100 rules when they were objects, 4 ms
with none, measured). Event time is kept in microseconds for the same reason, and because
that is how the states are stored."""


@dataclass(frozen=True, slots=True)
class WindowState:
    """One rule's count for one group: the events still inside its window, the newest
    ``occurred_at`` seen, until when it is quiet after an alert (event time), and the
    latest arrival (``received_at``) of an event that changed it; all in microseconds since
    the epoch."""

    events: tuple[Counted, ...] = ()
    newest: int | None = None
    quiet_until: int | None = None
    touched: int | None = None

    @property
    def horizon(self) -> int | None:
        """The arrival time (microseconds) after which the state is forgotten."""
        return self.touched + _KEPT if self.touched is not None else None

    def forgotten_by(self, received: int) -> bool:
        horizon = self.horizon
        return horizon is not None and horizon < received


_NOTHING = WindowState()


def expired_before(now: datetime, oldest_pending: datetime | None) -> datetime:
    """States whose ``horizon`` is before this are forgotten by every event still to be
    linked: those pending and those yet to arrive. The hour covers API servers whose clocks
    run behind this one's."""
    cutoff = now - timedelta(hours=1)
    return min(cutoff, oldest_pending) if oldest_pending is not None else cutoff


@dataclass(frozen=True)
class Trigger:
    rule: AlertRule
    group_key: str
    events: tuple[Counted, ...]
    sequence: int
    """The chain position of the event that triggered it: alerts of a rule go out in
    this order."""


@dataclass(frozen=True)
class Outcome:
    states: dict[Key, WindowState] = field(default_factory=dict)
    """Every state the chunk changed."""
    triggers: list[Trigger] = field(default_factory=list)


class RuleIndex:
    """The enabled rules of a workspace, looked up by action: a chunk holds few distinct
    actions, so each is held against every rule's patterns once, not once per event (and,
    while the rules stay the same, once for every chunk)."""

    MAX_ACTIONS = 1_000
    """Actions remembered at most: a workspace inventing actions must not grow it forever."""

    def __init__(self, rules: Iterable[AlertRule]) -> None:
        self._rules = [rule for rule in rules if rule.enabled]
        self._by_action: dict[str, list[AlertRule]] = {}

    def matches(self, events: Sequence[Event]) -> list[tuple[Event, AlertRule, str]]:
        """Each (event, rule, group) to count, in chain order."""
        found = []
        for event in events:
            candidates = self._by_action.get(event.action)
            if candidates is None:
                if len(self._by_action) >= self.MAX_ACTIONS:
                    self._by_action.clear()
                candidates = self._by_action[event.action] = [
                    rule for rule in self._rules if rule.patterns.matches(event.action)]
            for rule in candidates:
                if rule.matches_besides_action(event):
                    key = rule.group_key(event)
                    if key is not None:
                        found.append((event, rule, key))
        return found


def stateful_keys(matches: Sequence[tuple[Event, AlertRule, str]]) -> set[Key]:
    """The (rule, group) pairs whose state the matches need: a rule without threshold or
    cooldown remembers nothing."""
    return {(rule.id, key) for _, rule, key in matches if not rule.stateless}


def evaluate(matches: Sequence[tuple[Event, AlertRule, str]],
             states: Mapping[Key, WindowState]) -> Outcome:
    """Count ``matches`` (from ``RuleIndex.matches``) on top of ``states``; the outcome's
    states are those the stateful rules changed."""
    outcome = Outcome()
    seen: dict[str, tuple[Counted, int]] = {}  # an event matching several rules: once
    for event, rule, key in matches:
        known = seen.get(event.id)
        if known is None:
            known = seen[event.id] = _counted(event)
        counted, received = known
        if rule.stateless:
            outcome.triggers.append(Trigger(rule, key, (counted,), counted[2]))
            continue
        before = outcome.states.get((rule.id, key)) or states.get((rule.id, key)) \
            or _NOTHING
        state, fired = step(rule, before, counted, received)
        if state is not before:  # a quiet group or a late event leaves it as it was
            outcome.states[(rule.id, key)] = state
        if fired:
            outcome.triggers.append(Trigger(rule, key, fired, counted[2]))
    return outcome


def _counted(event: Event) -> tuple[Counted, int]:
    """The event as windows count it, and when it arrived (microseconds)."""
    if event.sequence is None:
        raise ValueError(f"{event.id} is evaluated before it is linked")
    return (to_micros(event.occurred_at), event.id, event.sequence), to_micros(event.received_at)


def step(rule: AlertRule, state: WindowState, counted: Counted, received: int
         ) -> tuple[WindowState, tuple[Counted, ...]]:
    """Count one matching event, which arrived at ``received``; return the new state and
    the events of the alert it triggers (empty when none)."""
    if state.forgotten_by(received):
        state = _NOTHING
    at = counted[0]
    if state.quiet_until is not None and at < state.quiet_until:
        return state, ()
    touched = received if state.touched is None else max(received, state.touched)
    cooldown = rule.cooldown_seconds * _SECOND
    if rule.threshold is None:
        quiet = at + cooldown if cooldown else state.quiet_until
        newest = at if state.newest is None else max(at, state.newest)
        return WindowState(newest=newest, quiet_until=quiet, touched=touched), (counted,)
    window = rule.threshold.window_seconds * _SECOND
    if state.newest is not None and at <= state.newest - window:
        return state, ()  # too late: no window that can still be completed holds it
    newest = at if state.newest is None else max(at, state.newest)
    start = newest - window
    kept = [c for c in state.events if c[0] > start]  # already in order
    bisect.insort(kept, counted)  # by occurred_at, then id: sequences never decide
    if len(kept) >= rule.threshold.count:
        quiet = newest + cooldown if cooldown else state.quiet_until
        return WindowState(newest=newest, quiet_until=quiet, touched=touched), tuple(kept)
    return WindowState(tuple(kept), newest, state.quiet_until, touched), ()
