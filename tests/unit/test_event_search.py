from __future__ import annotations

from dataclasses import replace

import pytest

from domain.event_rules import canonical_ip_address
from domain.event_search import (
    EventFilters,
    InvalidFilter,
    action_filter,
    parse_filters,
    picked_filters,
    same_address,
    search_entries,
    search_terms,
)
from domain.event_stats import grouped_value, metadata_group
from tests.factories import EventFactory


def test_terms_cover_action_prefixes_and_targets() -> None:
    event = EventFactory(action="admin.user.delete",
                         targets=[{"id": "doc_7", "type": "document"},
                                  {"id": "doc_8", "type": "document"}])
    assert search_terms(event) == ["action:admin.", "action:admin.user.", "target_id:doc_7",
                                   "target_id:doc_8", "target_type:document"]
    assert search_terms(EventFactory(action="login")) == []


def test_search_entries_are_derived_from_the_hashed_event() -> None:
    event = EventFactory(action="user.login", actor={"id": "usr_1", "type": "user"},
                         targets=[{"id": "doc_7", "type": "document"}],
                         context={"ip_address": "::ffff:c000:201"},  # as stored before 0007
                         geo={"country_code": "AU"})
    entries = search_entries(event)
    assert (entries.actor_id, entries.actor_type, entries.ip_address, entries.country_code) \
        == ("usr_1", "user", "::ffff:192.0.2.1", "AU")
    assert entries.terms == {"action:user.", "target_id:doc_7", "target_type:document"}
    assert not entries.misfiled
    assert search_entries(EventFactory(context={})).ip_address is None


def test_search_entries_compare_addresses_by_value() -> None:
    """A pre-0007 server writes the hex spelling into the column; another address, or
    text that is no address, is a different entry."""
    event = EventFactory(context={"ip_address": "::ffff:203.0.113.7"})
    stored = replace(search_entries(event), ip_address="::ffff:cb00:7107")
    assert stored.describe(event)
    assert not replace(stored, ip_address="::ffff:cb00:7108").describe(event)
    assert not replace(stored, ip_address="not an address").describe(event)
    assert same_address("not an address", "not an address")
    assert not same_address("203.0.113.7", None) and not same_address(None, "203.0.113.7")


@pytest.mark.parametrize("context", [{}, {"ip_address": "203.0.113.7"},
                                     {"ip_address": "::ffff:cb00:7107"},  # pre-0007 body
                                     {"ip_address": "2001:db8::1"}])
@pytest.mark.parametrize("change", [
    {}, {"actor_id": "usr_2"}, {"actor_type": "service"}, {"country_code": "FR"},
    {"country_code": None}, {"ip_address": None}, {"ip_address": "203.0.113.8"},
    {"ip_address": "::ffff:203.0.113.7"}, {"ip_address": "::ffff:cb00:7107"},
    {"ip_address": "not an address"}, {"terms": frozenset()}, {"misfiled": True},
    {"terms": frozenset({"action:user.", "target_id:doc_7"})},
    {"terms": frozenset({"action:user.", "target_id:doc_7", "target_type:document",
                         "target_id:doc_8"})},
])
def test_describe_answers_as_comparing_with_the_derived_entries(context: dict,
                                                                 change: dict) -> None:
    """Verification's field-by-field check must agree with comparing whole entries, the
    addresses spelt alike, on every stored variant: each field changed, the address in
    each spelling, terms missing or planted."""
    event = EventFactory(action="user.login", actor={"id": "usr_1", "type": "user"},
                         targets=[{"id": "doc_7", "type": "document"}], context=context,
                         geo={"country_code": "GB"})
    stored = replace(search_entries(event), **change)
    address = stored.ip_address and (canonical_ip_address(stored.ip_address)
                                      or stored.ip_address)
    assert stored.describe(event) == (replace(stored, ip_address=address)
                                      == search_entries(event))


@pytest.mark.parametrize(("value", "expected"), [
    ("user.login", {"action": "user.login"}),
    ("user.*", {"action_prefix": "user."}),
    ("admin.user.*", {"action_prefix": "admin.user."}),
    ("user_x.*", {"action_prefix": "user_x."}),
])
def test_action_filters(value: str, expected: dict) -> None:
    assert action_filter(value) == expected


@pytest.mark.parametrize("value", ["*", ".*", "user*", "us%r.*", "user.%", "user.log_*",
                                   "user.*.x", ""])
def test_patterns_are_not_accepted(value: str) -> None:
    with pytest.raises(InvalidFilter):
        action_filter(value)


def test_a_filter_longer_than_any_action_is_refused() -> None:
    longest = "a" * 126 + ".b"  # an action at the limit, and a prefix of actions under it
    assert action_filter(longest) == {"action": longest}
    assert action_filter("a" * 126 + ".*") == {"action_prefix": "a" * 126 + "."}
    for value in (longest + "c", "a" * 127 + ".*"):
        with pytest.raises(InvalidFilter, match="At most 128 characters"):
            action_filter(value)


def test_filter_terms_and_emptiness() -> None:
    assert EventFilters().only()
    filters = EventFilters(action_prefix="user.", target_type="document", status="pending")
    assert filters.terms() == ["action:user.", "target_type:document"]
    assert not filters.only("status") and EventFilters(status="pending").only("status")


@pytest.mark.parametrize("name", ["actor_id", "actor_type", "target_id", "target_type"])
def test_identifier_filters_with_control_characters_are_named(name: str) -> None:
    """No event can hold one, and PostgreSQL refuses NUL in a query parameter."""
    with pytest.raises(InvalidFilter) as refused:
        parse_filters({name: "usr\x00"})
    assert refused.value.parameter == name
    assert getattr(parse_filters({name: "usr_42"}), name) == "usr_42"


