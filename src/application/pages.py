"""One page of a keyset-paginated list, the same for every list endpoint."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from domain.cursor import Position, encode_cursor

Item = TypeVar("Item")


@dataclass(frozen=True)
class Page(Generic[Item]):
    items: Sequence[Item]
    has_more: bool
    total_count: int
    next_cursor: str | None = None


def page_of(rows: Sequence[Item], limit: int, order: str, total_count: int,
            position: Callable[[Item], Position]) -> Page[Item]:
    """Build a page from ``limit + 1`` fetched rows: the extra row only says "there is more"."""
    items = rows[:limit]
    has_more = len(rows) > limit
    cursor = encode_cursor(order, position(items[-1])) if has_more and items else None
    return Page(items, has_more, total_count, cursor)
