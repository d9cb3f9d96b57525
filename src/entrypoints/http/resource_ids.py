"""Resource ids in paths (``evt_…``, ``exp_…``, ``key_…``).

Anything that cannot be an id this service issued is a 404 from the router, before any
lookup: odd bytes such as NUL, which PostgreSQL refuses in text, never reach a query.
"""

from __future__ import annotations

from werkzeug.routing import BaseConverter

PATTERN = r"[a-z]{1,8}_[0-9A-Za-z]{1,64}"


class ResourceId(BaseConverter):
    """Registered as ``id``: ``/events/<id:event_id>``."""

    regex = PATTERN
