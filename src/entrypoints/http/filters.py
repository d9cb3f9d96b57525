"""Event filters from the query string into the domain's ``EventFilters``; a filter that
means nothing is a 400 naming it. (An export's ``filters`` body is checked by its use case,
as a 422 naming ``filters.<name>``.)"""

from __future__ import annotations

import re
from typing import Any

from domain.event_search import FILTER_NAMES, EventFilters, InvalidFilter, parse_filters
from entrypoints.http.errors import ApiError

_UNENCODED_PLUS = re.compile(r"\d{2}:\d{2}:\d{2}(\.\d+)? \d{2}:?\d{2}$")
"""``…T10:00:00 02:00``: a query string decodes an offset's unencoded ``+`` to a space."""


def event_filters(values: dict[str, Any]) -> EventFilters:
    try:
        return parse_filters({name: values[name] for name in FILTER_NAMES if name in values})
    except InvalidFilter as exc:
        message = f"Invalid query parameter '{exc.parameter}': {exc}"
        if _UNENCODED_PLUS.search(str(values.get(exc.parameter, ""))):
            message += " In a URL, write the offset's '+' as %2B."
        raise ApiError(400, "invalid_parameter", message) from None
