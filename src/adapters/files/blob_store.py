"""``BlobStore`` on the local file system: write to a hidden temporary, then rename."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from adapters.private_files import exclusive_private_file, private_folder

_PARTIAL = ".partial-"


class FolderBlobStore:
    """Blobs under one folder. The rename is atomic on one file system, so a reader never
    sees half a file, and a writer killed mid-way leaves only a ``.partial-*`` file that
    ``sweep_partials`` removes."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def _path(self, key: str) -> Path:
        path = (self._root / key).resolve()
        if self._root.resolve() not in path.parents:
            raise ValueError("blob key escapes the store")
        return path

    @contextmanager
    def writer(self, key: str) -> Iterator[BinaryIO]:
        final = self._path(key)
        private_folder(final.parent)
        # A writer killed earlier for the same key left its temporary behind; only one
        # writer per key runs at a time, so whatever is there now is dead.
        for leftover in final.parent.glob(f"{_PARTIAL}*-{final.name}"):
            leftover.unlink(missing_ok=True)
        partial = final.with_name(f"{_PARTIAL}{uuid.uuid4().hex}-{final.name}")
        try:
            with os.fdopen(exclusive_private_file(partial), "wb") as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, final)
        finally:
            partial.unlink(missing_ok=True)

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def sweep_partials(self, older_than_seconds: float) -> int:
        if not self._root.exists():
            return 0
        cutoff = time.time() - older_than_seconds
        removed = 0
        for path in self._root.rglob(f"{_PARTIAL}*"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed
