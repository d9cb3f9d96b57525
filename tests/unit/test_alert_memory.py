"""What a worker remembers between chunks (rules, window states) against fakes: it saves
reads, and never changes which alerts trigger."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from application.alert_memory import RuleSets, WindowMemory
from application.use_cases.delivery_upkeep import DeliveryUpkeep
from application.use_cases.evaluate_alerts import AlertEvaluation
from application.use_cases.process_pending_events import ProcessPendingEvents
from domain.alert_evaluation import RuleIndex, WindowState
from domain.alert_rules import AlertRule
from domain.events import Event
from domain.timestamps import to_micros
from tests import fakes
from tests.unit.test_alert_use_cases import Alerts

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
THRESHOLD = {"count": 3, "window_seconds": 60, "group_by": "actor_id"}


class Reads:
    """Counts what the fake repositories are asked for."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.window_keys: list[tuple[str, str]] = []
        self.rule_reads = 0
        load, enabled = fakes._AlertWindowRepo.load, fakes._AlertRuleRepo.enabled

        def counting_load(repo: Any, workspace_id: str, keys: Iterable[tuple[str, str]]
                          ) -> Any:
            keys = list(keys)
            self.window_keys += keys
            return load(repo, workspace_id, keys)

        def counting_enabled(repo: Any, workspace_id: str) -> Any:
            self.rule_reads += 1
            return enabled(repo, workspace_id)
        monkeypatch.setattr(fakes._AlertWindowRepo, "load", counting_load)
        monkeypatch.setattr(fakes._AlertRuleRepo, "enabled", counting_enabled)


def traffic(world: Alerts, count: int, seed: int = 7) -> None:
    """Failed logins by a few actors, somewhat out of order in time."""
    rng = random.Random(seed)
    world.ingest.execute(world.workspace.id, [
        world.event(action="user.login_failed",
                    actor={"id": f"usr_{rng.randrange(3)}", "type": "user"},
                    occurred_at=(T0 + timedelta(seconds=10 * n + rng.randrange(-25, 25))
                                 ).isoformat())
        for n in range(count)], batch=True)


def outcome(world: Alerts) -> list[tuple[str, int, tuple[str, ...]]]:
    return [(alert.group_key, alert.count, alert.event_ids) for alert in world.alerts()]


def with_rules(world: Alerts) -> Alerts:
    world.rule(threshold=THRESHOLD, cooldown_seconds=30)
    world.rule(name="plain", threshold=None, cooldown_seconds=45,
               match={"actions": ["user.*"]})
    return world


def test_a_drain_reads_each_window_state_and_the_rules_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    world = with_rules(Alerts(chunk_size=5))
    reads = Reads(monkeypatch)
    traffic(world, 60)
    world.process.execute(world.workspace.id)
    # 12 chunks, 3 actors counted by the threshold rule, 1 group of the plain rule.
    assert len(world.alerts()) > 3
    assert sorted(reads.window_keys) == sorted(set(reads.window_keys))
    assert len(reads.window_keys) == 4
    assert reads.rule_reads == 1


def test_an_edited_rule_is_read_again_once(monkeypatch: pytest.MonkeyPatch) -> None:
    world = with_rules(Alerts(chunk_size=5))
    reads = Reads(monkeypatch)
    traffic(world, 10)
    world.process.execute(world.workspace.id)
    with world.uow as uow:
        rule_id = uow.alert_rules.enabled(world.workspace.id)[0].id
    reads.rule_reads = 0
    world.update.execute(world.workspace.id, rule_id, {"name": "renamed"})
    traffic(world, 30, seed=8)
    world.process.execute(world.workspace.id)
    assert reads.rule_reads == 1
    assert "renamed" in {alert.rule["name"] for alert in world.alerts()}


def test_workers_taking_turns_trigger_exactly_as_one_worker() -> None:
    alone, turns = with_rules(Alerts(chunk_size=4)), with_rules(Alerts(chunk_size=4))
    for world in (alone, turns):
        traffic(world, 80)
    alone.process.execute(alone.workspace.id)
    # Two workers, each with its own memory, linking one chunk each in turn: each finds
    # that the other moved the chain since its last chunk.
    workers = [ProcessPendingEvents(turns.uow, turns.geo, chunk_size=4, chunk_handlers=[
        AlertEvaluation(turns.ids, turns.clock, turns.queue)]) for _ in range(2)]
    for turn in range(20):
        workers[turn % 2].execute(turns.workspace.id, max_chunks=1)
    assert len(outcome(alone)) > 5
    assert outcome(turns) == outcome(alone)


