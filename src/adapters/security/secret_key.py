"""The HMAC key for signed links: given by the operator, or generated once (embedded)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from adapters.private_files import exclusive_private_file


def load_or_create_secret(path: Path) -> bytes:
    """Read the key file, or create it with 32 random bytes readable by the owner only.

    ``O_EXCL`` makes concurrent first starts agree on one key: the loser reads the winner's.
    """
    try:
        descriptor = exclusive_private_file(path)
    except FileExistsError:
        return path.read_text().strip().encode()
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_urlsafe(32))
    return path.read_text().strip().encode()
