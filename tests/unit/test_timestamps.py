from datetime import UTC, datetime

import pytest

from domain.timestamps import (
    InvalidTimestamp,
    format_timestamp,
    from_micros,
    parse_timestamp,
    to_micros,
)


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-26T13:31:45.123456Z", datetime(2026, 11, 26, 13, 31, 45, 123456, tzinfo=UTC)),
    ("2026-11-26T13:31:45Z", datetime(2026, 11, 26, 13, 31, 45, tzinfo=UTC)),
    ("2026-11-26T13:31:45.1Z", datetime(2026, 11, 26, 13, 31, 45, 100000, tzinfo=UTC)),
    ("2026-11-26T15:31:45.5+02:00", datetime(2026, 11, 26, 13, 31, 45, 500000, tzinfo=UTC)),
    ("2026-11-26T13:31:45", datetime(2026, 11, 26, 13, 31, 45, tzinfo=UTC)),
    ("2026-11-26T08:31:45-0500", datetime(2026, 11, 26, 13, 31, 45, tzinfo=UTC)),
])
def test_parses_iso_8601_into_utc(text: str, expected: datetime) -> None:
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize("text", [
    "2026-11-26T13:31:45.1234567Z",  # seven fractional digits
    "2026-13-26T13:31:45Z",
    "2026-11-26",
    "yesterday",
    "2026-11-26T13:31:45+25:00",
    "0001-01-01T00:00:00+01:00",  # before year 1 in UTC: no datetime holds it
    "9999-12-31T23:59:59-01:00",  # after year 9999 in UTC
    "",
    "2026-11-26T13:31:45Z\n",  # a regular expression's $ would let the newline by
])
def test_rejects_what_the_contract_refuses(text: str) -> None:
    with pytest.raises(InvalidTimestamp):
        parse_timestamp(text)


def test_a_date_alone_is_told_what_is_missing() -> None:
    """``since=2026-11-26`` is the natural first try of someone filtering by day."""
    with pytest.raises(InvalidTimestamp, match="a date and a time, such as 2026-11-26T13"):
        parse_timestamp("2026-11-26")


def test_seven_digits_message_says_why() -> None:
    with pytest.raises(InvalidTimestamp, match="6 fractional digits"):
        parse_timestamp("2026-11-26T13:31:45.1234567Z")


def test_output_always_has_six_digits_and_z() -> None:
    assert format_timestamp(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == \
        "2026-01-02T03:04:05.000000Z"


def test_output_years_have_four_digits() -> None:
    """RFC 3339 requires them; glibc's strftime wrote year 999 as "999"."""
    assert format_timestamp(datetime(999, 1, 2, tzinfo=UTC)) == "0999-01-02T00:00:00.000000Z"


def test_micros_round_trip_exactly() -> None:
    moment = datetime(2026, 11, 26, 13, 31, 45, 123457, tzinfo=UTC)
    assert from_micros(to_micros(moment)) == moment
    assert to_micros(datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC)) == 1
