"""Domain errors: raised by the rules themselves, mapped to HTTP codes in one place."""

from __future__ import annotations

from dataclasses import dataclass


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""


@dataclass(frozen=True)
class FieldError:
    """One invalid field, named by its path in the request body (``events[3].actor.id``)."""

    field: str
    message: str

    def prefixed(self, prefix: str) -> FieldError:
        """The same error seen from an enclosing document (a batch names its items)."""
        if not self.field:
            return FieldError(prefix, self.message)
        separator = "" if self.field.startswith("[") else "."
        return FieldError(f"{prefix}{separator}{self.field}", self.message)


class ValidationFailed(DomainError):
    """The input breaks one or more rules; each broken rule is one ``FieldError``."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        count = len({error.field for error in errors})  # a field may break two rules
        noun = "1 field is" if count == 1 else f"{count} fields are"
        super().__init__(f"{noun} invalid")
