"""Idempotency keys: a retried request gets the original answer and stores nothing new."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

KEY_LIFETIME = timedelta(hours=24)
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")


def is_valid_key(key: str) -> bool:
    """1-255 visible ASCII characters (a UUID, a ULID, or the client's own request id)."""
    return bool(KEY_PATTERN.fullmatch(key))


def fingerprint(operation: str, payload: Any) -> str:
    """What a key is bound to: the operation and its body, independent of key order."""
    text = json.dumps([operation, payload], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class IdempotencyRecord:
    """The outcome remembered under a key: which request made it, and the ids it returned."""

    workspace_id: str
    key: str
    fingerprint: str
    event_ids: tuple[str, ...]
    created_at: datetime

    def is_live(self, now: datetime) -> bool:
        return now - self.created_at < KEY_LIFETIME

    def replays(self, request_fingerprint: str) -> bool:
        return self.fingerprint == request_fingerprint
