"""Exact event counts that stay cheap when the same question is asked again.

An auditor paging through a filtered result asks for its ``total_count`` on every page,
and a broad filter over millions of events costs one long index scan each time. Processed
events never change and only ever join the end of the chain, so a count of the processed
events matching a filter, taken at chain head ``h``, stays true for sequences ``1..h``
forever: later asks add only the events linked since ``h`` (a short range of the chain
index) and the pending ones (the small pending index). The first ask per process pays the
full scan; the others are incremental. Still exact: nothing is estimated.
"""

from __future__ import annotations

import threading
from dataclasses import replace

from cachetools import LRUCache

from application.ports.unit_of_work import UnitOfWork
from domain.event_search import EventFilters
from domain.events import PENDING, PROCESSED


class EventCounter:
    def __init__(self, max_entries: int = 10_000) -> None:
        self._known: LRUCache[tuple[str, EventFilters, int], tuple[int, int]] = \
            LRUCache(max_entries)
        self._lock = threading.Lock()

    def count(self, uow: UnitOfWork, workspace_id: str, filters: EventFilters) -> int:
        """Events matching ``filters``, read in the caller's snapshot."""
        pending = 0
        if filters.status in (None, PENDING):
            pending = uow.events.count_narrow(workspace_id, replace(filters, status=PENDING))
        if filters.status == PENDING:
            return pending
        chain = uow.chains.retained(workspace_id)
        if filters.only("status"):
            return chain.linked + pending
        return self._processed(uow, workspace_id, replace(filters, status=None),
                               chain.head.sequence, chain.anchor.sequence) + pending

    def totals(self, uow: UnitOfWork, workspace_id: str) -> tuple[int, int]:
        """All events and the pending ones (``GET /usage``): one pending count serves both."""
        pending = self.count(uow, workspace_id, EventFilters(status=PENDING))
        return uow.chains.retained(workspace_id).linked + pending, pending

    def _processed(self, uow: UnitOfWork, workspace_id: str, filters: EventFilters,
                   head: int, anchor: int) -> int:
        key = (workspace_id, filters, anchor)  # retention moving the anchor starts afresh
        with self._lock:
            known = self._known.get(key)
        if known is not None and known[0] <= head:
            upto, counted = known
            counted += uow.events.count_narrow(workspace_id, replace(filters, status=PROCESSED),
                                               after_sequence=upto) if upto < head else 0
        else:
            # All matches minus the pending ones: the filter's index answers the first alone
            # (status is in no index but the pending one), the pending slice is small.
            counted = uow.events.count(workspace_id, filters) - uow.events.count_narrow(
                workspace_id, replace(filters, status=PENDING))
        self._remember(key, head, counted)
        return counted

    def _remember(self, key: tuple[str, EventFilters, int], head: int, counted: int) -> None:
        with self._lock:
            self._known[key] = (head, counted)
