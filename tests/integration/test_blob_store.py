"""The export files' store on the real file system: a folder its last file leaves goes
too, and a writer whose folder went meanwhile makes it again."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from adapters.files import blob_store
from adapters.files.blob_store import FolderBlobStore
from adapters.private_files import private_folder


def write(store: FolderBlobStore, key: str, data: bytes = b"rows") -> None:
    with store.writer(key) as handle:
        handle.write(data)


def test_the_last_file_of_a_folder_takes_the_folder_with_it(tmp_path: Path) -> None:
    root = tmp_path / "exports"
    store = FolderBlobStore(root)
    write(store, "ws_1/exp_1.ndjson")
    write(store, "ws_1/exp_2.ndjson")
    write(store, "ws_2/exp_3.csv")
    store.delete("ws_1/exp_1.ndjson")
    assert (root / "ws_1").is_dir()  # exp_2 is still there
    store.delete("ws_1/exp_2.ndjson")
    store.delete("ws_1/exp_2.ndjson")  # twice: nothing to do, no error
    assert not (root / "ws_1").exists()
    assert root.is_dir() and (root / "ws_2" / "exp_3.csv").read_bytes() == b"rows"
    store.delete("ws_2/exp_3.csv")
    assert root.is_dir() and list(root.iterdir()) == []  # the store's own folder stays


def test_a_writer_whose_folder_a_delete_removed_makes_it_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "exports"
    store = FolderBlobStore(root)
    write(store, "ws_1/exp_1.ndjson")
    real = blob_store.exclusive_private_file
    calls = []

    def after_a_delete(path: Path) -> int:
        """The first time, a delete empties and removes the folder between its making and
        the file's, as a race would have it."""
        calls.append(path)
        if len(calls) == 1:
            private_folder(path.parent)
            store.delete("ws_1/exp_1.ndjson")
            assert not (root / "ws_1").exists()
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # raises
        return real(path)

    monkeypatch.setattr(blob_store, "exclusive_private_file", after_a_delete)
    write(store, "ws_1/exp_2.ndjson", b"new rows")
    assert (root / "ws_1" / "exp_2.ndjson").read_bytes() == b"new rows"
    assert len(calls) == 2
