"""Event filters from the query string into the domain's ``EventFilters``; a filter that
means nothing is a 400 naming it. (An export's ``filters`` body is checked by its use case,
as a 422 naming ``filters.<name>``.)"""

from __future__ import annotations

import re
from typing import Any

from application.principal import Principal
from domain.event_search import EventFilters, InvalidFilter, parse_filters, picked_filters
from entrypoints.http.errors import ApiError

_UNENCODED_PLUS = re.compile(r"\d{2}:\d{2}:\d{2}(\.\d+)? \d{2}:?\d{2}$")
"""``…T10:00:00 02:00``: a query string decodes an offset's unencoded ``+`` to a space."""


def event_filters(values: dict[str, Any], caller: Principal | None = None) -> EventFilters:
    """``caller``: a viewer link's reader gets the link's filters, narrowed by the query."""
    try:
        asked = picked_filters(values)
        return parse_filters(caller.bounded(asked) if caller is not None else asked)
    except InvalidFilter as exc:
        message = f"Invalid query parameter '{exc.parameter}': {exc}"
        if _UNENCODED_PLUS.search(str(values.get(exc.parameter, ""))):
            message += " In a URL, write the offset's '+' as %2B."
        raise ApiError(400, "invalid_parameter", message) from None
