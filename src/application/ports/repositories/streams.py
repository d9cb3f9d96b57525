"""Log streams and their deliveries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from domain.cursor import Position
from domain.deliveries import Delivery
from domain.streams import Stream


@dataclass(frozen=True)
class StreamProgress:
    """How far one stream is behind its workspace's chain (for the metrics)."""

    stream_id: str
    workspace_id: str
    type: str
    status: str
    backlog: int
    """Linked events not yet delivered (counted in sequences: events the filter will pass
    over count too, until the stream has looked at them)."""
    oldest_undelivered_at: datetime | None
    """When the oldest of them was received (its ``received_at``)."""


class StreamRepository(Protocol):
    def add(self, stream: Stream) -> None: ...
    def get(self, workspace_id: str, stream_id: str) -> Stream | None: ...

    def lock(self, stream_id: str) -> Stream | None:
        """Read and hold until commit, by id alone: for the delivery job, which is given
        nothing else (every read it makes afterwards names the stream's workspace)."""
        ...

    def update(self, stream: Stream) -> None: ...

    def delete(self, workspace_id: str, stream_id: str) -> bool:
        """Remove the stream and its delivery log; False when there was none."""
        ...

    def page(self, workspace_id: str, order: str, after: Position | None,
             limit: int) -> list[Stream]: ...

    def count(self, workspace_id: str) -> int: ...

    def active_ids(self, workspace_id: str) -> list[str]:
        """The streams to wake when the workspace's chain grows."""
        ...

    def needing_delivery(self, now: datetime, limit: int) -> list[str]:
        """Streams with something to send, not paused, not waiting out a backoff and not
        leased: whatever their job became, they should have one (upkeep)."""
        ...

    def progress(self) -> list[StreamProgress]:
        """The backlog and delivery lag of every stream with events to deliver, or not
        active (paused, failing), in one read: a stream caught up has nothing to show, and
        a deployment may have a stream for each of thousands of workspaces."""
        ...


class DeliveryRepository(Protocol):
    def add(self, delivery: Delivery) -> None: ...
    def update(self, delivery: Delivery) -> None: ...

    def pending(self, stream_id: str) -> Delivery | None:
        """The stream's delivery in flight (there is at most one)."""
        ...

    def page(self, workspace_id: str, stream_id: str, order: str, after: Position | None,
             limit: int) -> list[Delivery]: ...

    def count(self, workspace_id: str, stream_id: str) -> int: ...

    def held_from(self, workspace_id: str) -> int | None:
        """The first sequence a pending delivery of the workspace still has to send:
        retention keeps it and what follows, so that a retry's body is the first one's."""
        ...

    def purge(self, finished_before: datetime, limit: int) -> int:
        """Delete up to ``limit`` finished deliveries created before ``finished_before``
        (the delivery log's retention); pending ones are never deleted."""
        ...
