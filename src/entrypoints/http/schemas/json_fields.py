"""Fields that read JSON as the API takes it, and state in its document what the domain
checks.

Most rules of a body are the domain's, so that one answer names every bad field; the
schemas check shape. The document still states those rules as JSON Schema keywords
(lengths, ranges, formats), through the fields' metadata, which apispec copies and
nothing validates: clients generated from the document then know them too.
"""

from __future__ import annotations

from typing import Any

from marshmallow import fields

from domain.cursor import MAX_LENGTH as MAX_CURSOR_LENGTH
from domain.event_rules import ACTION_MAX_LENGTH, ACTION_PATTERN


class JsonBoolean(fields.Boolean):
    """JSON's ``true`` or ``false``, nothing else. marshmallow's Boolean also reads "yes",
    "on" or "1", and even given ``truthy={True}, falsy={False}`` it reads 1 and 0: they
    equal True and False in Python, so a set of either holds them. A setting such as a
    legal hold must not be switched by a number a client sent by mistake."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


def timestamp(description: str | None = None, **options: Any) -> fields.String:
    """A time, ``format: date-time``, so that a generated client holds a datetime. In a
    request it is parsed by the domain (``domain.timestamps``): RFC 3339, and also a space
    for the ``T``, no offset as UTC, at most six fractional digits. In an answer it is RFC
    3339 in UTC (``2026-11-26T13:31:45.000000Z``); an event's times are hashed as that
    string, so a hash is recomputed from the JSON, not from a time parsed and written out
    again."""
    said = {"description": description} if description else {}
    return fields.String(metadata={"format": "date-time", **said}, **options)


def cursor() -> fields.String:
    """A page's cursor, decoded by the domain (``domain.cursor``), which refuses an empty or
    overlong one unread (``invalid_cursor``, not ``invalid_parameter``: hence no validator
    here)."""
    return fields.String(metadata={
        "minLength": 1, "maxLength": MAX_CURSOR_LENGTH,
        "description": "the next_cursor of the page before, as it was given"})


def text(low: int, high: int, description: str | None = None, pattern: str | None = None,
         **options: Any) -> fields.String:
    """A string whose length (and pattern, if given) the domain checks."""
    said = {"description": description} if description else {}
    shaped = {"pattern": pattern} if pattern else {}
    return fields.String(metadata={"minLength": low, "maxLength": high, **shaped, **said},
                         **options)


def action_pattern(description: str | None = None, **options: Any) -> fields.String:
    """An action, or a prefix of actions ending ``.*`` (``domain.event_search``), as the
    filters, the alert rules and the streams take them."""
    return text(1, ACTION_MAX_LENGTH, description,
                pattern=ACTION_PATTERN.pattern.removesuffix("$") + r"(\.\*)?$", **options)


def web_address(description: str, **options: Any) -> fields.String:
    """An http(s) URL, checked by the domain (``domain.destinations``): scheme, host, and
    a public address unless the operator allows private ones."""
    return fields.String(metadata={"format": "uri", "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://",
                                   "description": description}, **options)
