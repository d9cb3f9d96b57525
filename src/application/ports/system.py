"""Time, identifiers and secrets come from outside so that tests can pin them."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC, with microseconds."""
        ...


class IdGenerator(Protocol):
    def new(self, prefix: str) -> str:
        """A new time-ordered id such as ``evt_01JD…`` (``prefix`` without the underscore)."""
        ...


class SecretGenerator(Protocol):
    def new_api_key(self) -> str:
        """A new API key secret: ``ak_`` and at least 32 random URL-safe characters."""
        ...

    def new_signing_secret(self) -> str:
        """A webhook signing secret for a stream created without one: ``whsec_`` and 32
        random URL-safe characters or more."""
        ...


class Randomness(Protocol):
    def __call__(self) -> float:
        """A number in [0, 1), for jitter."""
        ...
