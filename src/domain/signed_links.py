"""Signed, short-lived download links: ``expires`` and an HMAC over export id and expiry."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime

from domain.errors import DomainError


class InvalidSignature(DomainError):
    """Missing, malformed or wrong signature (403 ``invalid_signature``)."""


class LinkExpired(DomainError):
    """A genuine link whose time is up (410 ``link_expired``)."""


def sign(secret: bytes, export_id: str, expires: int) -> str:
    message = f"{export_id}.{expires}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def check(secret: bytes, export_id: str, expires: str | None, signature: str | None,
          now: datetime, previous: Sequence[bytes] = ()) -> None:
    """Signature first (compared in constant time), then expiry: an altered ``expires``
    is a bad signature, never a way to learn anything about the link. ``previous`` keys,
    being rotated out, still sign valid links until those expire."""
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
    if not expires or not signature or not (expires.isascii() and expires.isdigit()) \
            or len(expires) > 12:
        raise InvalidSignature("The link's signature is missing or malformed.")
    given = signature.encode("utf-8", "replace")  # compare_digest refuses non-ASCII str
    matches = [hmac.compare_digest(sign(key, export_id, int(expires)).encode(), given)
               for key in (secret, *previous)]  # every key tried: no timing tells which
    if not any(matches):
        raise InvalidSignature("The link's signature does not match.")
    if now.timestamp() >= int(expires):
        raise LinkExpired("The download link has expired; request a new one.")
