"""The HMAC key for signed links: given by the operator, or generated once (embedded)."""

from __future__ import annotations

import secrets
from pathlib import Path

from adapters.private_files import written_once


def load_or_create_secret(path: Path) -> bytes:
    """Read the key file, or create it with 32 random bytes readable by the owner only;
    concurrent first starts agree on one key. An empty file (cut short by a crash of an
    earlier release) is refused: an empty key would sign links anyone can forge."""
    secret = written_once(path, secrets.token_urlsafe(32)).strip().encode()
    if not secret:
        raise ValueError(f"{path} is empty: remove it to have a new key made")
    return secret
