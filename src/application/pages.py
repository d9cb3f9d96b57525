"""One page of a keyset-paginated list, the same for every list endpoint."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from domain.cursor import Position, decode_cursor, encode_cursor

if TYPE_CHECKING:
    from application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory

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


class PagedRepository(Protocol[Item]):
    def page(self, workspace_id: str, order: str, after: Position | None,
             limit: int) -> list[Item]: ...

    def count(self, workspace_id: str) -> int: ...


def list_page(uow_factory: UnitOfWorkFactory,
              repository: Callable[[UnitOfWork], PagedRepository[Item]], workspace_id: str,
              order: str, limit: int, cursor: str | None,
              position: Callable[[Item], Position]) -> Page[Item]:
    """A workspace's list endpoint: a page and the exact total, read in one snapshot."""
    after = decode_cursor(cursor, order) if cursor is not None else None
    with uow_factory(snapshot=True) as uow:
        rows = repository(uow).page(workspace_id, order, after, limit + 1)
        total = repository(uow).count(workspace_id)
    return page_of(rows, limit, order, total, position)
