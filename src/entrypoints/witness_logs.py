"""The logs a witness follows: the keys given on its command line, and those of a file it
reads again whenever the file changes, so that following one more log is a line added,
not a restart."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from application.witness import logs_by_origin
from domain.signed_notes import InvalidNote, VerifierKey, parse_verifier_key

log = logging.getLogger("auditrail.witness")


class UnreadableLogsFile(Exception):
    """The file cannot be read, or a line is not a log's verifier key (named)."""


def read_keys(path: Path) -> list[VerifierKey]:
    """A verifier key a line; blank lines and lines starting with ``#`` are passed over."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeError) as exc:
        raise UnreadableLogsFile(f"{path}: {exc}") from None
    keys = []
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            keys.append(parse_verifier_key(text))
        except InvalidNote as exc:
            raise UnreadableLogsFile(f"{path}, line {number}: {exc}") from None
    return keys


class WitnessLogs(Mapping[str, Sequence[VerifierKey]]):
    """Each origin's trusted keys. The file is looked at (one ``stat``) on each lookup and
    read again when its modification time or size changed; a file that then cannot be
    read, or holds a line that is not a key, leaves the keys as they were and is logged,
    so that a half-written edit never stops the witness cosigning for the logs it had."""

    def __init__(self, fixed: Iterable[VerifierKey], path: Path | None = None) -> None:
        self._fixed = list(fixed)
        self._path = path
        self._lock = threading.Lock()
        self._seen: tuple[int, int] | None = None
        self._logs = logs_by_origin(self._fixed)
        if path is not None:
            self._logs = logs_by_origin([*self._fixed, *read_keys(path)])
            self._seen = _version(path)

    def __getitem__(self, origin: str) -> Sequence[VerifierKey]:
        return self._current()[origin]

    def __iter__(self) -> Iterator[str]:
        return iter(self._current())

    def __len__(self) -> int:
        return len(self._current())

    def _current(self) -> dict[str, list[VerifierKey]]:
        if self._path is None:
            return self._logs
        with self._lock:
            version = _version(self._path)
            if version != self._seen:
                self._seen = version
                try:
                    self._logs = logs_by_origin([*self._fixed, *read_keys(self._path)])
                    log.info("following %d log(s) from %s", len(self._logs), self._path)
                except UnreadableLogsFile as exc:
                    log.error("not reloading the logs to follow: %s; following the %d "
                              "log(s) read before", exc, len(self._logs))
            return self._logs


def _version(path: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size
