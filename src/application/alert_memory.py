"""What a worker remembers of a workspace's alert rules and window states between chunks.

A drain links a workspace's events chunk after chunk, usually in one process. Reading the
enabled rules, matching their patterns against the chunk's actions and reading the window
states of every (rule, group) the chunk touches cost a 500-event chunk with 100 rules as
much as the rest of its evaluation. What the previous chunk left is still right for the
next one unless something else changed in between, and both kinds of change are visible
without reading what they changed:

* the rules: every edit sets a rule's ``updated_at``, and enabling, disabling, creating or
  deleting one changes the set of enabled ids, so the (id, ``updated_at``) list of the
  enabled rules - one cheap read - tells whether the remembered rules are still the rules;
* the window states: only processing writes them, chunk by chunk under the workspace's
  chain lock, and a changed rule starts counting afresh (under the same lock); upkeep
  deletes only states that every event still to be linked forgets
  (``alert_evaluation.expired_before``), so a remembered one it deleted counts as nothing.
  States remembered right after the chain's event (sequence, hash) are the states when
  the next chunk starts right after that same event under the same rules. Anything else -
  another worker linked a chunk meanwhile, a transaction rolled back, the rules changed -
  is a miss, and the chunk reads what it needs from the database as if nothing were
  remembered.

What is remembered changes only after the chunk's transaction commits, so a rolled-back
chunk leaves the memory as it was. Both memories are bounded (workspaces, states) and
lost with the process, which costs the next chunk a read, nothing more.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cachetools import LRUCache

from application.ports.repositories.alerts import AlertRuleRepository
from domain.alert_evaluation import Key, RuleIndex, WindowState
from domain.alert_rules import AlertRule

RulesVersion = tuple[tuple[str, datetime], ...]
"""The enabled rules' (id, ``updated_at``), in evaluation order."""
Position = tuple[int, str]
"""(sequence, hash) of the chain's event after which states are remembered."""


@dataclass(frozen=True)
class RuleSet:
    version: RulesVersion
    index: RuleIndex

    @property
    def empty(self) -> bool:
        return not self.version


_NO_RULES = RuleSet((), RuleIndex(()))


def _version_of(rules: Sequence[AlertRule]) -> RulesVersion:
    return tuple((rule.id, rule.updated_at) for rule in rules)


def _put(cache: LRUCache[str, Any], key: str, value: Any, max_entries: int) -> None:
    """Store ``value`` as the most recently used, making room by entries (the cache itself
    makes room by weight): the least recently used go first."""
    while len(cache) >= max_entries:
        cache.popitem()
    cache[key] = value


class RuleSets:
    """Each workspace's enabled rules with their action index, as of their last change.

    Bounded by workspaces and by rules (about 1 KB each; an index remembers up to
    ``RuleIndex.MAX_ACTIONS`` actions, under 200 bytes each): at most some 20 MB of rules
    and, for workspaces that each send a thousand different actions, 50 MB of index.
    """

    def __init__(self, max_workspaces: int = 256, max_rules: int = 20_000) -> None:
        self._sets: LRUCache[str, RuleSet] = LRUCache(
            max_rules, getsizeof=lambda rule_set: len(rule_set.version))
        self._max_workspaces = max_workspaces
        self._max_rules = max_rules
        self._lock = threading.Lock()

    def current(self, rules: AlertRuleRepository, workspace_id: str) -> RuleSet:
        """The workspace's enabled rules: one read of their versions, and a second of the
        rules themselves only when those differ from what is remembered."""
        version = tuple(rules.enabled_versions(workspace_id))
        if not version:
            return _NO_RULES  # nothing more to read
        with self._lock:
            known = self._sets.get(workspace_id)
        if known is not None and known.version == version:
            return known
        enabled = rules.enabled(workspace_id)
        # Versioned by what was read, not by the first read: a change committed between
        # the two must not be remembered under the older version.
        fresh = RuleSet(_version_of(enabled), RuleIndex(enabled))
        with self._lock:
            self._sets.pop(workspace_id, None)
            if len(fresh.version) <= self._max_rules:
                _put(self._sets, workspace_id, fresh, self._max_workspaces)
        return fresh


@dataclass
class _Remembered:
    position: Position
    version: RulesVersion
    states: dict[Key, WindowState | None] = field(default_factory=dict)
    """Each (rule, group) known: its state, or None when it has none."""
    weight: int = 0
    """What it holds, in the unit of ``WindowMemory.max_weight``."""

    def learn(self, learned: Mapping[Key, WindowState | None]) -> None:
        for key, state in learned.items():
            if key in self.states:
                self.weight -= _weight(self.states[key])
            self.weight += _weight(state)
            self.states[key] = state


def _weight(state: WindowState | None) -> int:
    """A state and each event it counts are about 200 bytes each (1 KB for a state
    counting four events, their ids included, measured)."""
    return 1 + len(state.events) if state is not None else 1


class WindowMemory:
    """The window states a workspace's last chunk in this process read and wrote.

    ``max_weight`` bounds it all: states plus the events they count, about 200 bytes each,
    so the default holds about 20 MB (the alert benchmark's workspace, 100 rules counting
    200 actors and 258 addresses, weighed 17,423 at most). The least recently used go first;
    a workspace that alone outweighs it is not remembered (each of its chunks reads).
    """

    def __init__(self, max_workspaces: int = 256, max_weight: int = 100_000) -> None:
        self._entries: LRUCache[str, _Remembered] = LRUCache(
            max_weight, getsizeof=lambda entry: entry.weight)
        self._max_workspaces = max_workspaces
        self._max_weight = max_weight
        self._lock = threading.Lock()

    def recall(self, workspace_id: str, after: Position, version: RulesVersion
               ) -> Mapping[Key, WindowState | None] | None:
        """The states known right after the chain's event ``after`` under these rules, or
        None when nothing is: read them all from the database then."""
        with self._lock:
            entry = self._entries.get(workspace_id)
            if entry is None or entry.position != after or entry.version != version:
                return None
            return entry.states

    def remember(self, workspace_id: str, after: Position, through: Position,
                 version: RulesVersion, learned: Mapping[Key, WindowState | None], *,
                 recalled: bool) -> None:
        """A committed chunk that started right after ``after`` and ended with
        ``through``: ``learned`` holds the states it read (None: none stored) and those it
        wrote. ``recalled`` says whether it built on what ``recall`` gave; if not, what it
        learned is all there is to know, and replaces what was remembered."""
        with self._lock:
            entry = self._entries.pop(workspace_id, None)
            if not recalled:
                entry = _Remembered(through, version)
            elif entry is None or entry.position != after or entry.version != version:
                if entry is not None:  # a later chunk, on another thread, moved past this
                    self._entries[workspace_id] = entry
                return
            entry.learn(learned)
            entry.position = through
            if entry.weight <= self._max_weight:
                _put(self._entries, workspace_id, entry, self._max_workspaces)  # re-weighed
