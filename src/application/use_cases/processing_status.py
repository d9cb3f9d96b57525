"""What an operator watches: the pending backlog, how late processing is, queued jobs and
the workers taking them, how long processed events have waited for a signed checkpoint,
and how long exports have waited for a worker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from application.ports.jobs import JobQueue
from application.ports.system import Clock
from application.ports.unit_of_work import UnitOfWorkFactory


@dataclass(frozen=True)
class WorkspaceLag:
    workspace_id: str
    pending_events: int
    lag_seconds: float
    """Age of the workspace's oldest pending event."""


@dataclass(frozen=True)
class SigningLag:
    workspace_id: str
    unsigned_events: int
    lag_seconds: float
    """How long a checkpoint over them has been owed."""


@dataclass(frozen=True)
class ProcessingStatus:
    pending_events: int
    lag_seconds: float
    """Age of the oldest pending event: 0 when nothing waits."""
    queued_jobs: int
    behind: tuple[WorkspaceLag, ...] = ()
    """The workspaces waiting longest, that one first (when asked for)."""
    unsigned_events: int = 0
    """Processed events that no signed checkpoint covers yet."""
    checkpoint_lag_seconds: float = 0.0
    """How long the longest-waiting of them has waited for one: below the checkpoint
    cadence (and a second) while signing works; growing when it does not."""
    unsigned: tuple[SigningLag, ...] = ()
    """The workspaces waiting longest for a checkpoint, that one first (when asked for)."""
    workers: int | None = None
    """Worker processes listening on the queues (None: this process cannot tell)."""
    exports_queued: int = 0
    """Exports waiting for a worker."""
    export_wait_seconds: float = 0.0
    """How long the oldest of them has waited: exports take turns with linking, so this
    stays bounded while linking runs behind, and grows when no worker takes them."""


class GetProcessingStatus:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, queue: JobQueue) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._queue = queue

    def execute(self, workspaces: int = 0) -> ProcessingStatus:
        """The totals, and the ``workspaces`` furthest behind: a growing lag alone does not
        say whether one chain is stuck or every one is slow.

        Signing is watched beside processing because it fails on its own: a tree that no
        longer gives its last signed root is never signed over, and only an operator can
        say why it changed."""
        now = self._clock.now()
        with self._uow_factory(read_only=True) as uow:
            pending, oldest = uow.events.pending_backlog()
            backlog = uow.events.backlog_by_workspace(workspaces) if workspaces else []
            unsigned, owed_since = uow.checkpoints.unsigned_backlog(now)
            logs = uow.checkpoints.unsigned_by_workspace(now, workspaces) if workspaces \
                else []
            exports, asked_since = uow.exports.queued_backlog()
        behind = tuple(WorkspaceLag(b.workspace_id, b.pending_events,
                                    _age(now, b.oldest_received_at)) for b in backlog)
        waiting = tuple(SigningLag(log.workspace_id, log.unsigned_events,
                                   _age(now, log.waiting_since)) for log in logs)
        return ProcessingStatus(pending, _age(now, oldest), self._queue.depth(), behind,
                                unsigned, _age(now, owed_since), waiting,
                                self._queue.workers(), exports, _age(now, asked_since))


def _age(now: datetime, since: datetime | None) -> float:
    return max(0.0, (now - since).total_seconds()) if since is not None else 0.0
