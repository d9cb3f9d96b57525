"""An emitter's events kept on disk until the server has them: ``emitter(spool=FOLDER)``.

Without a spool, a process killed outright (a deploy's SIGKILL, the OOM killer) loses the
events its emitter still held in memory. With one, ``emit`` returns once the event is
committed to an SQLite file in FOLDER, a batch is written down with its Idempotency-Key
before it is first sent, and its events are removed once the server has answered.

FOLDER holds slots: an SQLite file and a lock file beside it. Each emitter holds one slot,
locked (``flock``) for as long as it is open, so processes sharing FOLDER - the workers of
one application server - never write to the same file. A slot whose process died is
unlocked: the next emitter opening FOLDER takes it, and moves what any other unlocked
slot holds into it (a restart with fewer processes than before leaves none behind). It
sends each batch that was under way again under its own key, so the server stores it
once (its idempotency records last 24 hours), then the events no batch had taken yet.

SQLite commits with ``synchronous=NORMAL`` in WAL mode: what ``emit`` accepted survives
the process being killed, not the machine losing power before the next checkpoint. With
``fsync`` (the emitter's ``spool_fsync=True``), ``synchronous=FULL``: each commit reaches
the disk before ``emit`` returns (about 0.25 ms a commit on this project's test machine,
shared by the threads emitting at once, against 0.02 ms).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Union

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

PathLike = Union[str, "os.PathLike[str]"]
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_SCHEMA = """CREATE TABLE IF NOT EXISTS events (
    row INTEGER PRIMARY KEY,
    body BLOB NOT NULL,
    batch TEXT
)"""


@dataclass(frozen=True)
class Spooled:
    """An event found in a slot: its row, its JSON body, and the key of the batch that
    was sending it (None: no batch had taken it yet)."""

    row: int
    body: bytes
    batch: str | None


class _Waiting:
    """An event on its way into the spool, and what became of it."""

    __slots__ = ("body", "error", "row")

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.row: int | None = None
        self.error: Exception | None = None


class Spool:
    """One slot of a spool folder, held until ``close``. Thread-safe."""

    def __init__(self, folder: PathLike, max_batch: int = 1000,
                 max_bytes: int = 4 * 1024 * 1024, fsync: bool = False) -> None:
        """``max_batch`` and ``max_bytes``: the emitter's limits, for the batches made of
        events adopted from other slots."""
        if fcntl is None:
            raise RuntimeError("a spool needs POSIX file locks (fcntl), which this "
                               "platform lacks")
        self.folder = Path(folder)
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._closed = False
        self._fd, self.path = self._take_a_slot()
        # Owner-only before SQLite opens it (its -wal and -shm files take its mode): the
        # events may name people.
        os.close(os.open(str(self.path), os.O_RDWR | os.O_CREAT, 0o600))
        self._db = sqlite3.connect(str(self.path), check_same_thread=False,
                                   isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
        self._db.execute(_SCHEMA)
        self._next_row = 1 + self._db.execute("SELECT coalesce(max(row), 0) FROM events"
                                              ).fetchone()[0]
        self._arrivals = threading.Lock()
        self._waiting: list[_Waiting] = []
        self._max_batch, self._max_bytes = max_batch, max_bytes
        self._adopt_orphans()

    def _take_a_slot(self) -> tuple[int, Path]:
        """The first slot no live emitter holds: one a dead process left, or a new one."""
        number = 0
        while True:
            lock = self.folder / f"slot-{number}.lock"
            fd = os.open(str(lock), os.O_RDWR | os.O_CREAT | _CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                number += 1
                continue
            return fd, self.folder / f"slot-{number}.sqlite3"

    def _adopt_orphans(self) -> None:
        """Move into this slot what the other unlocked ones hold: slots whose processes
        died, which no emitter would otherwise take while as many live ones as before
        hold the others."""
        for lock in sorted(self.folder.glob("slot-*.lock")):
            database = lock.with_suffix(".sqlite3")
            if database == self.path or not database.exists():
                continue
            fd = os.open(str(lock), os.O_RDWR | _CLOEXEC)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    continue  # a live emitter's
                if database.exists():  # not closed empty (and removed) meanwhile
                    self._adopt(database)
            finally:
                os.close(fd)

    def _adopt(self, database: Path) -> None:
        """Its events first all go into batches under keys written down there: should this
        process die before the file is gone, the next adopter sends them again under the
        same keys, and the server stores each once."""
        orphan = sqlite3.connect(str(database), isolation_level=None)
        try:
            loose = orphan.execute("SELECT row, length(body) FROM events "
                                   "WHERE batch IS NULL ORDER BY row").fetchall()
            orphan.execute("BEGIN")
            orphan.executemany("UPDATE events SET batch = ? WHERE row = ?", [
                (key, row) for key, rows in self._batches(loose) for row in rows])
            orphan.execute("COMMIT")
            held = orphan.execute("SELECT body, batch FROM events ORDER BY row").fetchall()
        finally:
            orphan.close()
        rows = range(self._next_row, self._next_row + len(held))
        self._db.execute("BEGIN")
        self._db.executemany("INSERT INTO events (row, body, batch) VALUES (?, ?, ?)",
                             [(row, body, batch) for row, (body, batch) in zip(rows, held)])
        self._db.execute("COMMIT")
        self._next_row += len(held)
        for suffix in ("", "-wal", "-shm"):
            Path(str(database) + suffix).unlink(missing_ok=True)

    def _batches(self, loose: list[tuple[int, int]]) -> list[tuple[str, list[int]]]:
        """Rows (with their bodies' sizes) cut into batches within the emitter's limits."""
        batches: list[tuple[str, list[int]]] = []
        size = 0
        for row, length in loose:
            if not batches or len(batches[-1][1]) >= self._max_batch or \
                    size + length + 1 > self._max_bytes:
                batches.append((f"auditrail-emitter-{uuid.uuid4()}", []))
                size = 0
            batches[-1][1].append(row)
            size += length + 1
        return batches

    @property
    def durable(self) -> bool:
        """Whether each commit is on the disk (not only handed to the operating system)."""
        with self._lock:
            return self._db.execute("PRAGMA synchronous").fetchone()[0] >= 2

    def held(self) -> list[Spooled]:
        """What the slot holds, in the order it was emitted."""
        with self._lock:
            rows = self._db.execute("SELECT row, body, batch FROM events ORDER BY row")
            return [Spooled(row, bytes(body), batch) for row, body, batch in rows]

    def add(self, body: bytes) -> int:
        """Commit one event; its row. Threads adding at once share commits: whoever takes
        the lock writes every event waiting by then in one transaction (eight threads
        each committing their own waited on one another's disk writes: p99 13 ms)."""
        waiting = _Waiting(body)
        with self._arrivals:
            self._waiting.append(waiting)
        with self._lock:
            if waiting.row is None and waiting.error is None:
                with self._arrivals:
                    taken, self._waiting = self._waiting, []
                self._commit(taken)
        if waiting.error is not None:
            raise waiting.error
        return waiting.row  # type: ignore[return-value]

    def _commit(self, taken: list[_Waiting]) -> None:
        """Under the lock: one transaction for every event taken."""
        try:
            if self._closed:
                raise RuntimeError("the spool is closed")
            rows = range(self._next_row, self._next_row + len(taken))
            self._db.execute("BEGIN")
            try:
                self._db.executemany("INSERT INTO events (row, body) VALUES (?, ?)",
                                     [(row, each.body) for row, each in zip(rows, taken)])
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except Exception as exc:
            for each in taken:
                each.error = exc
            return
        self._next_row += len(taken)
        for row, each in zip(rows, taken):
            each.row = row

    def batched(self, rows: list[int], key: str) -> None:
        """Write down which batch sends these events, before it is first sent."""
        self._execute_many("UPDATE events SET batch = ? WHERE row = ?",
                           [(key, row) for row in rows])

    def remove(self, rows: list[int]) -> None:
        """The server has them (or refused them, and the caller was told)."""
        self._execute_many("DELETE FROM events WHERE row = ?", [(row,) for row in rows])

    def _execute_many(self, statement: str, values: list[tuple[object, ...]]) -> None:
        with self._lock:
            if self._closed or not values:
                return  # a sender outliving close: the next holder sends them again
            self._db.execute("BEGIN")
            try:
                self._db.executemany(statement, values)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        """Let the slot go; an empty one leaves no file behind."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            empty = self._db.execute("SELECT NOT EXISTS (SELECT 1 FROM events)").fetchone()[0]
            self._db.close()
            if empty:
                for suffix in ("", "-wal", "-shm"):
                    Path(str(self.path) + suffix).unlink(missing_ok=True)
            os.close(self._fd)

    def forsake(self) -> None:
        """In a forked child: leave the parent's slot to the parent, touching neither its
        database (closing it here could disturb the parent's) nor its lock (the parent's
        too, through the inherited descriptor, until the parent lets it go). No lock is
        taken: one a parent's thread held at the fork stays held in the child forever."""
        self._closed = True
        _forsaken.append(self._db)
        os.close(self._fd)


_forsaken: list[sqlite3.Connection] = []
"""Connections a forked child inherited: kept referenced so that no garbage collection
closes them under the parent."""
