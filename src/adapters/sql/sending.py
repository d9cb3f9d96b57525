"""``Sending.is_due`` and ``Sending.is_leased`` as SQL, for the tables of destinations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_

from domain.sending import BELIEVED_AHEAD


def ready_to_send(columns: Any, now: datetime) -> ColumnElement[bool]:
    """Neither leased nor waiting out a backoff at ``now``: a time further ahead than
    ``BELIEVED_AHEAD`` counts as none, as in the domain."""
    ahead = now + BELIEVED_AHEAD
    return and_(
        or_(columns.leased_until.is_(None), columns.leased_until <= now,
            columns.leased_until > ahead),
        or_(columns.next_attempt_at.is_(None), columns.next_attempt_at <= now,
            columns.next_attempt_at > ahead))