def test_a_window_ending_before_it_starts_is_refused() -> None:
    """Swapped bounds used to give an empty page: "nothing happened then", told wrongly."""
    with pytest.raises(InvalidFilter) as refused:
        parse_filters({"since": "2026-11-02T00:00:00Z", "until": "2026-11-01T00:00:00+01:00"})
    assert refused.value.parameter == "until" and "'since'" in str(refused.value)
    empty = parse_filters({"since": "2026-11-01T00:00:00Z", "until": "2026-11-01T01:00:00+01:00"})
    assert empty.since == empty.until  # the same instant: an empty window, not a slip


@pytest.mark.parametrize(("value", "matches"), [
    ("bad_password", ("bad_password",)),
    ("123", (123, "123")),          # a bare number: the number, or its text as a string
    (" 12.50 ", (12.5, "12.50")),
    ("true", (True, "true")),
    ("null", (None, "null")),
    ('"123"', ("123",)),            # quoted: the string only
    ('"true"', ("true",)),
    ("007", ("007",)),              # not JSON: the text
    ("NaN", ("NaN",)),              # nor is NaN, whatever Python's json reads
    ("", ("",)),
])
def test_a_metadata_filter_is_json_where_it_is_json(value: str, matches: tuple) -> None:
    filters = parse_filters({"metadata.order": value})
    assert filters.metadata is not None
    (key, found), = filters.metadata
    assert key == "order"
    assert [(type(v), v) for v in found] == [(type(v), v) for v in matches]


@pytest.mark.parametrize(("values", "parameter", "message"), [
    ({"metadata.": "x"}, "metadata.", "Name a top-level key"),
    ({"metadata.<key>": "x"}, "metadata.<key>", "Name a top-level key"),
    ({"metadata." + "k" * 129: "x"}, "metadata." + "k" * 129, "at most 128"),
    ({"metadata.k": '{"a": 1}'}, "metadata.k", "an object or a list matches none"),
    ({"metadata.k": "[1]"}, "metadata.k", "an object or a list matches none"),
    ({"metadata.k": "1e400"}, "metadata.k", "No event can hold"),
    ({"metadata.k": "9007199254740993"}, "metadata.k", "No event can hold"),
    ({"metadata.k": 12}, "metadata.k", "Must be a string"),
    ({"metadata.k": "a\x00b"}, "metadata.k", "U\\+0000"),
    ({"metadata.k": '"a\\u0000b"'}, "metadata.k", "U\\+0000"),
    ({"metadata.a\x00": "x"}, "metadata.a\x00", "U\\+0000"),
    ({f"metadata.k{n:02}": "x" for n in range(11)}, "metadata.k10", "At most 10"),
])
def test_metadata_filters_that_mean_nothing_are_named(values: dict, parameter: str,
                                                      message: str) -> None:
    with pytest.raises(InvalidFilter, match=message) as refused:
        parse_filters(values)
    assert refused.value.parameter == parameter


def test_metadata_filters_match_as_json_compares() -> None:
    """Every key ANDed; types apart (true is not 1, "1" is not 1 unless asked bare), 1 is
    1.0, and a missing key, an object or a list matches nothing."""
    filters = parse_filters({"metadata.amount": "12", "metadata.mfa": "false"})

    def holds(metadata: dict) -> bool:
        return filters.matches(EventFactory(metadata=metadata))
    assert holds({"amount": 12, "mfa": False}) and holds({"amount": 12.0, "mfa": False})
    assert holds({"amount": "12", "mfa": False, "other": 1})
    assert not holds({"amount": 12, "mfa": 0})
    assert holds({"amount": 12, "mfa": "false"})  # bare: the text too
    assert not holds({"amount": 12})
    assert not holds({"amount": [12], "mfa": False})
    assert not holds({"amount": {"12": 12}, "mfa": False})
    quoted = parse_filters({"metadata.amount": '"12"'})
    assert quoted.matches(EventFactory(metadata={"amount": "12"}))
    assert not quoted.matches(EventFactory(metadata={"amount": 12}))
    assert not parse_filters({"metadata.mfa": '"false"'}).matches(
        EventFactory(metadata={"mfa": False}))
    assert parse_filters({"metadata.a.b": "x"}).matches(EventFactory(metadata={"a.b": "x"}))
    assert not parse_filters({"metadata.a.b": "x"}).matches(
        EventFactory(metadata={"a": {"b": "x"}}))  # keys are top-level: a dot is the key's


def test_picked_filters_keep_metadata_names_in_key_order() -> None:
    picked = picked_filters({"limit": "5", "metadata.b": "2", "action": "user.*",
                             "metadata.a": "1", "metadata": "x"})
    assert list(picked) == ["action", "metadata.a", "metadata.b"]
    assert not EventFilters(metadata=(("a", ("1",)),)).only()


def test_a_metadata_grouping_counts_scalars_and_names_its_key() -> None:
    assert metadata_group("metadata.plan") == "plan" and metadata_group("action") is None
    with pytest.raises(InvalidFilter, match="Name a top-level key"):
        metadata_group("metadata.")
    held = {"s": "pro", "n": 1.5, "b": False, "z": None, "o": {"a": 1}, "l": [1]}
    assert [grouped_value(held, key) for key in ("s", "n", "b", "z", "o", "l", "none")] == [
        "pro", 1.5, False, None, None, None, None]
