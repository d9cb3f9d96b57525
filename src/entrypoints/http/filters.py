"""Event filters from a request (query string, or an export's ``filters`` body) into the
domain's ``EventFilters``; a filter that means nothing is a 400 naming it."""

from __future__ import annotations

from typing import Any

from domain.event_search import FILTER_NAMES, EventFilters, InvalidFilter, parse_filters
from entrypoints.http.errors import ApiError


def event_filters(values: dict[str, Any]) -> EventFilters:
    try:
        return parse_filters({name: values[name] for name in FILTER_NAMES if name in values})
    except InvalidFilter as exc:
        raise ApiError(400, "invalid_parameter",
                       f"Invalid query parameter '{exc.parameter}': {exc}") from None
