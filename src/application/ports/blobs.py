"""Where export files live: a port, so a bucket can replace the local folder."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import BinaryIO, Protocol


class BlobStore(Protocol):
    def writer(self, key: str) -> AbstractContextManager[BinaryIO]:
        """Write a blob atomically: it appears under ``key`` only when the block exits
        cleanly; on an exception (or a crash) no partial blob is left under ``key``."""
        ...

    def open(self, key: str) -> BinaryIO:
        """Read a blob; ``FileNotFoundError`` when there is none."""
        ...

    def delete(self, key: str) -> None:
        """Remove a blob; a missing one is not an error."""
        ...

    def sweep_partials(self, older_than_seconds: float) -> int:
        """Remove leftovers of writers that died mid-write; return how many."""
        ...
