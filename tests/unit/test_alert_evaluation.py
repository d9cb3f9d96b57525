"""Alert rules and how matching events add up to alerts: pure domain, on event time."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.alert_evaluation import RuleIndex, WindowState, evaluate, expired_before
from domain.alert_rule_settings import rule_settings
from domain.alert_rules import AlertRule, Threshold
from domain.errors import ValidationFailed
from domain.events import Event
from domain.timestamps import to_micros
from tests.factories import EventFactory

T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
_sequences = itertools.count(1)


def rule(**changes: Any) -> AlertRule:
    made = AlertRule(id="alr_1", workspace_id="ws_1", name="r", actions=("user.login_failed",),
                     webhook_url="https://hooks.example.com/", credential=b"s",
                     credential_hint="…", created_at=T0, updated_at=T0)
    return replace(made, **changes)


def event(seconds: float, action: str = "user.login_failed", actor: str = "usr_1",
          ip: str | None = "203.0.113.7", country: str | None = "AU",
          received: timedelta = timedelta(seconds=1)) -> Event:
    """An event that occurred ``seconds`` after T0 and arrived ``received`` after that."""
    occurred_at = T0 + timedelta(seconds=seconds)
    return EventFactory(action=action, occurred_at=occurred_at,
                        received_at=occurred_at + received,
                        actor={"id": actor, "type": "user"},
                        context={"ip_address": ip} if ip else {},
                        geo={"country_code": country} if country else None,
                        sequence=next(_sequences), status="processed")


def run(rules: list[AlertRule], events: list[Event],
        states: dict | None = None) -> list[tuple[str, str, list[str]]]:
    """(rule id, group key, event ids) of each alert, in the order they trigger."""
    outcome = evaluate(RuleIndex(rules).matches(events), states or {})
    return [(t.rule.id, t.group_key, [event_id for _, event_id, _ in t.events])
            for t in outcome.triggers]


def threshold(count: int, window: int, group_by: str = "actor_id") -> Threshold:
    return Threshold(count, window, group_by)


def test_without_a_threshold_every_match_triggers() -> None:
    events = [event(0), event(1, action="user.login"), event(2)]
    assert run([rule()], events) == [("alr_1", "workspace", [events[0].id]),
                                      ("alr_1", "workspace", [events[2].id])]


def test_a_threshold_counts_a_groups_events_within_the_window() -> None:
    limited = rule(threshold=threshold(3, 60))
    events = [event(0), event(30), event(50), event(55)]
    assert run([limited], events) == [("alr_1", "actor_id:usr_1",
                                       [e.id for e in events[:3]])]


def test_events_spread_wider_than_the_window_do_not_trigger() -> None:
    limited = rule(threshold=threshold(3, 60))
    assert run([limited], [event(0), event(40), event(60), event(100)]) == []
    # 0 and 60 are exactly a window apart: not within it; 40, 60, 99 are
    assert run([limited], [event(0), event(40), event(60), event(99)]) != []


def test_the_window_is_by_occurred_at_and_late_events_count_where_they_belong() -> None:
    limited = rule(threshold=threshold(3, 60))
    late = event(10)  # processed last, occurred between the others
    events = [event(0), event(50), late]
    assert run([limited], events) == [("alr_1", "actor_id:usr_1",
                                       [events[0].id, late.id, events[1].id])]


def test_an_event_older_than_the_newests_window_is_too_late_to_count() -> None:
    limited = rule(threshold=threshold(2, 60))
    assert run([limited], [event(100), event(40)]) == []  # 100 - 60 = 40: outside
    assert run([limited], [event(100), event(41)]) != []


def test_groups_are_counted_apart() -> None:
    by_actor = rule(threshold=threshold(2, 60))
    events = [event(0, actor="a"), event(1, actor="b"), event(2, actor="a")]
    assert run([by_actor], events) == [("alr_1", "actor_id:a", [events[0].id, events[2].id])]
    by_ip = rule(threshold=threshold(2, 60, "ip_address"))
    events = [event(0, actor="a", ip="198.51.100.1"), event(1, actor="b", ip="198.51.100.1"),
              event(2, ip=None)]
    assert run([by_ip], events) == [("alr_1", "ip_address:198.51.100.1",
                                      [events[0].id, events[1].id])]
    whole = rule(threshold=threshold(2, 60, "workspace"))
    assert run([whole], [event(0, actor="a"), event(1, actor="b")])[0][1] == "workspace"


def test_an_alert_takes_its_events_and_counting_starts_afresh() -> None:
    limited = rule(threshold=threshold(2, 60))
    events = [event(n) for n in range(5)]
    assert [ids for _, _, ids in run([limited], events)] == [
        [events[0].id, events[1].id], [events[2].id, events[3].id]]


def test_cooldown_keeps_a_group_quiet_after_an_alert_in_event_time() -> None:
    quiet = rule(threshold=threshold(2, 60), cooldown_seconds=300)
    events = [event(0), event(10),  # alert; quiet until 10 + 300
              event(20), event(200), event(309),  # not counted
              event(310), event(320)]  # counted again: alert
    assert [ids for _, _, ids in run([quiet], events)] == [
        [events[0].id, events[1].id], [events[5].id, events[6].id]]
    other = event(20, actor="usr_2")  # another group is not quiet
    assert run([quiet], [event(0), event(10), other, event(30, actor="usr_2")])[1][1] == \
        "actor_id:usr_2"


def test_cooldown_without_threshold_is_one_alert_per_cooldown() -> None:
    quiet = rule(cooldown_seconds=60)
    events = [event(0), event(30), event(59), event(60), event(61)]
    assert [ids for _, _, ids in run([quiet], events)] == [[events[0].id], [events[3].id]]


def test_disabled_rules_are_not_evaluated() -> None:
    assert run([rule(enabled=False)], [event(0)]) == []


def test_wildcard_actions_match_by_prefix() -> None:
    admin = rule(actions=("admin.*", "user.deleted"))
    events = [event(0, action="admin.user.create"), event(1, action="administrator.x"),
              event(2, action="user.deleted"), event(3, action="admin")]
    assert [ids[0] for _, _, ids in run([admin], events)] == [events[0].id, events[2].id]


def test_actor_and_country_conditions_are_anded() -> None:
    strict = rule(actor_ids=("usr_1",), countries=("AU", "NZ"))
    events = [event(0), event(1, actor="usr_2"), event(2, country="US"),
              event(3, country=None)]
    assert [ids[0] for _, _, ids in run([strict], events)] == [events[0].id]
    abroad = rule(countries_not_in=("AU",))
    events = [event(0), event(1, country="US"), event(2, country=None, ip=None)]
    assert [ids[0] for _, _, ids in run([abroad], events)] == [events[1].id]


def test_actor_types_and_targets_match_when_any_target_has_them() -> None:
    """An event names several targets: a target condition holds when one of them has a
    listed id (or type); conditions on ids and on types need not hold for the same
    target. Each condition ANDs with the others."""
    def touching(seconds: float, *targets: tuple[str, str], actor_type: str = "user") -> Event:
        made = event(seconds)
        return replace(made, actor={**made.actor, "type": actor_type},
                       targets=[{"id": id_, "type": type_} for id_, type_ in targets])

    events = [touching(0, ("doc_1", "document"), ("inv_9", "invoice")),
              touching(1, ("doc_2", "document")),
              touching(2),
              touching(3, ("inv_7", "invoice"), actor_type="api_key"),
              touching(4, ("inv_9", "invoice"), actor_type="service")]
    invoices = rule(target_types=("invoice",))
    assert [ids[0] for _, _, ids in run([invoices], events)] == [
        events[0].id, events[3].id, events[4].id]
    one_invoice = rule(target_ids=("inv_9", "inv_8"))
    assert [ids[0] for _, _, ids in run([one_invoice], events)] == [
        events[0].id, events[4].id]
    by_machines = rule(actor_types=("api_key", "service"), target_types=("invoice",),
                       target_ids=("inv_7",))
    assert [ids[0] for _, _, ids in run([by_machines], events)] == [events[3].id]
    either_target = rule(target_ids=("doc_1",), target_types=("invoice",))
    assert [ids[0] for _, _, ids in run([either_target], events)] == [events[0].id]


def test_metadata_conditions_compare_json_values_by_kind() -> None:
    """Each key must be there with one of its values; true is not 1 and "1" is not 1 (as
    in JSON), 1 and 1.0 are one number, and an object or a list matches nothing."""
    def with_metadata(seconds: float, **metadata: Any) -> Event:
        return replace(event(seconds), metadata=metadata)

    events = [with_metadata(0, reason="bad_password", attempts=1),
              with_metadata(1, reason="bad_password", attempts=True),
              with_metadata(2, reason="bad_password", attempts="1"),
              with_metadata(3, reason="bad_password", attempts=1.0),
              with_metadata(4, reason="expired", attempts=1),
              with_metadata(5, reason="bad_password"),
              with_metadata(6, reason=["bad_password"], attempts=1),
              with_metadata(7, reason="bad_password", attempts=None)]
    wanted = rule(metadata={"reason": ("bad_password",), "attempts": (1, None)})
    assert [ids[0] for _, _, ids in run([wanted], events)] == [
        events[0].id, events[3].id, events[7].id]
    flags = rule(metadata={"attempts": (True,)})
    assert [ids[0] for _, _, ids in run([flags], events)] == [events[1].id]
    assert replace(wanted, metadata={"reason": ("expired",)}).counts_differently(wanted)
    assert wanted.summary()["match"]["metadata"] == {"reason": ["bad_password"],
                                                     "attempts": [1, None]}


def test_metadata_conditions_are_checked_and_named() -> None:
    def failing(metadata: Any) -> list[str]:
        with pytest.raises(ValidationFailed) as failure:
            rule_settings({"match": {"actions": ["a.b"], "metadata": metadata}},
                          allow_private=False, creating=False)
        return fields_of(failure)

    assert failing({}) == ["match.metadata"]
    assert failing({f"k{n}": [1] for n in range(21)}) == ["match.metadata"]
    assert failing({"reason": [], "plan": "pro", "x" * 129: [1]}) == [
        "match.metadata", "match.metadata.plan", "match.metadata.reason"]
    assert failing({"reason": ["ok", {"a": 1}, [1], "", float("nan")]}) == [
        "match.metadata.reason[1]", "match.metadata.reason[2]", "match.metadata.reason[3]",
        "match.metadata.reason[4]"]
    found = rule_settings({"match": {"actions": ["a.b"], "metadata": {
        "attempts": [1, 1.0, True, "1", None, 1]}}}, allow_private=False, creating=False)
    kept = found["metadata"]["attempts"]  # repeats dropped, the first kept
    assert kept == (1, True, "1", None) and type(kept[0]) is int


def test_a_change_to_any_condition_restarts_the_counting() -> None:
    counted = rule(threshold=threshold(3, 60))
    for name, value in (("actor_types", ("user",)), ("target_ids", ("doc_1",)),
                        ("target_types", ("document",)), ("countries", ("AU",))):
        assert replace(counted, **{name: value}).counts_differently(counted), name
    assert not replace(counted, name="renamed").counts_differently(counted)


def test_rules_are_evaluated_side_by_side() -> None:
    plain = rule(id="alr_a")
    limited = rule(id="alr_b", actions=("user.*",), threshold=threshold(2, 60))
    events = [event(0), event(1)]
    assert run([plain, limited], events) == [
        ("alr_a", "workspace", [events[0].id]), ("alr_a", "workspace", [events[1].id]),
        ("alr_b", "actor_id:usr_1", [events[0].id, events[1].id])]


def test_state_kept_stays_within_the_window_and_below_the_count() -> None:
    limited = rule(threshold=threshold(3, 60))
    outcome = evaluate(RuleIndex([limited]).matches([event(0), event(50), event(100)]), {})
    [state] = outcome.states.values()
    assert [at for at, _, _ in state.events] == [to_micros(T0 + timedelta(seconds=s))
                                                 for s in (50, 100)]
    assert state.newest == to_micros(T0 + timedelta(seconds=100))
    assert state.touched == to_micros(T0 + timedelta(seconds=101))  # its latest arrival
    assert state.horizon == to_micros(T0 + timedelta(days=8, seconds=101))


def test_a_state_is_forgotten_eight_days_after_its_last_change_arrived() -> None:
    """Arrival decides, not occurrence: a count is kept for the longest window or cooldown
    (seven days) and a day more after the last event that changed it arrived."""
    limited = rule(threshold=threshold(2, 7 * 86_400))
    first = event(0)  # arrives at T0 + 1 s
    counted = evaluate(RuleIndex([limited]).matches([first]), {}).states
    deadline = first.received_at + timedelta(days=8)

    def second(arrival: datetime) -> Any:  # occurs a minute after the first
        late = event(60, received=arrival - (T0 + timedelta(seconds=60)))
        return evaluate(RuleIndex([limited]).matches([late]), counted), late
    on_time, late = second(deadline)
    assert [[event_id for _, event_id, _ in t.events] for t in on_time.triggers] == [
        [first.id, late.id]]
    forgotten, late = second(deadline + timedelta(microseconds=1))
    assert forgotten.triggers == []
    assert [event_id for _, event_id, _ in forgotten.states[("alr_1", "actor_id:usr_1")]
            .events] == [late.id]  # counted from nothing


def test_history_sent_long_after_it_happened_counts_like_live_traffic() -> None:
    """A backfill: events from a month ago, received now; the window is by occurred_at,
    and none of them is forgotten, since each arrives right after the last."""
    limited = rule(threshold=threshold(3, 60), cooldown_seconds=300)
    late = timedelta(days=30)
    events = [event(seconds, received=late) for seconds in (0, 20, 40, 45, 400, 410, 420)]
    assert [len(ids) for _, _, ids in run([limited], events)] == [3, 3]


def test_upkeep_deletes_only_what_every_event_to_come_forgets() -> None:
    now = T0 + timedelta(days=30)
    assert expired_before(now, None) == now - timedelta(hours=1)
    assert expired_before(now, T0) == T0  # pending events from back then
    assert expired_before(now, now) == now - timedelta(hours=1)


def test_a_match_that_changes_nothing_leaves_no_state_to_write() -> None:
    """Events of a quiet group, and events too late for the window, leave the state as it
    was: it is not written again (most matches, once rules are in cooldown)."""
    quiet = rule(threshold=threshold(2, 60), cooldown_seconds=300)
    first = evaluate(RuleIndex([quiet]).matches([event(100), event(110)]), {})
    assert len(first.triggers) == 1 and len(first.states) == 1
    again = evaluate(RuleIndex([quiet]).matches([event(120), event(5), event(300)]),
                     first.states)
    assert again.triggers == [] and again.states == {}
    counting = rule(threshold=threshold(3, 60))
    started = evaluate(RuleIndex([counting]).matches([event(100)]), {})
    late = evaluate(RuleIndex([counting]).matches([event(10)]), started.states)
    assert late.states == {}
    assert evaluate(RuleIndex([counting]).matches([event(90)]), started.states).states


@settings(max_examples=150, deadline=None)
@given(offsets=st.lists(st.integers(0, 400), min_size=1, max_size=40),
       actors=st.lists(st.sampled_from(["a", "b"]), min_size=40, max_size=40),
       cuts=st.lists(st.integers(1, 39), max_size=6),
       count=st.integers(1, 4), window=st.integers(1, 120), cooldown=st.integers(0, 200))
def test_chunking_never_changes_what_triggers(offsets: list[int], actors: list[str],
                                              cuts: list[int], count: int, window: int,
                                              cooldown: int) -> None:
    """Processing splits the chain into chunks wherever it likes (and a crash may redo
    one): carrying the state from chunk to chunk must give the alerts of one pass."""
    rules = [rule(threshold=threshold(count, window), cooldown_seconds=cooldown),
             rule(id="alr_2", cooldown_seconds=cooldown)]
    events = [event(offset, actor=actor) for offset, actor in zip(offsets, actors, strict=False)]
    whole = run(rules, events)
    states: dict[tuple[str, str], WindowState] = {}
    chunked: list = []
    bounds = sorted({0, len(events), *(c for c in cuts if c < len(events))})
    for start, stop in itertools.pairwise(bounds):
        outcome = evaluate(RuleIndex(rules).matches(events[start:stop]), states)
        states = {**states, **outcome.states}
        chunked += [(t.rule.id, t.group_key, [event_id for _, event_id, _ in t.events])
                    for t in outcome.triggers]
    assert chunked == whole


def fields_of(failure: pytest.ExceptionInfo[ValidationFailed]) -> list[str]:
    return sorted(error.field for error in failure.value.errors)


def test_rule_settings_name_every_bad_field() -> None:
    with pytest.raises(ValidationFailed) as failure:
        rule_settings({"name": "", "match": {"actions": ["ok.*", "not ok"],
                                             "countries": ["GB\n", "USA"], "actor_ids": [],
                                             "target_types": ["invoice", ""],
                                             "target_ids": ["x" * 257]},
                       "threshold": {"count": 0, "window_seconds": 10**9, "group_by": "team"},
                       "cooldown_seconds": -1,
                       "notify": {"webhook_url": "http://10.0.0.1/", "secret": "short",
                                  "format": "msteams"}},
                      allow_private=False, creating=True)
    assert fields_of(failure) == [
        "cooldown_seconds", "match.actions[1]", "match.actor_ids", "match.countries[0]",
        "match.countries[1]", "match.target_ids[0]", "match.target_types[1]", "name",
        "notify.format", "notify.secret", "notify.webhook_url", "threshold.count",
        "threshold.group_by", "threshold.window_seconds"]


def test_rule_settings_normalise_countries_and_drop_repeats() -> None:
    found = rule_settings({"name": "n", "match": {"actions": ["a.b"],
                                                  "countries": ["au", "AU", "nz"]},
                           "notify": {"webhook_url": "https://h.example.com/"}},
                          allow_private=False, creating=True)
    assert found["countries"] == ("AU", "NZ") and found["actor_ids"] is None
    assert found["target_types"] is None and found["actor_types"] is None
    assert "credential" not in found  # the use case generates one
    assert "notify_format" not in found  # the rule's default: the signed document


def test_a_rule_notifies_a_chat_when_asked() -> None:
    found = rule_settings({"notify": {"format": "slack"}}, allow_private=False,
                          creating=False)
    assert found == {"notify_format": "slack"}  # the URL and secret stay as they are


def test_booleans_are_not_counts() -> None:
    with pytest.raises(ValidationFailed) as failure:
        rule_settings({"threshold": {"count": True, "window_seconds": 60,
                                     "group_by": "workspace"}},
                      allow_private=False, creating=False)
    assert fields_of(failure) == ["threshold.count"]


def test_the_documented_example() -> None:
    """docs/alerts.md, "When a rule triggers": the table's events, in its order."""
    documented = rule(threshold=threshold(3, 60), cooldown_seconds=300)
    events = [event(s) for s in (0, 40, 70, 50, 180, 370, 380, 390)]
    at = {e.id: e.occurred_at.strftime("%H:%M:%S") for e in events}
    alerts = [[at[event_id] for event_id in ids] for _, _, ids in run([documented], events)]
    assert alerts == [["12:00:40", "12:00:50", "12:01:10"],
                      ["12:06:10", "12:06:20", "12:06:30"]]