def test_upkeep_between_the_chunks_of_a_backfill_changes_nothing() -> None:
    """History sent a month late, linked a chunk at a time over three weeks with upkeep
    purging states in between, by a worker that remembers and one that reads: the alerts
    of one uninterrupted pass. Upkeep may only delete what every pending or later event
    forgets; deleting by event time (as it once did) made the reading worker start
    afresh where the remembering one went on counting."""
    alone, turns = with_rules(Alerts(chunk_size=4)), with_rules(Alerts(chunk_size=4))
    for world in (alone, turns):
        rng = random.Random(3)
        month_ago = world.clock.now() - timedelta(days=30)
        world.ingest.execute(world.workspace.id, [
            world.event(action="user.login_failed",
                        actor={"id": f"usr_{rng.randrange(3)}", "type": "user"},
                        occurred_at=(month_ago + timedelta(seconds=10 * n)).isoformat())
            for n in range(40)], batch=True)
    alone.process.execute(alone.workspace.id)
    workers = [ProcessPendingEvents(turns.uow, turns.geo, chunk_size=4, chunk_handlers=[
        AlertEvaluation(turns.ids, turns.clock, turns.queue)]) for _ in range(2)]
    upkeep = DeliveryUpkeep(turns.uow, turns.clock, turns.queue, timedelta(days=30))
    removed = []
    for turn in range(10):
        workers[turn % 2].execute(turns.workspace.id, max_chunks=1)
        turns.clock.advance(days=2)
        removed.append(upkeep.execute().windows_removed)
    assert len(outcome(alone)) > 3
    assert outcome(turns) == outcome(alone)
    # Kept while events received with them were pending; then all four groups go (three
    # actors of the threshold rule, the workspace of the rule with a cooldown alone).
    assert removed == [0] * 9 + [4]


def test_a_rolled_back_chunk_changes_nothing_remembered() -> None:
    alone, failing = with_rules(Alerts(chunk_size=4)), with_rules(Alerts(chunk_size=4))
    for world in (alone, failing):
        traffic(world, 40)
    alone.process.execute(alone.workspace.id)
    failures = iter([False, False, True])

    def fails_third_chunk(uow: Any, events: Sequence[Event]) -> None:
        if next(failures, False):
            raise RuntimeError("the database went away")
    failing.process = ProcessPendingEvents(failing.uow, failing.geo, chunk_size=4,
                                           chunk_handlers=[failing.evaluation,
                                                           fails_third_chunk])
    with pytest.raises(RuntimeError):
        failing.process.execute(failing.workspace.id)
    failing.process.execute(failing.workspace.id)
    assert outcome(failing) == outcome(alone)


def test_changing_the_rules_between_chunks_forgets_the_windows() -> None:
    world = Alerts(chunk_size=3)
    rule_id = world.rule(threshold=THRESHOLD, cooldown_seconds=0)
    world.failed_logins(2)
    world.update.execute(world.workspace.id, rule_id, {"cooldown_seconds": 5})
    world.failed_logins(2)
    assert world.alerts() == []  # the two counted before the change are forgotten
    world.failed_logins(1)
    assert len(world.alerts()) == 1


def test_memory_is_bounded_by_what_it_holds() -> None:
    """A state weighs 1 + the events it counts; so does a key known to have none."""
    memory = WindowMemory(max_workspaces=2, max_weight=10)
    counted = tuple((to_micros(T0), f"evt_{n}", n) for n in range(3))
    heavy, light = WindowState(counted, newest=to_micros(T0)), WindowState(newest=to_micros(T0))
    version = (("alr_1", T0),)
    memory.remember("ws_1", (0, "a"), (5, "b"), version,
                    {("alr_1", "x"): heavy, ("alr_1", "y"): None}, recalled=False)
    assert memory.recall("ws_1", (5, "b"), version) == {("alr_1", "x"): heavy,
                                                        ("alr_1", "y"): None}
    assert memory.recall("ws_1", (5, "c"), version) is None  # another chain position
    assert memory.recall("ws_1", (5, "b"), (("alr_1", T0 + timedelta(1)),)) is None
    memory.remember("ws_1", (5, "b"), (9, "d"), version, {("alr_1", "x"): light},
                    recalled=True)  # 4 + 1 replaced by 1 + 1
    memory.remember("ws_2", (0, "a"), (1, "b"), version,
                    {("alr_1", key): light for key in "pqrst"}, recalled=False)  # 5
    assert memory.recall("ws_1", (9, "d"), version) is not None
    assert memory.recall("ws_2", (1, "b"), version) is not None
    memory.remember("ws_3", (0, "a"), (1, "b"), version, {("alr_1", "z"): heavy},
                    recalled=False)  # 4 more: the least recently used goes
    assert memory.recall("ws_1", (9, "d"), version) is None
    assert memory.recall("ws_2", (1, "b"), version) is not None
    assert memory.recall("ws_3", (1, "b"), version) is not None
    memory.remember("ws_4", (0, "a"), (1, "b"), version,
                    {("alr_1", key): light for key in "abcdefghijk"}, recalled=False)
    assert memory.recall("ws_4", (1, "b"), version) is None  # 11: never fits
    assert memory.recall("ws_3", (1, "b"), version) is not None


