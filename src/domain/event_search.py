"""What events can be searched by, and how a search is expressed (contract §5.4).

Multi-valued attributes - target ids and types, and the dotted prefixes of an action - are
turned into *terms*, stored one row each beside the event, so that every filter is a range
scan over an index in ``(occurred_at, id)`` order, however many events match.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from domain.errors import DomainError
from domain.event_rules import ACTION_MAX_LENGTH, ACTION_PATTERN, canonical_ip_address
from domain.events import Event
from domain.json_rules import (
    CONTROL_CHARACTERS,
    METADATA_KEY_MAX_LENGTH,
    compared_value,
    ijson_violations,
)
from domain.timestamps import InvalidTimestamp, parse_timestamp

FILTER_NAMES = ("action", "actor_id", "actor_type", "target_id", "target_type", "ip_address",
                "country_code", "since", "until", "status")
_PLAIN = ("actor_id", "actor_type", "target_id", "target_type", "status")
_IDENTIFIERS = _PLAIN[:4]

PREFIX_WILDCARD = ".*"
NUL = "\x00"
_NO_NUL = ("Must not hold U+0000 (NUL): the database cannot compare it, so metadata "
           "holding it is not searched by it.")
METADATA_FILTER = "metadata."
"""``metadata.<key>``: a filter on one top-level key of the event's ``metadata``."""
MAX_METADATA_FILTERS = 10


class InvalidFilter(DomainError):
    """A filter value the search cannot mean anything by; names the parameter."""

    def __init__(self, parameter: str, message: str) -> None:
        self.parameter = parameter
        super().__init__(message)


@dataclass(frozen=True)
class EventFilters:
    """All optional and combined with AND; ``None`` means "not filtered"."""

    action: str | None = None
    action_prefix: str | None = None
    actor_id: str | None = None
    actor_type: str | None = None
    target_id: str | None = None
    target_type: str | None = None
    ip_address: str | None = None
    country_code: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    status: str | None = None
    metadata: tuple[tuple[str, tuple[Any, ...]], ...] | None = None
    """Top-level metadata keys, each with the values it may hold (any of them)."""

    def only(self, *names: str) -> bool:
        """Whether no filter outside ``names`` is set."""
        return all(getattr(self, f.name) is None for f in fields(self) if f.name not in names)

    def matches(self, event: Event) -> bool:
        """Whether ``event`` is one a search with these filters finds (a viewer link
        reading one event by id sees only what its search would show)."""
        geo = event.geo or {}
        checks = (
            (self.action, event.action),
            (self.actor_id, event.actor.get("id")),
            (self.actor_type, event.actor.get("type")),
            (self.ip_address, canonical_ip_address(event.context.get("ip_address") or "")),
            (self.country_code, geo.get("country_code")),
            (self.status, event.status),
        )
        if any(wanted is not None and wanted != held for wanted, held in checks):
            return False
        if self.action_prefix is not None and not event.action.startswith(self.action_prefix):
            return False
        if self.target_id is not None and all(t["id"] != self.target_id for t in event.targets):
            return False
        if self.target_type is not None and all(t["type"] != self.target_type
                                                for t in event.targets):
            return False
        if self.since is not None and event.occurred_at < self.since:
            return False
        if self.metadata is not None and not all(
                key in event.metadata and held_among(event.metadata[key], values)
                for key, values in self.metadata):
            return False
        return self.until is None or event.occurred_at < self.until

    def terms(self) -> list[str]:
        """The term rows an event must have to match (see ``search_terms``)."""
        found = []
        if self.action_prefix is not None:
            found.append(action_term(self.action_prefix))
        if self.target_id is not None:
            found.append(f"target_id:{self.target_id}")
        if self.target_type is not None:
            found.append(f"target_type:{self.target_type}")
        return found


