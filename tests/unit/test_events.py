import re
from datetime import UTC, datetime
from typing import Any

import pytest

from domain.errors import ValidationFailed
from domain.events import PENDING, Link, new_event

RECEIVED = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)


def build(body: dict[str, Any]):
    return new_event(body, event_id="evt_1", workspace_id="ws_1", received_at=RECEIVED)


def fields_of(body: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationFailed) as failure:
        build(body)
    return [error.field for error in failure.value.errors]


def valid(**overrides: Any) -> dict[str, Any]:
    return {"action": "user.login", "actor": {"id": "u1", "type": "user"}, **overrides}


def test_minimal_event_gets_defaults() -> None:
    event = build(valid())
    assert event.status == PENDING
    assert event.occurred_at == RECEIVED
    document = event.document()
    assert document["targets"] == [] and document["context"] == {}
    assert document["metadata"] == {}
    assert document["geo"] is None and document["sequence"] is None
    assert document["occurred_at"] == "2026-11-26T13:00:00.000000Z"


def test_a_linked_event_tells_its_place_and_a_pending_one_refuses_to() -> None:
    pending = build(valid())
    with pytest.raises(ValueError, match="evt_1 is not linked"):
        _ = pending.linked
    linked = pending.processed(sequence=7, prev_hash="a" * 64, hash_="b" * 64)
    assert linked.linked == Link(7, "a" * 64, "b" * 64)


@pytest.mark.parametrize(("sent", "stored"), [
    ("2001:DB8:0:0::1", "2001:db8::1"), ("192.0.2.1", "192.0.2.1"),
    # RFC 5952 (and Python 3.13) write IPv4-mapped addresses in mixed notation; Python
    # 3.11 and 3.12 print hex, which made the stored form depend on the interpreter
    ("::ffff:192.0.2.1", "::ffff:192.0.2.1"), ("::FFFF:C000:201", "::ffff:192.0.2.1"),
    ("::ffff:c000:201%eth0", "::ffff:192.0.2.1%eth0"), ("fe80::1%eth0", "fe80::1%eth0"),
])
def test_ip_address_is_stored_canonically(sent: str, stored: str) -> None:
    event = build(valid(context={"ip_address": sent}))
    assert event.ip_address == stored == event.context["ip_address"]


@pytest.mark.parametrize("action", ["user", "user.login_failed", "a-b.c_d.9"])
def test_accepts_dotted_actions(action: str) -> None:
    assert build(valid(action=action)).action == action


@pytest.mark.parametrize("action", ["", "user..login", ".user", "user.", "user login",
                                    "usér.login", "a" * 129, "user.login\n"])
def test_rejects_malformed_actions(action: str) -> None:
    assert fields_of(valid(action=action)) == ["action"]


@pytest.mark.parametrize(("body", "field"), [
    (valid(actor={"type": "user"}), "actor.id"),
    (valid(actor={"id": "", "type": "user"}), "actor.id"),
    (valid(actor={"id": "x" * 257, "type": "user"}), "actor.id"),
    (valid(actor={"id": "a\x00b", "type": "user"}), "actor.id"),
    (valid(targets=[{"id": "t"}]), "targets[0].type"),
    (valid(context={"ip_address": "999.1.1.1"}), "context.ip_address"),
    (valid(context={"ip_address": 17}), "context.ip_address"),
    (valid(occurred_at="2026-11-26T13:05:01Z"), "occurred_at"),
    (valid(occurred_at="2026-11-26T13:00:00.1234567Z"), "occurred_at"),
    (valid(occurred_at="1969-12-31T23:59:59Z"), "occurred_at"),
    (valid(metadata={"n": 2**53}), "metadata.n"),
    (valid(metadata={"n": float("nan")}), "metadata.n"),
    (valid(metadata={"s": "\ud800"}), "metadata.s"),
    (valid(metadata={"\ud800": 1}), "metadata"),  # a key: named by where it sits
    (valid(metadata={"l": [1, {"s": "\udfff"}]}), "metadata.l[1].s"),
])
def test_rejects_each_rule_naming_the_field(body: dict[str, Any], field: str) -> None:
    assert fields_of(body) == [field]


def messages_of(body: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationFailed) as failure:
        build(body)
    return [(error.field, error.message) for error in failure.value.errors]


