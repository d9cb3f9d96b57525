"""The embedded profile's generated keys (the checkpoint signing key, the links' HMAC key)
on a real filesystem: made once, owner-only, and the same for every thread and process
that starts at once - none may read a key file its creator has not finished writing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from adapters.security.secret_key import load_or_create_secret
from adapters.security.signing import load_or_create_seed


@pytest.mark.parametrize("load", [load_or_create_seed, load_or_create_secret],
                         ids=["signing key", "secret key"])
def test_concurrent_first_starts_agree_on_one_whole_key(
        tmp_path: Path, load: Callable[[Path], bytes]) -> None:
    for attempt in range(40):
        path = tmp_path / f"attempt{attempt}" / "key"
        keys = _first_starts(8, lambda path=path: load(path))
        assert len(set(keys)) == 1, keys  # one key, and no thread saw a partial file
        [key] = set(keys)
        assert isinstance(key, bytes) and len(key) >= 32
        assert path.stat().st_mode & 0o777 == 0o600
        assert [p.name for p in path.parent.iterdir()] == ["key"]  # nothing left behind


def _first_starts(count: int, load: Callable[[], bytes]) -> list[bytes | BaseException]:
    """What ``count`` threads released at once got from ``load``."""
    start = threading.Barrier(count)
    keys: list[bytes | BaseException] = []

    def first_start() -> None:
        start.wait()
        try:
            keys.append(load())
        except BaseException as exc:  # what each thread met is the result
            keys.append(exc)

    threads = [threading.Thread(target=first_start) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return keys


def test_an_empty_key_file_is_refused_not_used(tmp_path: Path) -> None:
    """A file cut short by a crash must not become an empty key anyone can sign with."""
    (tmp_path / "secret").write_text("")
    with pytest.raises(ValueError, match="is empty"):
        load_or_create_secret(tmp_path / "secret")
    (tmp_path / "signing").write_text("")
    with pytest.raises(ValueError, match="0 bytes"):
        load_or_create_seed(tmp_path / "signing")