def parse_filters(values: Mapping[str, Any]) -> EventFilters:
    """Filters as the API names them (§5.4) into what they mean; ``InvalidFilter`` names
    the first one that means nothing."""
    found: dict[str, Any] = {name: values[name] for name in _PLAIN if name in values}
    for name in _IDENTIFIERS:
        if name in values and CONTROL_CHARACTERS.search(values[name]):
            raise InvalidFilter(name, "Must not contain control characters (no event can "
                                      "have them).")
    if "action" in values:
        found.update(action_filter(values["action"]))
    if "ip_address" in values:
        address = canonical_ip_address(values["ip_address"])
        if address is None:
            raise InvalidFilter("ip_address", "Not a valid IPv4 or IPv6 address.")
        found["ip_address"] = address
    if "country_code" in values:
        found["country_code"] = values["country_code"].upper()
    for name in ("since", "until"):
        if name in values:
            try:
                found[name] = parse_timestamp(values[name])
            except InvalidTimestamp as exc:
                raise InvalidFilter(name, str(exc)) from None
    metadata = metadata_filters(values)
    if metadata:
        found["metadata"] = metadata
    if "since" in found and "until" in found and found["until"] < found["since"]:
        # Always a slip (swapped bounds, a wrong month): an empty answer would read as
        # "nothing happened then", which an auditor must never be told by mistake.
        raise InvalidFilter("until", "Must not be earlier than 'since': no event could "
                                     "match (the window is since <= occurred_at < until).")
    return EventFilters(**found)


def is_filter(name: str) -> bool:
    return name in FILTER_NAMES or name.startswith(METADATA_FILTER)


def picked_filters(values: Mapping[str, Any]) -> dict[str, Any]:
    """The filters among ``values`` (a query string, a stored document), in a fixed order:
    the named ones, then each ``metadata.<key>`` by key."""
    found = {name: values[name] for name in FILTER_NAMES if name in values}
    found.update(sorted((name, value) for name, value in values.items()
                        if name.startswith(METADATA_FILTER)))
    return found


def metadata_filters(values: Mapping[str, Any]) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    """Each ``metadata.<key>`` filter as the key and the values it matches, by key."""
    names = sorted(name for name in values if name.startswith(METADATA_FILTER))
    if len(names) > MAX_METADATA_FILTERS:
        raise InvalidFilter(names[MAX_METADATA_FILTERS],
                            f"At most {MAX_METADATA_FILTERS} metadata filters in one search.")
    return tuple((metadata_key(name), metadata_values(name, values[name])) for name in names)


def metadata_key(name: str) -> str:
    key = name[len(METADATA_FILTER):]
    if not key or key == "<key>":  # the API document's name for them, sent as it stands
        raise InvalidFilter(name, "Name a top-level key of the events' metadata, as in "
                                  "metadata.order_id.")
    if len(key) > METADATA_KEY_MAX_LENGTH:
        raise InvalidFilter(name, f"A metadata key is at most {METADATA_KEY_MAX_LENGTH} "
                                  f"characters.")
    return _without_nul(name, key)


def metadata_values(name: str, raw: Any) -> tuple[Any, ...]:
    """What a metadata filter's value matches.

    A query string holds only text, so a value is read as JSON where it is JSON and as a
    string where it is not: ``metadata.reason=bad_password`` is the string, and
    ``metadata.reason="true"`` the string ``true``. A bare number, ``true``, ``false`` or
    ``null`` matches that JSON value and the same text as a string (``metadata.order=123``
    finds ``123`` and ``"123"``), since whoever types it rarely knows which the sender
    wrote, and an empty answer would read as "nothing happened". Filters in a JSON body
    (an export's, a viewer link's) are strings too, read the same way.
    """
    if not isinstance(raw, str):
        raise InvalidFilter(name, "Must be a string, as in a query string (metadata.amount: "
                                  "\"12\" finds the number 12).")
    try:
        value = json.loads(raw, parse_constant=_not_json)
    except ValueError:
        return (_without_nul(name, raw),)
    value = _scalar(name, value)
    if isinstance(value, str):
        return (_without_nul(name, value),)
    return (value, raw.strip())


def _without_nul(name: str, text: str) -> str:
    if NUL in text:
        raise InvalidFilter(name, _NO_NUL)
    return text


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _scalar(name: str, value: Any) -> Any:
    if isinstance(value, dict | list):
        raise InvalidFilter(name, "Compare one value: a string, a number, true, false or "
                                  "null (a key holding an object or a list matches none).")
    for _, problem in ijson_violations(value, ""):
        raise InvalidFilter(name, f"No event can hold this value: {problem}")
    return value


