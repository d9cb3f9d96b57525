"""I-JSON (RFC 7493) and metadata-shape rules.

RFC 8785 hashing is only well defined on I-JSON, so anything that could serialise two ways
(huge integers, NaN, lone surrogates) is refused at the door instead of breaking the chain.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

MAX_SAFE_INTEGER = 2**53 - 1
METADATA_MAX_KEYS = 50
METADATA_MAX_DEPTH = 5
METADATA_KEY_MAX_LENGTH = 128
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def ijson_violations(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Yield ``(path, message)`` for every part of ``value`` that is not I-JSON."""
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            yield path, "Integers must be within ±(2^53 - 1)."
    elif isinstance(value, float):
        if not math.isfinite(value):
            yield path, "NaN and Infinity are not allowed."
    elif isinstance(value, str):
        if not is_valid_unicode(value):
            yield path, "Strings must be valid Unicode (no lone surrogates)."
    elif isinstance(value, dict):
        for key, item in value.items():
            if not is_valid_unicode(key):
                yield path, "Keys must be valid Unicode (no lone surrogates)."
            yield from ijson_violations(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from ijson_violations(item, f"{path}[{index}]")
    else:
        yield path, "Not a JSON value."


def metadata_violations(metadata: dict[str, Any], path: str) -> Iterator[tuple[str, str]]:
    """Yield violations of the key-count, key-length and depth limits of a metadata object."""
    yield from _container_violations(metadata, path, depth=1)


def _container_violations(value: Any, path: str, depth: int) -> Iterator[tuple[str, str]]:
    if not isinstance(value, dict | list):
        return
    if depth > METADATA_MAX_DEPTH:
        yield path, f"Metadata may be nested at most {METADATA_MAX_DEPTH} levels deep."
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from _container_violations(item, f"{path}[{index}]", depth + 1)
        return
    if len(value) > METADATA_MAX_KEYS:
        yield path, f"Metadata objects may have at most {METADATA_MAX_KEYS} keys."
    for key, item in value.items():
        if not key or len(key) > METADATA_KEY_MAX_LENGTH:
            yield path, f"Metadata keys must be 1-{METADATA_KEY_MAX_LENGTH} characters."
        yield from _container_violations(item, f"{path}.{key}", depth + 1)


def is_valid_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def compared_value(value: Any) -> tuple[str, Any]:
    """A JSON value as metadata conditions compare it: booleans apart from numbers (Python
    holds ``True == 1``), 1 and 1.0 alike (JSON has one kind of number); an object or a
    list as something no condition holds."""
    if isinstance(value, bool):
        return ("boolean", value)
    if isinstance(value, int | float):
        return ("number", value)
    if value is None or isinstance(value, str):
        return (type(value).__name__, value)
    return ("structure", None)
