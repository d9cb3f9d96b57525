"""Marshmallow loading with errors flattened to ``events[3].actor.id`` paths."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from marshmallow import Schema, fields
from marshmallow import ValidationError as MarshmallowError

from domain.errors import FieldError, ValidationFailed
from domain.field_names import unknown_field


def load(schema: Schema, document: Mapping[str, Any]) -> dict[str, Any]:
    """Load ``document`` or raise ``ValidationFailed`` naming every bad field."""
    try:
        return schema.load(document)
    except MarshmallowError as exc:
        raise ValidationFailed(list(_flatten(exc.messages, "", schema))) from None


def input_names(schema: Schema) -> list[str]:
    """The names a caller may send to ``schema``."""
    return [field.data_key or name for name, field in schema.load_fields.items()]


def _flatten(messages: Any, path: str, schema: Schema | None) -> Iterator[FieldError]:
    """``schema`` is the one that refused ``messages``, when known: an unknown field's
    error then names the field probably meant."""
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            if key == "_schema":
                yield from _flatten(value, path, schema)
            elif isinstance(key, int):
                yield from _flatten(value, f"{path}[{key}]", schema)  # a list's item
            else:
                where = f"{path}.{key}" if path else str(key)
                if schema is not None and value == [schema.error_messages["unknown"]]:
                    yield FieldError(where, unknown_field(str(key), input_names(schema)))
                else:
                    yield from _flatten(value, where, _inner(schema, str(key)))
    elif isinstance(messages, list):
        for message in messages:
            yield from _flatten(message, path, schema)
    else:
        yield FieldError(path or "body", str(messages))


def _inner(schema: Schema | None, name: str) -> Schema | None:
    """The schema of the field ``name`` (of its items, for a list), if it has one."""
    if schema is None:
        return None
    field = next((field for key, field in schema.load_fields.items()
                  if (field.data_key or key) == name), None)
    if isinstance(field, fields.List):
        field = field.inner
    return field.schema if isinstance(field, fields.Nested) else None