def held_among(value: Any, wanted: tuple[Any, ...]) -> bool:
    """Whether a metadata value is one of ``wanted``, compared as JSON values are:
    ``true`` is not ``1``, ``1`` is ``1.0``, an object or a list is none of them."""
    held = compared_value(value)
    return held[0] != "structure" and held in map(compared_value, wanted)


def action_filter(value: str) -> dict[str, str]:
    """``user.login`` matches exactly; ``user.*`` matches every action under ``user.``.

    Only a final ``.*`` is a wildcard, so a filter can never become an expensive pattern.
    One longer than any action can be matches none, and is refused as the mistake it is.
    """
    if len(value) > ACTION_MAX_LENGTH:
        raise InvalidFilter("action", f"At most {ACTION_MAX_LENGTH} characters, as an action "
                                      f"is.")
    if value.endswith(PREFIX_WILDCARD):
        stem = value[: -len(PREFIX_WILDCARD)]
        if not ACTION_PATTERN.fullmatch(stem):
            raise InvalidFilter("action", "Use an action, or an action prefix ending in '.*' "
                                          "such as 'user.*'.")
        return {"action_prefix": stem + "."}
    if not ACTION_PATTERN.fullmatch(value):
        raise InvalidFilter("action", "Use an action, or an action prefix ending in '.*' "
                                      "such as 'user.*'.")
    return {"action": value}


def action_term(prefix: str) -> str:
    return f"action:{prefix}"


def search_terms(event: Event) -> list[str]:
    """Every term an event is findable by: its action's dotted prefixes, target ids, types."""
    return sorted(_terms(event))


def _terms(event: Event) -> set[str]:
    segments = event.action.split(".")
    terms = {action_term(".".join(segments[:n]) + ".") for n in range(1, len(segments))}
    for target in event.targets:
        terms.add(f"target_id:{target['id']}")
        terms.add(f"target_type:{target['type']}")
    return terms


@dataclass(frozen=True)
class SearchEntries:
    """What is stored beside an event so that searches find it: its filter columns and its
    terms, which must be filed under the event's own workspace and time (``misfiled``
    says one is not).

    They are derived from the event, so the hash does not cover them; verification holds
    them against the event instead, since a changed entry hides an event from a search (or
    puts it in one) as surely as a changed event would.

    The address is compared by value: a server of the release before migration 0007 still
    writes IPv4-mapped addresses in hex (``::ffff:c000:201``) while it runs beside a
    migrated database, and that is no tampering.
    """

    actor_id: str
    actor_type: str
    ip_address: str | None
    country_code: str | None
    terms: frozenset[str]
    misfiled: bool = False

    def describe(self, event: Event) -> bool:
        """Whether these are the entries ``event`` should have (``search_entries(event)``,
        addresses by value), checked field by field: verification asks it of every event."""
        actor = event.actor
        return (not self.misfiled and self.actor_id == actor["id"]
                and self.actor_type == actor["type"]
                and self.country_code == event.country_code
                and same_address(self.ip_address, event.ip_address)
                and self.terms == _terms(event))


def same_address(stored: str | None, held: str | None) -> bool:
    """Whether two spellings name the same address; text that is no address equals only
    itself. The same text needs no parsing, which is nearly every stored event."""
    if stored == held:
        return True
    if stored is None or held is None:
        return False
    return _spelled(stored) == _spelled(held)


def _spelled(address: str) -> str:
    """The canonical spelling; text that is no address stays as it is."""
    return canonical_ip_address(address) or address


def search_entries(event: Event) -> SearchEntries:
    """The entries ``event`` should have, its address in the canonical spelling (events
    stored before migration 0007 keep the older one in their hashed body)."""
    address = event.ip_address
    return SearchEntries(
        actor_id=event.actor["id"], actor_type=event.actor["type"],
        ip_address=None if address is None else _spelled(address),
        country_code=event.country_code,
        terms=frozenset(search_terms(event)))
