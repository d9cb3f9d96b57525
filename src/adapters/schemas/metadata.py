"""``MetadataRules`` with the jsonschema library (draft 2020-12): schemas checked against
the keywords Auditrail allows, then compiled once per workspace's text."""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from domain.errors import FieldError
from domain.metadata_schemas import FIELD, KEYWORDS, META_SCHEMA, TYPES, SchemaIndex

MAX_VIOLATIONS = 10
"""An event's violations said at most: enough to fix it, and a bounded answer."""
MESSAGE_CHARACTERS = 300
"""A message said at most: the library's messages quote the value that failed, and the
values an enum allows."""
QUOTED_CHARACTERS = 40
"""Of a string value quoted in a message: enough to tell which it was."""
_ALLOWED = ", ".join(sorted(KEYWORDS))
_META = Draft202012Validator(META_SCHEMA)


class JsonSchemaMetadataRules:
    def schema_problems(self, schemas: Mapping[str, Any]) -> list[FieldError]:
        """One problem an action, the library's best match: the first to fix."""
        problems = []
        for pattern, schema in schemas.items():
            error = best_match(_META.iter_errors(schema))
            if error is not None:
                problems.append(FieldError(_path(f"{FIELD}.{pattern}", error),
                                           _schema_message(error)))
        return problems

    def violations(self, schemas: str, action: str,
                   metadata: Mapping[str, Any]) -> list[FieldError]:
        validator = _compiled(schemas).get(action)
        if validator is None:
            return []
        errors = sorted(itertools.islice(validator.iter_errors(metadata), MAX_VIOLATIONS),
                        key=lambda error: [str(part) for part in error.absolute_path])
        return [FieldError(_path("metadata", error), _violation(error)) for error in errors]


class _Compiled:
    """A workspace's schemas, each compiled, found by action."""

    def __init__(self, schemas: Mapping[str, Any]) -> None:
        self._index = SchemaIndex(schemas)
        self._validators = {pattern: Draft202012Validator(schema)
                            for pattern, schema in schemas.items()}

    def get(self, action: str) -> Draft202012Validator | None:
        pattern = self._index.pattern_for(action)
        return None if pattern is None else self._validators[pattern]


@functools.lru_cache(maxsize=256)
def _compiled(schemas: str) -> _Compiled:
    """Keyed by the stored text: a workspace's cached entity keeps the same string, whose
    hash Python keeps, so a request's lookup costs no parsing."""
    return _Compiled(json.loads(schemas))


def _path(root: str, error: ValidationError) -> str:
    return ".".join([root, *(str(part) for part in error.absolute_path)])


def _schema_message(error: ValidationError) -> str:
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        unknown = sorted(set(error.instance) - set(KEYWORDS))
        return (f"Not a keyword a metadata schema may use: {', '.join(unknown)} (these "
                f"are: {_ALLOWED}).")
    if error.validator == "anyOf" and list(error.absolute_path)[-1:] == ["type"]:
        return f"A type, or a list of them, of: {', '.join(TYPES)}."
    if error.validator == "anyOf":
        return "Not a JSON Schema: an object of keywords, or true or false."
    return _violation(error)


def _violation(error: ValidationError) -> str:
    """The library's message, with a long string it quotes cut short."""
    message = error.message
    if isinstance(error.instance, str) and len(error.instance) > QUOTED_CHARACTERS:
        message = message.replace(repr(error.instance),
                                  repr(error.instance[:QUOTED_CHARACTERS]) + "…")
    if len(message) <= MESSAGE_CHARACTERS:
        return message
    return message[:MESSAGE_CHARACTERS - 1] + "…"
