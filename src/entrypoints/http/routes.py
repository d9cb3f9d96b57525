"""How routes name their resources: ids in paths, and the templates logs, metrics and the
API document show.

An id (``evt_…``, ``exp_…``, ``key_…``) goes through the ``id`` converter: anything that
cannot be an id this service issued is a 404 from the router, before any lookup, so odd
bytes such as NUL, which PostgreSQL refuses in text, never reach a query.
"""

from __future__ import annotations

import functools
import re

from werkzeug.routing import BaseConverter

ID_PATTERN = r"[a-z]{1,8}_[0-9A-Za-z]{1,64}"
_CONVERTER = re.compile(r"<[^:>]+:([^>]+)>")


class ResourceId(BaseConverter):
    """Registered as ``id``: ``/events/<id:event_id>``."""

    regex = ID_PATTERN


@functools.lru_cache(maxsize=256)
def route_template(rule: str) -> str:
    """``/api/v1/events/<event_id>``: without converter names, so a label or a log field
    stays the same whichever converter checks the id. Bounded: one entry per route."""
    return _CONVERTER.sub(r"<\1>", rule)
