"""Query-string filters of events into the domain's ``EventFilters`` (also used by exports)."""

from __future__ import annotations

from typing import Any

from domain.event_rules import canonical_ip_address
from domain.event_search import EventFilters, InvalidFilter, action_filter
from domain.timestamps import InvalidTimestamp, parse_timestamp
from entrypoints.http.errors import ApiError

_PLAIN = ("actor_id", "actor_type", "target_id", "target_type", "status")


def event_filters(values: dict[str, Any]) -> EventFilters:
    """Interpret loaded filter values; a value that means nothing is 400, naming it."""
    try:
        return EventFilters(**_interpreted(values))
    except InvalidFilter as exc:
        raise ApiError(400, "invalid_parameter",
                       f"Invalid query parameter '{exc.parameter}': {exc}") from None


def _interpreted(values: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {name: values[name] for name in _PLAIN if name in values}
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
    return found
