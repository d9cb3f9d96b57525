"""Timestamps in and out of the API.

In: ISO 8601 with an optional 1-6 digit fraction and an optional offset (UTC when absent).
Out: RFC 3339 in UTC with exactly six fractional digits and a ``Z`` suffix. Microseconds are
the unit everywhere because the hash chain and cursors must round-trip timestamps exactly.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

_PATTERN = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<time>\d{2}:\d{2}:\d{2})"
    r"(?:\.(?P<fraction>\d+))?"
    r"(?P<offset>[Zz]|[+-]\d{2}:?\d{2})?$"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CLOCK_SKEW = timedelta(hours=1)
"""How far apart the clocks of an installation's hosts may be. A time the service wrote
that lies further ahead than this was not written when it says: believing it would let
one UPDATE postpone what the time decides (a chain's next check, the next checkpoint)
and quiet the alarm that watches it."""
_NOT_A_TIMESTAMP = ("Not a valid ISO 8601 timestamp: give a date and a time, such as "
                    "2026-11-26T13:31:45Z.")


class InvalidTimestamp(ValueError):
    """The text is not a timestamp the API accepts; the message says why."""


def parse_timestamp(text: str) -> datetime:
    """Parse an input timestamp into an aware UTC datetime, refusing sub-microsecond precision."""
    match = _PATTERN.fullmatch(text)
    if not match:
        raise InvalidTimestamp(_NOT_A_TIMESTAMP)
    fraction = match["fraction"] or ""
    if len(fraction) > 6:
        raise InvalidTimestamp("At most 6 fractional digits (microseconds) are allowed.")
    try:
        moment = datetime.fromisoformat(f"{match['date']}T{match['time']}")
    except ValueError as exc:
        raise InvalidTimestamp(_NOT_A_TIMESTAMP) from exc
    moment = moment.replace(microsecond=int(fraction.ljust(6, "0")) if fraction else 0)
    offset = _parse_offset(match["offset"])
    try:
        return moment.replace(tzinfo=offset).astimezone(UTC)
    except OverflowError as exc:
        raise InvalidTimestamp("Timestamp is out of range.") from exc


def _parse_offset(text: str | None) -> timezone:
    if text is None or text in ("Z", "z"):
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 23 or minutes > 59:
        raise InvalidTimestamp("Invalid UTC offset.")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def format_timestamp(moment: datetime) -> str:
    """The one output form: ``2026-11-26T13:31:45.123456Z``.

    ``isoformat`` rather than ``strftime``: it takes 40 % less time (two timestamps are
    formatted for each hash, more for each event in a response), and pads years below
    1000 to four digits, which ``strftime`` does not on every platform.
    """
    return moment.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def to_micros(moment: datetime) -> int:
    """Microseconds since the Unix epoch, exact (no float arithmetic)."""
    delta = moment.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    """Inverse of ``to_micros``."""
    return _EPOCH + timedelta(microseconds=micros)
