"""Recording changes to a workspace in its own log, in the transaction that makes them.

A change and its record commit together or not at all: a record written afterwards could
be lost to a crash between the two, and a record written before could describe a change
that never happened. The record is stored pending like any accepted event and linked into
the chain by the workers, so it reaches alert rules and log streams as events do.
"""

from __future__ import annotations

from application.ports.jobs import JobQueue
from application.ports.system import Clock, IdGenerator
from application.ports.unit_of_work import UnitOfWork
from domain.activity import Actor, Change, activity_body
from domain.events import new_event
from domain.workspaces import Workspace


class ActivityLog:
    def __init__(self, clock: Clock, ids: IdGenerator, queue: JobQueue) -> None:
        self._clock = clock
        self._ids = ids
        self._queue = queue

    def record(self, uow: UnitOfWork, workspace_id: str, actor: Actor | None, change: Change,
               *, workspace: Workspace | None = None) -> bool:
        """Add the record of ``change`` to ``uow`` if the workspace records its activity.

        ``workspace``: its settings when the caller holds them (read otherwise; a change
        of the setting itself passes whichever side has it on, so that turning recording
        off is the last record). ``actor`` None: an internal change, not recorded.
        Returns whether a record was added: the caller then calls ``wake`` after its commit.
        """
        if actor is None:
            return False
        settings = workspace or uow.workspaces.get(workspace_id)
        if settings is None or not settings.record_activity:
            return False
        uow.events.add_many([new_event(activity_body(change, actor),
                                       event_id=self._ids.new("evt"),
                                       workspace_id=workspace_id,
                                       received_at=self._clock.now(), own=True)])
        return True

    def wake(self, workspace_id: str) -> None:
        """Ask for the committed record to be linked now rather than at the next upkeep."""
        self._queue.enqueue_processing([workspace_id])
