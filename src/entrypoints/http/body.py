"""Reading JSON request bodies: content type, coding, size limit, syntax, top-level type."""

from __future__ import annotations

import json
import zlib
from typing import Any

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

from entrypoints.http.errors import ApiError
from entrypoints.http.query import header

ONE_MIB = 1024 * 1024


def json_object(max_bytes: int = ONE_MIB) -> dict[str, Any]:
    """The body as a JSON object, or the contract's 400/413 error.

    The size limit is enforced while reading, before any parsing happens: at most one byte
    past the limit is kept. A body declaring a larger ``Content-Length`` is refused without
    being kept (by Werkzeug); a chunked one, which declares none, is cut one byte past the
    limit and refused, where Werkzeug alone would stop at the limit and hand back the
    truncated body as if it were all. Either is then read to its end and thrown away, up
    to ``DRAINED`` times the limit (``_discard_rest``).
    """
    if request.mimetype != "application/json":
        raise ApiError(400, "invalid_content_type",
                       "Request bodies must be sent with 'Content-Type: application/json'.")
    charset = request.mimetype_params.get("charset", "utf-8").strip().lower()
    if charset not in ("utf-8", "utf8"):
        raise ApiError(400, "invalid_content_type",
                       f"JSON is UTF-8 (RFC 8259): send the body as UTF-8, with no charset "
                       f"or 'charset=utf-8', not {charset!r}.")
    gzipped = _gzipped()
    # One byte more tells "over" from "at"; gzip may add a little to what it cannot shrink.
    allowed = max_bytes + (max_bytes // 1024 + 64 if gzipped else 0)
    request.max_content_length = allowed + 1
    try:
        raw = request.get_data(cache=False)
    except RequestEntityTooLarge:
        _discard_rest(max_bytes, request.content_length, 0)
        raise _too_large(max_bytes) from None
    if len(raw) > allowed:
        _discard_rest(max_bytes, None, len(raw))
        raise _too_large(max_bytes)
    if gzipped:
        raw = _inflated(raw, max_bytes)
    elif len(raw) > max_bytes:
        raise _too_large(max_bytes)
    try:
        document = json.loads(raw.decode("utf-8"), object_pairs_hook=_unique_keys)
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_json", "The body is not valid UTF-8.") from None
    except json.JSONDecodeError as exc:
        raise ApiError(400, "invalid_json",
                       f"The body is not valid JSON: {exc.msg} at line {exc.lineno} "
                       f"column {exc.colno}.") from None
    except _DuplicateKey as exc:
        raise ApiError(400, "invalid_json", f"Duplicate object key {exc.args[0]!r}.") from None
    except RecursionError:
        raise ApiError(400, "invalid_json", "The body is nested too deeply.") from None
    except ValueError:  # Python refuses to read integers of over 4,300 digits
        raise ApiError(400, "invalid_json", "The body holds a number too long to read.") \
            from None
    if not isinstance(document, dict):
        raise ApiError(400, "invalid_json", "The body must be a JSON object.")
    return document


def _gzipped() -> bool:
    """Whether the body is gzip-compressed (``Content-Encoding: gzip``), which saves a
    batch most of its bytes on the wire; any other coding is refused by name, as it would
    otherwise fail as "not valid UTF-8", which misleads."""
    encoding = (header("Content-Encoding") or "identity").strip().lower()
    if encoding in ("gzip", "x-gzip"):
        return True
    if encoding != "identity":
        raise ApiError(400, "invalid_parameter",
                       "Header 'Content-Encoding' is not supported unless 'gzip' or "
                       "'identity': send the body gzip-compressed or uncompressed.")
    return False


MAX_GZIP_MEMBERS = 100
"""RFC 1952 lets a gzip body be several members one after another (files concatenated);
a few do. Hundreds of thousands of empty ones in a body at the limit would each cost a new
inflater: refused past this many."""


def _inflated(compressed: bytes, max_bytes: int) -> bytes:
    """A gzip body inflated, one member after another. The limit holds for the JSON, not
    the wire: inflating stops one byte past it, so a body of a few KiB that would inflate
    to gigabytes costs no more than a body at the limit."""
    inflated = bytearray()
    rest = compressed
    for _ in range(MAX_GZIP_MEMBERS):
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            inflated += inflater.decompress(rest, max_bytes + 1 - len(inflated))
        except zlib.error:
            raise ApiError(400, "invalid_json", "The body is not valid gzip, as "
                                                "'Content-Encoding: gzip' says it is.") from None
        if len(inflated) > max_bytes:
            raise _too_large(max_bytes)
        if not inflater.eof:
            raise ApiError(400, "invalid_json", "The gzip body is cut short.")
        rest = inflater.unused_data
        if not rest:
            return bytes(inflated)
    raise ApiError(400, "invalid_json", f"The gzip body has more than {MAX_GZIP_MEMBERS} "
                                        f"members; send it as one.")


DRAINED = 4
"""A body refused as too large is still read, up to this many times the limit, and thrown
away: a proxy sends the whole body before it reads the answer (nginx does), and a
connection closed under it is answered 502 by the proxy, not the 413 that names the
limit. A larger one is refused unread, its connection closed."""

_BLOCK = 64 * 1024


def _discard_rest(max_bytes: int, declared: int | None, read: int) -> None:
    """Read what is left of the body after the ``read`` bytes already read (to its
    ``declared`` length, or to its end when it is sent in chunks) and keep none of it,
    unless it is more than ``DRAINED`` times the limit."""
    budget = DRAINED * max_bytes
    if declared is not None and declared > budget:
        return
    source = request.environ["wsgi.input"]
    left = (budget if declared is None else declared) - read
    while left > 0 and (block := source.read(min(_BLOCK, left))):
        left -= len(block)


def _too_large(max_bytes: int) -> ApiError:
    return ApiError(413, "payload_too_large",
                    f"The request body is larger than this endpoint's limit of "
                    f"{max_bytes // ONE_MIB} MiB ({max_bytes:,} bytes).")


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """I-JSON forbids duplicate names; silently keeping the last one would hash a lie."""
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise _DuplicateKey(key)
        document[key] = value
    return document
