"""API keys: shown once, stored only as a hash, valid until revoked or expired."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from domain.scopes import grants

KEY_PREFIX = "ak_"
DISPLAY_PREFIX_LENGTH = 8
LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_ROLL_GRACE_SECONDS = 7 * 24 * 3600
"""How long a rolled key may keep working beside its successor: long enough to redeploy
whatever holds it, short enough that rolling stays a rotation, not a second key."""


def hash_secret(secret: str) -> str:
    """SHA-256 of the key. Keys carry 256 random bits, so a slow KDF would add nothing."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def looks_like_key(secret: str) -> bool:
    """Cheap shape check that spares a database lookup for obvious garbage."""
    return secret.startswith(KEY_PREFIX) and 32 <= len(secret) - len(KEY_PREFIX) <= 128


@dataclass(frozen=True)
class ApiKey:
    """A workspace's credential with its scopes; the plaintext secret is never kept."""

    id: str
    workspace_id: str
    name: str
    prefix: str
    secret_hash: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    def matches(self, secret: str) -> bool:
        """Constant-time comparison of a presented secret with the stored hash."""
        return hmac.compare_digest(self.secret_hash, hash_secret(secret))

    def is_active(self, now: datetime) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or now < self.expires_at

    def allows(self, scope: str) -> bool:
        return grants(self.scopes, scope)

    def needs_usage_stamp(self, now: datetime) -> bool:
        """``last_used_at`` is kept to the minute so authentication is not a write per request."""
        return self.last_used_at is None or now - self.last_used_at >= LAST_USED_RESOLUTION

    def revoked(self, now: datetime) -> ApiKey:
        return self if self.revoked_at else replace(self, revoked_at=now)

    def expiring_by(self, moment: datetime) -> ApiKey:
        """The key, working until ``moment`` at the latest: rolling never extends a key."""
        if self.expires_at is not None and self.expires_at <= moment:
            return self
        return replace(self, expires_at=moment)
