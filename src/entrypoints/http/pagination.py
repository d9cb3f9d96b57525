"""The one page shape of every list endpoint (contract §5.6)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from application.pages import Page

Item = TypeVar("Item")


def page_body(page: Page[Item], serialize: Callable[[Item], dict[str, Any]]) -> dict[str, Any]:
    """``next_cursor`` is present only when there is more (absent, not null, otherwise)."""
    body: dict[str, Any] = {"data": [serialize(item) for item in page.items],
                            "has_more": page.has_more}
    if page.next_cursor is not None:
        body["next_cursor"] = page.next_cursor
    body["total_count"] = page.total_count
    return body
