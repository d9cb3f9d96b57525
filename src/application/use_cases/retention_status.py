"""Whether retention keeps its promise: how long past its workspace's period the oldest
event still stored is, and what keeps it.

Retention removes a prefix of each chain, and a log stream's delivery or an alert's
notification in flight holds every event from its first on: a receiver that fails for a
month keeps a month of events past their period, which is personal data kept longer than
the workspace said. Nothing else would show it; the operator decides whether to fix the
receiver, or to remove the stream or rule (and with it the hold).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from application.ports.system import Clock
from application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from application.use_cases.apply_retention import holds


@dataclass(frozen=True)
class RetentionLag:
    workspace_id: str
    overdue_seconds: float
    """How long ago the oldest event it still stores should have been removed."""
    retention_days: int
    held_by: tuple[str, ...]
    """What keeps that event (``apply_retention.HOLDS``); none: retention has not reached
    it yet (it runs every few seconds in each worker, a bounded number of chunks a run)."""


@dataclass(frozen=True)
class RetentionStatus:
    overdue_seconds: float
    """The longest any workspace has kept an event past its period; 0 when none has."""
    overdue_workspaces: int
    overdue: tuple[RetentionLag, ...] = ()
    """The workspaces furthest past their period, that one first (when asked for)."""


class GetRetentionStatus:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow_factory = uow_factory
        self._clock = clock

    def execute(self, workspaces: int = 0) -> RetentionStatus:
        """Two queries whatever the number of workspaces (those retention itself runs by),
        and what holds each of the ``workspaces`` listed."""
        now = self._clock.now()
        with self._uow_factory(read_only=True) as uow:
            periods = uow.workspaces.retention_periods()
            oldest = uow.events.oldest_retained()
            late = sorted(((now - timedelta(days=periods[workspace_id]) - first)
                           .total_seconds(), workspace_id)
                          for workspace_id, first in oldest.items()
                          if workspace_id in periods)
            late = [(seconds, workspace_id) for seconds, workspace_id in reversed(late)
                    if seconds > 0]
            listed = tuple(
                RetentionLag(workspace_id, seconds, periods[workspace_id],
                             self._held_by(uow, workspace_id))
                for seconds, workspace_id in late[:workspaces])
        return RetentionStatus(late[0][0] if late else 0.0, len(late), listed)

    @staticmethod
    def _held_by(uow: UnitOfWork, workspace_id: str) -> tuple[str, ...]:
        """The holds on the next event retention would remove, the one after its anchor."""
        next_sequence = uow.chains.anchor(workspace_id).sequence + 1
        return tuple(sorted(hold for hold, sequence in holds(uow, workspace_id).items()
                            if sequence <= next_sequence))
