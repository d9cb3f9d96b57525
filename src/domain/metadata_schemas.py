"""What a workspace may require of its events' ``metadata``, action by action.

An auditor reads ``billing.refund`` events for their ``amount`` and ``currency``; one
sent without them, or with an amount in words, is evidence of nothing and can never be
corrected. A workspace can give an action (or a family, ``billing.*``) a JSON Schema
(draft 2020-12) that the metadata of its events must meet when they are sent.

Schemas are limited so that checking an event costs at most its schema's size, never its
metadata's, as a tenant's schema is a cost to every tenant of the server: each keyword
applies once, to the one value it names (``properties``, their types, lengths, ranges and
enumerations). None applies to every item of an array (``items``, ``contains``,
``uniqueItems``) or every other key of an object (``additionalProperties`` is ``true`` or
``false``; ``patternProperties``), whose count the sender chooses; no combination
(``anyOf``, ``oneOf``, ``allOf``, ``not``) makes the library try, and explain the failure
of, every branch; no ``pattern`` (a regular expression can take exponential time on a
crafted string), ``format``, or reference (``$ref``: nothing is fetched).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from domain.action_patterns import checked_patterns
from domain.activity import named
from domain.errors import FieldError, ValidationFailed
from domain.event_rules import RESERVED_PREFIX, is_reserved

FIELD = "metadata_schemas"
MAX_SCHEMAS = 200
MAX_DEPTH = 32
"""Objects and arrays within one another in a schema: a library checks a schema, and an
event against it, by recursion, which a schema nested a few hundred deep would exhaust."""
MAX_SCHEMA_BYTES = 4 * 1024
"""One action's schema, as stored: what checking one of its events costs at most (about
50 properties, each with its type and a limit, fit)."""
MAX_SCHEMAS_BYTES = 64 * 1024
"""The schemas together, as stored: they travel with the workspace in every process's
credential cache."""
DRAFT = "https://json-schema.org/draft/2020-12/schema"
TYPES = ["null", "boolean", "object", "array", "number", "integer", "string"]
_COUNT = {"type": "integer", "minimum": 0}
_NUMBER = {"type": "number"}
_SCHEMA = {"$ref": "#/$defs/schema"}
KEYWORDS: dict[str, Any] = {
    "type": {"anyOf": [{"enum": TYPES}, {"type": "array", "minItems": 1,
                                           "items": {"enum": TYPES}}]},
    "enum": {"type": "array", "minItems": 1}, "const": {},
    "properties": {"type": "object", "additionalProperties": _SCHEMA},
    "required": {"type": "array", "items": {"type": "string"}},
    "additionalProperties": {"type": "boolean"},
    "minItems": _COUNT, "maxItems": _COUNT, "minLength": _COUNT, "maxLength": _COUNT,
    "minProperties": _COUNT, "maxProperties": _COUNT,
    "minimum": _NUMBER, "maximum": _NUMBER, "exclusiveMinimum": _NUMBER,
    "exclusiveMaximum": _NUMBER, "multipleOf": {"type": "number", "exclusiveMinimum": 0},
    "title": {"type": "string"}, "description": {"type": "string"}, "$schema": {"const": DRAFT},
}
"""Each keyword a schema may use, with what its value must be."""
META_SCHEMA: dict[str, Any] = {
    "$schema": DRAFT,
    "$defs": {"schema": {"anyOf": [{"type": "boolean"}, {
        "type": "object", "properties": KEYWORDS, "additionalProperties": False}]}},
    **_SCHEMA,
}
"""What a metadata schema must itself be: a JSON Schema of the keywords above only."""


def checked_metadata_schemas(value: object) -> str | None:
    """The schemas as stored (canonical JSON text, so that equal schemas are one text), or
    None for none; ``ValidationFailed`` for a bad action pattern, too many or too large.
    Whether each is a schema of the keywords allowed is the ``MetadataRules`` port's to
    say (a library's, not this module's)."""
    if value is None:
        return None
    if not isinstance(value, dict) or not value:
        raise ValidationFailed([FieldError(FIELD, "An object of actions (exact, or like "
                                                  "'billing.*') and their metadata's JSON "
                                                  "Schema; null for none.")])
    if len(value) > MAX_SCHEMAS:
        raise ValidationFailed([FieldError(FIELD, f"At most {MAX_SCHEMAS} actions.")])
    errors = []
    for pattern, schema in value.items():
        if _depth(schema) > MAX_DEPTH:
            errors.append(FieldError(f"{FIELD}.{pattern}", f"Nested at most {MAX_DEPTH} "
                                                           f"objects and arrays deep."))
        elif len(_canonical(schema).encode()) > MAX_SCHEMA_BYTES:
            errors.append(FieldError(f"{FIELD}.{pattern}", f"At most {MAX_SCHEMA_BYTES:,} "
                                                           f"bytes an action."))
        try:
            checked_patterns([pattern], f"{FIELD}.{pattern}")
        except ValidationFailed as failure:
            errors += [FieldError(f"{FIELD}.{pattern}", error.message)
                       for error in failure.errors]
        if is_reserved(pattern):
            errors.append(FieldError(f"{FIELD}.{pattern}",
                                     f"Actions beginning '{RESERVED_PREFIX}' are Auditrail's "
                                     f"own records, which no application may send."))
    if errors:
        raise ValidationFailed(errors)
    text = _canonical(value)
    if len(text.encode()) > MAX_SCHEMAS_BYTES:
        raise ValidationFailed([FieldError(FIELD, f"At most {MAX_SCHEMAS_BYTES:,} bytes "
                                                  f"of schemas together.")])
    return text


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _depth(value: object) -> int:
    """How deep objects and arrays nest in ``value``, counted without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


class SchemaIndex:
    """Which of a workspace's schemas an action's events meet: the action's own, else
    that of the longest prefix it falls under (``billing.refund.*`` before
    ``billing.*``), else none."""

    def __init__(self, patterns: Iterable[str]) -> None:
        listed = list(patterns)
        self._exact = {pattern for pattern in listed if not pattern.endswith(".*")}
        self._prefixes = sorted((pattern[:-1] for pattern in listed
                                 if pattern.endswith(".*")), key=len, reverse=True)

    def pattern_for(self, action: str) -> str | None:
        if action in self._exact:
            return action
        for prefix in self._prefixes:
            if action.startswith(prefix):
                return prefix + "*"
        return None


def schemas_of(text: str | None) -> Mapping[str, Any] | None:
    """The stored text as the API shows it."""
    return None if text is None else json.loads(text)


RECORDED_ACTIONS = 50
"""Actions a record of a change names in each of its lists (``domain.activity.named``)."""


def recorded_change(before: str | None, after: str | None) -> dict[str, Any]:
    """A change of the schemas as the workspace's record says it: the actions whose schema
    was added, changed or removed (not the schemas, which may take 64 KiB)."""
    old, new = schemas_of(before) or {}, schemas_of(after) or {}
    return {**named("added", [a for a in new if a not in old], RECORDED_ACTIONS),
            **named("changed", [a for a in new if a in old and new[a] != old[a]],
                    RECORDED_ACTIONS),
            **named("removed", [a for a in old if a not in new], RECORDED_ACTIONS)}