@pytest.mark.parametrize(("body", "field", "meant"), [
    (valid(occured_at="2026-11-26T12:00:00Z"), "occured_at", "occurred_at"),  # a slip
    (valid(occurredAt="2026-11-26T12:00:00Z"), "occurredAt", "occurred_at"),  # camelCase
    (valid(Metadata={}), "Metadata", "metadata"),
    (valid(ip_address="203.0.113.7"), "ip_address", "context.ip_address"),  # elsewhere
    (valid(timestamp="2026-11-26T12:00:00Z"), "timestamp", "occurred_at"),
    (valid(context={"ip": "203.0.113.7"}), "context.ip", "ip_address"),
    (valid(actor={"id": "u", "type": "user", "nmae": "Jane"}), "actor.nmae", "name"),
    (valid(targets=[{"id": "d", "type": "doc", "metdata": {}}]), "targets[0].metdata",
     "metadata"),
])
def test_an_unknown_field_names_the_one_probably_meant(body: dict[str, Any], field: str,
                                                       meant: str) -> None:
    assert messages_of(body) == [(field, f"Unknown field; did you mean '{meant}'?")]


def test_an_unknown_field_like_none_is_only_unknown() -> None:
    assert messages_of(valid(colour="red", context={"port": 443})) == [
        ("colour", "Unknown field."), ("context.port", "Unknown field.")]


def test_a_number_for_occurred_at_is_told_the_format() -> None:
    [(field, message)] = messages_of(valid(occurred_at=1764160800))
    assert field == "occurred_at" and "2026-11-26T13:31:45Z" in message
    assert "Unix time is not accepted" in message


def test_allows_five_minutes_of_clock_skew() -> None:
    assert build(valid(occurred_at="2026-11-26T13:05:00Z")).occurred_at.minute == 5


def test_limits_targets() -> None:
    targets = [{"id": str(i), "type": "doc"} for i in range(51)]
    assert fields_of(valid(targets=targets)) == ["targets"]
    assert len(build(valid(targets=targets[:50])).targets) == 50


def test_limits_metadata_keys_and_depth() -> None:
    assert fields_of(valid(metadata={str(i): i for i in range(51)})) == ["metadata"]
    deep = {"a": {"b": {"c": {"d": {"e": 1}}}}}  # metadata itself is depth 1; "d" is 5
    assert build(valid(metadata=deep)).metadata == deep
    too_deep = {"a": {"b": {"c": {"d": {"e": {}}}}}}
    assert fields_of(valid(metadata=too_deep)) == ["metadata.a.b.c.d.e"]
    assert fields_of(valid(metadata={"a": [[[[[1]]]]]})) == ["metadata.a[0][0][0][0]"]
    assert fields_of(valid(actor={"id": "u", "type": "t", "metadata": too_deep})) == \
        ["actor.metadata.a.b.c.d.e"]


def test_limits_serialized_size_to_32_kib() -> None:
    assert fields_of(valid(metadata={"blob": "x" * 33_000})) == ["metadata"]
    assert build(valid(metadata={"blob": "x" * 32_000}))


def test_reports_every_broken_rule_at_once() -> None:
    assert sorted(fields_of({"action": "bad action", "actor": {}})) == \
        ["action", "actor.id", "actor.type"]


def test_encoding_and_size_are_reported_with_the_other_rules() -> None:
    """An integrator fixing a 422 must not meet a second one about the same event."""
    assert fields_of(valid(action="bad action", metadata={"s": "\ud800"})) == \
        ["action", "metadata.s"]
    assert fields_of(valid(action="bad action", metadata={"blob": "x" * 33_000})) == \
        ["action", "metadata"]
    assert fields_of(valid(actor={"id": 2**60, "type": "user"})) == ["actor.id"]  # once
    crowded = {f"k{n}": "x" * 700 for n in range(51)}  # too many keys, and too large
    with pytest.raises(ValidationFailed) as failure:
        build(valid(metadata=crowded))
    assert [error.field for error in failure.value.errors] == ["metadata", "metadata"]
    assert str(failure.value) == "1 field is invalid"
    size = re.search(r"this one is ([\d,]+), ([\d,]+) of them", failure.value.errors[1].message)
    assert size is not None
    whole, part = (int(number.replace(",", "")) for number in size.groups())
    assert whole > part > 700 * 51  # the field measured as the event is (it was larger)
