"""Which field a caller meant when they sent one the API does not know."""

from __future__ import annotations

import pytest

from domain.field_names import meant_field

EVENT = ["action", "occurred_at", "actor", "targets", "context", "metadata"]
STREAM_CONFIG = ["url", "secret", "token", "api_key"]


@pytest.mark.parametrize(("name", "known", "meant"), [
    ("occurredAt", EVENT, "occurred_at"),  # another case or separator
    ("ACTION", EVENT, "action"),
    ("meta", EVENT, "metadata"),  # the start of one name
    ("cooldown", ["cooldown_seconds", "enabled"], "cooldown_seconds"),
    ("occured_at", EVENT, "occurred_at"),  # a slip
    ("nmae", ["id", "type", "name", "metadata"], "name"),  # swapped letters
    ("uri", STREAM_CONFIG, "url"),  # one letter in a short name
    ("apikey", STREAM_CONFIG, "api_key"),
])
def test_a_slip_names_the_field_meant(name: str, known: list[str], meant: str) -> None:
    assert meant_field(name, known) == meant


@pytest.mark.parametrize(("name", "known"), [
    ("colour", EVENT), ("port", ["ip_address", "user_agent"]),
    ("ip", ["id", "type", "name"]),  # two letters are too few to guess from
    ("act", ["actor_id", "actor_type"]),  # too short a start, and of two names
])
def test_nothing_close_names_nothing(name: str, known: list[str]) -> None:
    assert meant_field(name, known) is None


def test_where_a_field_belongs_comes_first() -> None:
    belongs = {"ip_address": "context.ip_address"}
    assert meant_field("ip_address", EVENT, belongs) == "context.ip_address"
    assert meant_field("acton", EVENT, belongs) == "action"
