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
CREATE_ATTEMPTS = 3


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
            with os.fdopen(self._create(partial), "wb") as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, final)
        finally:
            partial.unlink(missing_ok=True)

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    @staticmethod
    def _create(partial: Path) -> int:
        """The temporary, in a folder made again if a delete emptied and removed it
        between its making and the file's (see ``_prune``)."""
        for _ in range(CREATE_ATTEMPTS - 1):
            try:
                return exclusive_private_file(partial)
            except FileNotFoundError:
                continue
        return exclusive_private_file(partial)

    def delete(self, key: str) -> None:
        path = self._path(key)
        path.unlink(missing_ok=True)
        self._prune(path.parent)

    def _prune(self, folder: Path) -> None:
        """The folders a delete left empty go too (a workspace's, once its exports expired
        or the workspace was deleted): thousands of empty folders are no one's data. One a
        writer is filling is not empty, and a writer that finds its folder gone makes it
        again."""
        root = self._root.resolve()
        while folder != root and root in folder.parents:
            try:
                folder.rmdir()
            except OSError:  # not empty, or already gone
                return
            folder = folder.parent

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
