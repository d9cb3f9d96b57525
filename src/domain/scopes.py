"""API key scopes; ``admin`` implies every other scope."""

from __future__ import annotations

from collections.abc import Iterable

EVENTS_WRITE = "events:write"
EVENTS_READ = "events:read"
EXPORTS = "exports"
ALERTS = "alerts"
STREAMS = "streams"
ADMIN = "admin"

ALL_SCOPES = (EVENTS_WRITE, EVENTS_READ, EXPORTS, ALERTS, STREAMS, ADMIN)
VIEWER = "viewer"
"""A viewer link's credential (contract §11): never granted to an API key created as one,
and implied by no other scope; the views a link may call name it."""


class UnknownScope(ValueError):
    """A scope name outside ``ALL_SCOPES``."""


def parse_scopes(names: Iterable[str]) -> tuple[str, ...]:
    """Validate scope names and return them de-duplicated in their canonical order."""
    wanted = {name.strip() for name in names if name.strip()}
    unknown = sorted(wanted - set(ALL_SCOPES))
    if unknown:
        raise UnknownScope(f"Unknown scope(s): {', '.join(unknown)}. "
                           f"Valid scopes: {', '.join(ALL_SCOPES)}.")
    if not wanted:
        raise UnknownScope("At least one scope is required.")
    return tuple(scope for scope in ALL_SCOPES if scope in wanted)


def grants(held: Iterable[str], required: str) -> bool:
    """Whether a key holding ``held`` may do what needs ``required``."""
    held = set(held)
    return ADMIN in held or required in held
