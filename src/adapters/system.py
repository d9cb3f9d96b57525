"""The real clock, ULID-based ids and cryptographically random key secrets."""

from __future__ import annotations

import random
import secrets
from datetime import UTC, datetime

from ulid import ULID


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class UlidIdGenerator:
    """``evt_01JD…``: ULIDs sort by creation time, so ids make stable tie-breakers."""

    def new(self, prefix: str) -> str:
        return f"{prefix}_{ULID()}"


class TokenSecretGenerator:
    def new_api_key(self) -> str:
        return "ak_" + secrets.token_urlsafe(32)

    def new_signing_secret(self) -> str:
        return "whsec_" + secrets.token_urlsafe(32)


def jitter() -> float:
    """Retry jitter: spreading retries needs no cryptographic randomness."""
    return random.random()
