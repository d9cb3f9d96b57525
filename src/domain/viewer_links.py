"""Viewer links (contract §11): a read-only credential for one workspace's events, with
filters the host application chose forced onto every query.

A link is an API key holding only the ``viewer`` scope - so it is stored hashed, expires,
is revoked and rate-limited exactly as keys are - plus what the key cannot say: the
forced filters, whether exports are allowed, and a title.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.event_rules import canonical_ip_address
from domain.event_search import (
    FILTER_NAMES,
    METADATA_FILTER,
    PREFIX_WILDCARD,
    InvalidFilter,
    metadata_values,
)
from domain.json_rules import compared_value
from domain.scopes import EXPORTS
from domain.timestamps import parse_timestamp

VIEWER_LINK_PREFIX = "vwl_"
"""Of a link's id, which is also its credential's (an API key's) id."""
MIN_LIFETIME_SECONDS = 60
MAX_LIFETIME_SECONDS = 86_400
MAX_TITLE_LENGTH = 200


@dataclass(frozen=True)
class ViewerLink:
    id: str
    workspace_id: str
    filters: dict[str, Any]
    """As the API names them (§5.4): what the link's readers can never see beyond."""
    allow_export: bool
    created_at: datetime
    expires_at: datetime
    title: str | None = None
    revoked_at: datetime | None = field(default=None, compare=False)

    def is_active(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at

    def grants(self, scope: str) -> bool:
        """Of the scopes a view open to links asks for, which this link holds: reading
        always, exports only when the host allowed them."""
        return scope != EXPORTS or self.allow_export


def narrowed(forced: Mapping[str, Any], reader: Mapping[str, Any]) -> dict[str, Any]:
    """The filters a link's reader gets: the reader's, inside the link's. A reader may
    narrow a forced filter (a later ``since``, an action under a forced prefix) but never
    widen or replace it: that raises ``InvalidFilter`` naming the parameter, rather than
    answering with an empty page that would read as "nothing happened"."""
    merged: dict[str, Any] = {}
    metadata = sorted({name for name in (*forced, *reader) if name.startswith(METADATA_FILTER)})
    for name in (*FILTER_NAMES, *metadata):
        mine, theirs = forced.get(name), reader.get(name)
        if mine is None or theirs is None:
            value = theirs if mine is None else mine
        elif name == "since":
            value = max(mine, theirs, key=parse_timestamp)
        elif name == "until":
            value = min(mine, theirs, key=parse_timestamp)
        elif name == "action":
            value = _narrower_action(mine, theirs)
        elif name.startswith(METADATA_FILTER):
            value = _narrower_metadata(name, mine, theirs)
        elif _same(name, mine, theirs):
            value = mine
        else:
            raise InvalidFilter(name, f"This link shows only {name} {mine!r}.")
        if value is not None:
            merged[name] = value
    return merged


def _narrower_action(forced: str, reader: str) -> str:
    if forced == reader:
        return reader
    if forced.endswith(PREFIX_WILDCARD) and reader.startswith(forced[:-1]):
        return reader  # "user.*" narrowed to "user.login" or "user.mfa.*"
    raise InvalidFilter("action", f"This link shows only action {forced!r}.")


def _narrower_metadata(name: str, forced: str, reader: str) -> str:
    """A reader may keep one of the values a bare ``123`` matches (``"123"``: the string)."""
    allowed = {compared_value(value) for value in metadata_values(name, forced)}
    if {compared_value(value) for value in metadata_values(name, reader)} <= allowed:
        return reader
    raise InvalidFilter(name, f"This link shows only {name} {forced!r}.")


def _same(name: str, forced: str, reader: str) -> bool:
    if name == "ip_address":
        return canonical_ip_address(forced) == canonical_ip_address(reader)
    if name == "country_code":
        return forced.upper() == reader.upper()
    return forced == reader
