"""Property-based tests of the cursor codec."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.cursor import ASC, DESC, InvalidCursor, Position, decode_cursor, encode_cursor

moments = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 12, 31),
                       timezones=st.just(UTC))
ids = st.from_regex(r"[a-z]{1,8}_[0-9A-Za-z]{1,40}", fullmatch=True)
orders = st.sampled_from([ASC, DESC])


@settings(max_examples=500)
@given(orders, moments, ids)
def test_round_trip(order: str, at: datetime, item_id: str) -> None:
    cursor = encode_cursor(order, Position(at, item_id))
    assert "=" not in cursor and "+" not in cursor and "/" not in cursor
    assert decode_cursor(cursor, order) == Position(at, item_id)


@settings(max_examples=300)
@given(orders, moments, ids)
def test_other_order_is_refused(order: str, at: datetime, item_id: str) -> None:
    cursor = encode_cursor(order, Position(at, item_id))
    with pytest.raises(InvalidCursor, match="made for"):
        decode_cursor(cursor, DESC if order == ASC else ASC)


@settings(max_examples=1000)
@given(st.text(max_size=120), orders)
def test_arbitrary_strings_decode_or_are_refused_cleanly(text: str, order: str) -> None:
    try:
        position = decode_cursor(text, order)
    except InvalidCursor:
        return
    assert encode_cursor(order, position) == text  # only a genuine cursor decodes


@settings(max_examples=300)
@given(orders, moments, ids, st.integers(1, 20))
def test_truncated_cursors_are_refused(order: str, at: datetime, item_id: str,
                                       cut: int) -> None:
    cursor = encode_cursor(order, Position(at, item_id))
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor[:-cut], order)


@pytest.mark.parametrize("body", [
    "desc:99999999999999999999:evt_1", "desc:-5:evt_1", "desc:12:", "desc:12:EVT_1",
    "desc:12:evt_1:extra!", "sideways:12:evt_1", "desc:1e5:evt_1",
])
def test_malformed_payloads_are_refused_even_with_a_valid_check(body: str) -> None:
    text = f"{body}:{hashlib.sha256(body.encode()).hexdigest()[:8]}"
    cursor = base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, DESC)
