"""Marshmallow loading with errors flattened to ``events[3].actor.id`` paths."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from marshmallow import Schema
from marshmallow import ValidationError as MarshmallowError

from domain.errors import FieldError, ValidationFailed


def load(schema: Schema, document: Mapping[str, Any]) -> dict[str, Any]:
    """Load ``document`` or raise ``ValidationFailed`` naming every bad field."""
    try:
        return schema.load(document)
    except MarshmallowError as exc:
        raise ValidationFailed(list(_flatten(exc.messages, ""))) from None


def _flatten(messages: Any, path: str) -> Iterator[FieldError]:
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            if key == "_schema":
                yield from _flatten(value, path)
            elif isinstance(key, int):
                yield from _flatten(value, f"{path}[{key}]")
            else:
                yield from _flatten(value, f"{path}.{key}" if path else str(key))
    elif isinstance(messages, list):
        for message in messages:
            yield from _flatten(message, path)
    else:
        yield FieldError(path or "body", str(messages))
