"""The embedded data directory is its owner's alone: every tenant's events, the keys and
the exports live there, so other local users can read nothing in it, whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.stacks import bearer, embedded_stack


@pytest.fixture
def lax_umask() -> Iterator[None]:
    previous = os.umask(0o022)  # what most shells have: files 0644, folders 0755
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_data_files_are_0600_and_folders_0700(tmp_path: Path, lax_umask: None) -> None:
    data = tmp_path / "deep" / "var"
    stack = embedded_stack(data, from_nothing=True)
    try:
        _, secret = stack.new_workspace()
        stack.client.post("/api/v1/events", headers=bearer(secret), json={
            "action": "user.login", "actor": {"id": "u", "type": "user"}})
        stack.drain()
        export = stack.client.post("/api/v1/exports", headers=bearer(secret),
                                   json={"format": "csv"}).json
        stack.drain()
        assert stack.client.get(f"/api/v1/exports/{export['id']}",
                                headers=bearer(secret)).json["status"] == "completed"
        files = [p for p in data.rglob("*") if p.is_file()]
        folders = [data, data.parent, *(p for p in data.rglob("*") if p.is_dir())]
        names = {p.name for p in files}
        assert {"auditrail.db", "auditrail.db-wal", "auditrail.db-shm", "signing_key",
                f"{export['id']}.csv"} <= names, names
        assert {p.name: oct(mode(p)) for p in files} == {p.name: "0o600" for p in files}
        assert {str(p): oct(mode(p)) for p in folders} == {str(p): "0o700" for p in folders}
    finally:
        stack.close()


def test_an_earlier_releases_readable_database_is_made_private(tmp_path: Path,
                                                               lax_umask: None) -> None:
    data = tmp_path / "var"
    embedded_stack(data).close()
    for name in ("auditrail.db", "auditrail.db-wal"):
        (data / name).touch()
        os.chmod(data / name, 0o644)
    stack = embedded_stack(data)
    try:
        assert mode(data / "auditrail.db") == 0o600
        assert mode(data / "auditrail.db-wal") == 0o600
    finally:
        stack.close()
