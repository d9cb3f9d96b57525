"""The export lifecycle: ``queued → running → completed | failed``, then ``expired``.

Every transition and the answer to "may this file be downloaded now?" are decided here;
the HTTP layer only maps the outcome to 302/409/410.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from domain.errors import DomainError

QUEUED = "queued"
RUNNING = "running"
COMPLETED = "completed"
FAILED = "failed"
EXPIRED = "expired"

NDJSON = "ndjson"
CSV = "csv"
FORMATS = (NDJSON, CSV)
MAX_ATTEMPTS = 3
MAX_ACTIVE_PER_WORKSPACE = 5
"""Exports queued or running at once for one workspace: each can hold a worker for
minutes, and without a bound one tenant could keep every worker busy with its own."""
MAX_ACTIVE_PER_VIEWER_LINK = 1
"""Of those, through one viewer link: a link handed to someone else must not take the
workspace's own export capacity."""
ACTIVE = (QUEUED, RUNNING)


class InvalidTransition(DomainError):
    """The export is not in a state that allows this step."""


class ExportNotReady(DomainError):
    """Queued or running: there is no file yet (409 ``export_not_ready``)."""


class ExportFailed(DomainError):
    """The job failed; the export's ``error`` says why (409 ``export_failed``)."""


class ExportExpired(DomainError):
    """The file's life is over and it was deleted (410 ``export_expired``)."""


@dataclass(frozen=True)
class WrittenRows:
    """How many rows went into a file, and the chain positions of its first and last
    (None when it holds none): what its evidence proves."""

    count: int
    first_sequence: int | None = None
    last_sequence: int | None = None


@dataclass(frozen=True)
class ExportFile:
    """What the worker measured while writing the file."""

    row_count: int
    size_bytes: int
    sha256: str
    first_sequence: int | None = None
    """The chain positions of its first and last rows (None when it holds none): what its
    evidence proves."""
    last_sequence: int | None = None


@dataclass(frozen=True)
class Export:
    id: str
    workspace_id: str
    format: str
    created_at: datetime
    filters: dict[str, Any] = field(default_factory=dict)
    gzip: bool = False
    status: str = QUEUED
    started_at: datetime | None = None
    completed_at: datetime | None = None
    expires_at: datetime | None = None
    row_count: int | None = None
    size_bytes: int | None = None
    sha256: str | None = None
    error: str | None = None
    attempts: int = 0
    heartbeat_at: datetime | None = None
    first_sequence: int | None = None
    last_sequence: int | None = None
    viewer_link_id: str | None = None
    """The viewer link whose reader asked for it (None: an API key): that reader lists,
    reads and downloads only the exports it asked for."""

    @property
    def file_name(self) -> str:
        return f"{self.id}.{self.format}" + (".gz" if self.gzip else "")

    @property
    def blob_key(self) -> str:
        return f"{self.workspace_id}/{self.file_name}"

    def start(self, now: datetime) -> Export:
        if self.status != QUEUED:
            raise InvalidTransition(f"cannot start an export that is {self.status}")
        return replace(self, status=RUNNING, started_at=now, heartbeat_at=now,
                       attempts=self.attempts + 1)

    def beat(self, now: datetime) -> Export:
        """The worker is alive; upkeep retries only exports whose heart stopped."""
        return replace(self, heartbeat_at=now)

    def complete(self, now: datetime, written: ExportFile, lifetime: timedelta) -> Export:
        if self.status != RUNNING:
            raise InvalidTransition(f"cannot complete an export that is {self.status}")
        return replace(self, status=COMPLETED, completed_at=now, expires_at=now + lifetime,
                       row_count=written.row_count, size_bytes=written.size_bytes,
                       sha256=written.sha256, error=None,
                       first_sequence=written.first_sequence,
                       last_sequence=written.last_sequence)

    def fail(self, now: datetime, error: str) -> Export:
        if self.status not in (QUEUED, RUNNING):
            raise InvalidTransition(f"cannot fail an export that is {self.status}")
        return replace(self, status=FAILED, completed_at=now, error=error)

    def interrupted(self, now: datetime) -> Export:
        """A running export whose worker vanished: queue it again, or give up after
        ``MAX_ATTEMPTS`` so a file that kills workers cannot loop forever."""
        if self.status != RUNNING:
            raise InvalidTransition(f"cannot retry an export that is {self.status}")
        if self.attempts >= MAX_ATTEMPTS:
            return self.fail(now, f"the export was interrupted {self.attempts} times")
        return replace(self, status=QUEUED, started_at=None, heartbeat_at=None)

    def is_due_to_expire(self, now: datetime) -> bool:
        return self.status == COMPLETED and self.expires_at is not None \
            and self.expires_at <= now

    def expire(self) -> Export:
        if self.status != COMPLETED:
            raise InvalidTransition(f"cannot expire an export that is {self.status}")
        return replace(self, status=EXPIRED)

    def check_downloadable(self, now: datetime) -> None:
        """Raise why the file cannot be had now; return quietly when it can."""
        if self.status in (QUEUED, RUNNING):
            raise ExportNotReady(f"The export is {self.status}; try again shortly.")
        if self.status == FAILED:
            raise ExportFailed(f"The export failed: {self.error}")
        if self.status == EXPIRED or self.is_due_to_expire(now):
            raise ExportExpired("The export has expired and its file was deleted.")
