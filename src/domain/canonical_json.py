"""RFC 8785 (JCS) canonical JSON for hashing, with a fast path through the C encoder.

``rfc8785`` is the reference implementation, in pure Python; hashing every event with it
costs more than the rest of processing. For the documents events actually contain, the
stdlib encoder with sorted keys already writes the canonical bytes: the string escapes are
the same, integers print the same, and so do floats of moderate magnitude. The walk below
confirms a document is of that kind (turning integral floats into ints, as JCS prints
them); anything else - a key outside the Basic Multilingual Plane, whose UTF-16 sort order
differs, or a float JCS would print in another notation - goes to ``rfc8785``.
A property-based test holds the two outputs equal.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

_MAX_SAFE_INTEGER = 2**53 - 1


class _NeedsReference(Exception):
    pass


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 serialisation of ``value`` as UTF-8 bytes."""
    try:
        if _holds_integral_floats(value):
            value = _prepared(value)
    except _NeedsReference:
        return rfc8785.dumps(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def _holds_integral_floats(value: Any) -> bool:
    """Whether the encoder can print ``value`` once its integral floats become ints; raises
    ``_NeedsReference`` where it cannot at all.

    A check that copies nothing: event documents rarely hold an integral float, and building
    a copy of every document cost as much as hashing it. Exact types only: anything else
    (a subclass, another type) is left to the reference implementation.
    """
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return False
    if kind is dict:
        found = False
        for key, item in value.items():
            if type(key) is not str or (not key.isascii() and max(map(ord, key)) > 0xFFFF):
                raise _NeedsReference
            if type(item) is not str and _holds_integral_floats(item):
                found = True
        return found
    if kind is list:
        found = False
        for item in value:
            if type(item) is not str and _holds_integral_floats(item):
                found = True
        return found
    if kind is int:
        if -_MAX_SAFE_INTEGER <= value <= _MAX_SAFE_INTEGER:
            return False
        raise _NeedsReference
    if kind is float:
        return type(_prepared_float(value)) is int
    raise _NeedsReference


def _prepared(value: Any) -> Any:
    """A copy with integral floats as ints (``1.0`` prints ``1`` in JCS)."""
    if isinstance(value, str) or value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if abs(value) > _MAX_SAFE_INTEGER:
            raise _NeedsReference
        return value
    if isinstance(value, float):
        return _prepared_float(value)
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str) or (not key.isascii() and max(map(ord, key)) > 0xFFFF):
                raise _NeedsReference
        return {key: _prepared(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_prepared(item) for item in value]
    raise _NeedsReference


def _prepared_float(number: float) -> float | int:
    """Python's repr and ECMAScript agree on shortest digits; only notation can differ."""
    magnitude = abs(number)
    if number.is_integer():
        if magnitude <= _MAX_SAFE_INTEGER:
            return int(number)  # JCS prints 1.0 as 1 and -0.0 as 0
        raise _NeedsReference
    if 1e-4 <= magnitude < 1e16:
        return number  # both print plain decimal notation here
    raise _NeedsReference
