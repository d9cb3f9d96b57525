"""Opaque page cursors: where the last page ended, for keyset pagination.

A cursor is URL-safe base64 (no padding) of ``<order>:<microseconds>:<id>:<check>``: the
last item's timestamp to the microsecond, its id as the tie-breaker (thousands of items
may share one microsecond), the order it was made for, so that a cursor cannot silently be
replayed against the other order, and a short checksum, so that a truncated or mangled
cursor is refused rather than read as another position. Anything else decodes to
``InvalidCursor``. (Cursors carry no secret: every query is confined to the caller's
workspace whatever position it starts from.)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from domain.errors import DomainError
from domain.timestamps import from_micros, to_micros

ASC = "asc"
DESC = "desc"
ORDERS = (ASC, DESC)

MIN_MICROS = 0
MAX_MICROS = to_micros(datetime.fromisoformat("9999-12-31T23:59:59.999999+00:00"))
_ID = re.compile(r"^[a-z]{1,8}_[0-9A-Za-z]{1,64}$")
MAX_LENGTH = 200
"""Longer than any cursor this API issues (its order, time, id and check in base64 come
to under 150 characters); longer ones are refused unread."""


class InvalidCursor(DomainError):
    """The cursor was not made by this service for this order."""


@dataclass(frozen=True)
class Position:
    """The sort key of the last item returned: ``(timestamp, id)``."""

    at: datetime
    id: str


def encode_cursor(order: str, position: Position) -> str:
    body = f"{order}:{to_micros(position.at)}:{position.id}"
    text = f"{body}:{_check(body)}"
    return base64.urlsafe_b64encode(text.encode("ascii")).rstrip(b"=").decode("ascii")


def _check(body: str) -> str:
    return hashlib.sha256(body.encode("ascii")).hexdigest()[:8]


def decode_cursor(cursor: str, order: str) -> Position:
    """The position a cursor stands for, if it was made for ``order``."""
    if not cursor or len(cursor) > MAX_LENGTH:
        raise InvalidCursor("The cursor is empty or too long.")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidCursor("The cursor is not one this API issued.") from None
    if base64.urlsafe_b64encode(text.encode("ascii")).rstrip(b"=").decode() != cursor:
        raise InvalidCursor("The cursor is not one this API issued.")
    body, _, check = text.rpartition(":")
    made_for, _, rest = body.partition(":")
    micros, _, item_id = rest.partition(":")
    if check != _check(body) or made_for not in ORDERS or not micros.isdigit() \
            or not _ID.fullmatch(item_id):
        raise InvalidCursor("The cursor is not one this API issued.")
    if made_for != order:
        raise InvalidCursor(f"The cursor was made for order={made_for}, not order={order}.")
    value = int(micros)
    if not MIN_MICROS <= value <= MAX_MICROS:
        raise InvalidCursor("The cursor's timestamp is out of range.")
    return Position(from_micros(value), item_id)
