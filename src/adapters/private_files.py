"""Files and folders only their owner can read: the data directory holds every tenant's
events, the keys and the exports, so nothing in it is created readable by other local
users, whatever the process's umask."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def private_folder(path: Path) -> Path:
    """Create ``path`` and its missing parents owner-only. Folders that already exist are
    left as they are: they may be the operator's (``/var/lib``), not ours to change."""
    missing = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=FOLDER_MODE)
        except FileExistsError:  # made by a concurrent first start
            continue
        os.chmod(folder, FOLDER_MODE)  # mkdir's mode is narrowed by the umask, not set
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty if it is absent, and make it owner-only either way (a file of
    an earlier release may have been created readable by all)."""
    private_folder(path.parent)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    os.close(descriptor)
    os.chmod(path, FILE_MODE)
    return path


def exclusive_private_file(path: Path) -> int:
    """Create ``path`` owner-only, failing with ``FileExistsError`` if it exists; the open
    descriptor is returned for writing."""
    private_folder(path.parent)
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)


def written_once(path: Path, content: str) -> str:
    """What ``path`` holds: ``content``, written owner-only if the file is absent, else what
    an earlier (or concurrent) first start wrote there.

    Concurrent first starts agree on one content, and none reads a file half written: the
    content is written under a temporary name, then linked into place, which fails if
    another got there first. (Creating ``path`` itself with ``O_EXCL`` and writing it left
    a moment in which the losers read it empty: an empty link key, an unusable signing
    key.)"""
    private_folder(path.parent)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE),
                   "w") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
    return path.read_text()
