"""The names people give workspaces and API keys, shown back in lists, logs and terminals."""

from __future__ import annotations

from domain.errors import FieldError, ValidationFailed
from domain.json_rules import CONTROL_CHARACTERS, is_valid_unicode

NAME_MAX_LENGTH = 200


def checked_name(name: str, field: str = "name") -> str:
    """The name without surrounding blanks, or ``ValidationFailed`` naming ``field``.

    A control character could forge a line in a log or a terminal (and PostgreSQL refuses
    NUL in text); a lone surrogate has no UTF-8 form to store at all.
    """
    name = name.strip()
    if not 1 <= len(name) <= NAME_MAX_LENGTH:
        raise ValidationFailed([FieldError(field, f"1-{NAME_MAX_LENGTH} characters.")])
    if CONTROL_CHARACTERS.search(name):
        raise ValidationFailed([FieldError(field, "Must not contain control characters.")])
    if not is_valid_unicode(name):
        raise ValidationFailed([FieldError(field, "Must be valid Unicode (no lone "
                                                  "surrogates).")])
    return name