def test_memory_holds_at_most_so_many_workspaces() -> None:
    memory = WindowMemory(max_workspaces=2)
    version = (("alr_1", T0),)
    for workspace in ("ws_1", "ws_2", "ws_3"):
        memory.remember(workspace, (0, "a"), (1, "b"), version, {}, recalled=False)
    assert memory.recall("ws_1", (1, "b"), version) is None  # the least recently used
    assert memory.recall("ws_3", (1, "b"), version) == {}


def test_a_late_chunk_does_not_overwrite_a_later_one() -> None:
    memory = WindowMemory()
    version = (("alr_1", T0),)
    first = WindowState(newest=to_micros(T0))
    second = WindowState(newest=to_micros(T0 + timedelta(seconds=1)))
    memory.remember("ws_1", (0, "a"), (5, "b"), version, {("alr_1", "x"): first},
                    recalled=False)
    memory.remember("ws_1", (5, "b"), (9, "c"), version, {("alr_1", "x"): second},
                    recalled=True)
    memory.remember("ws_1", (5, "b"), (9, "other"), version, {("alr_1", "x"): first},
                    recalled=True)  # built on (5, "b"), which is no longer remembered
    assert memory.recall("ws_1", (9, "c"), version) == {("alr_1", "x"): second}


def test_the_action_index_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    world = Alerts()
    world.rule(threshold=None, cooldown_seconds=0, match={"actions": ["user.*"]})
    with world.uow as uow:
        index = RuleIndex(uow.alert_rules.enabled(world.workspace.id))
    monkeypatch.setattr(RuleIndex, "MAX_ACTIONS", 4)
    events = [Event(id=f"evt_{n}", workspace_id=world.workspace.id,
                    action=f"{'user' if n % 2 else 'doc'}.a{n}",
                    actor={"id": "u", "type": "user"}, occurred_at=T0, received_at=T0)
              for n in range(10)]
    assert [event.id for event, _, _ in index.matches(events)] == \
        [f"evt_{n}" for n in range(1, 10, 2)]
    assert len(index._by_action) <= 4


def test_a_workspace_without_rules_reads_nothing_but_their_versions(
        monkeypatch: pytest.MonkeyPatch) -> None:
    world = Alerts(chunk_size=5)
    reads = Reads(monkeypatch)
    traffic(world, 10)
    world.process.execute(world.workspace.id)
    assert reads.rule_reads == 0 and reads.window_keys == [] and world.alerts() == []


class Rules:
    """A rule repository holding ``count`` enabled rules for each workspace asked about."""

    def __init__(self, count: int) -> None:
        self.reads: list[str] = []
        self._rules = [AlertRule(id=f"alr_{n}", workspace_id="", name="r",
                                 actions=("user.*",), webhook_url="https://h.example.com/",
                                 credential=b"s", credential_hint="…", created_at=T0,
                                 updated_at=T0) for n in range(count)]

    def enabled_versions(self, workspace_id: str) -> list[tuple[str, datetime]]:
        return [(rule.id, rule.updated_at) for rule in self._rules]

    def enabled(self, workspace_id: str) -> list[AlertRule]:
        self.reads.append(workspace_id)
        return self._rules


def test_rule_sets_are_bounded_by_workspaces_and_by_rules() -> None:
    rules, sets = Rules(3), RuleSets(max_workspaces=2, max_rules=100)
    for workspace in ("ws_1", "ws_2", "ws_1", "ws_3", "ws_1", "ws_2"):
        assert len(sets.current(rules, workspace).version) == 3  # type: ignore[arg-type]
    # ws_3 pushed out ws_2 (the least recently used), which was read again.
    assert rules.reads == ["ws_1", "ws_2", "ws_3", "ws_2"]
    by_rules = RuleSets(max_workspaces=10, max_rules=7)
    for workspace in ("ws_1", "ws_2", "ws_1", "ws_3", "ws_1", "ws_2"):
        by_rules.current(rules, workspace)  # type: ignore[arg-type]
    assert rules.reads[4:] == ["ws_1", "ws_2", "ws_3", "ws_2"]  # 9 rules do not fit in 7
    heavy = Rules(8)
    by_rules.current(heavy, "ws_4")  # type: ignore[arg-type]
    by_rules.current(heavy, "ws_4")  # type: ignore[arg-type]
    assert heavy.reads == ["ws_4", "ws_4"]  # more rules than it may hold: read each time
