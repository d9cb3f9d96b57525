"""Counters the use cases report to; the adapter decides where they go (Prometheus)."""

from __future__ import annotations

from typing import Protocol

WORKSPACE_LIMIT = "workspace"
AUTH_FAILURES_LIMIT = "auth_failures"
RATE_LIMITS = (WORKSPACE_LIMIT, AUTH_FAILURES_LIMIT)
"""The limits a refused request is counted under (``Metrics.rate_limited``)."""


class Metrics(Protocol):
    def events_accepted(self, count: int) -> None: ...
    def events_receipted(self, count: int) -> None: ...
    def events_processed(self, count: int) -> None: ...
    def export_finished(self, status: str) -> None: ...
    def rate_limited(self, kind: str) -> None: ...
    def limiter_failed_open(self) -> None: ...
    def geo_data_corrupt(self) -> None: ...
    def delivery_attempted(self, stream_type: str, outcome: str, events: int) -> None: ...
    def alerts_triggered(self, count: int) -> None: ...
    def cosignature_requested(self, outcome: str) -> None: ...
    def chain_check_requested(self, outcome: str) -> None: ...


class NoMetrics:
    """For use cases built without a metrics adapter (unit tests, one-off scripts)."""

    def events_accepted(self, count: int) -> None:
        pass

    def events_receipted(self, count: int) -> None:
        pass

    def events_processed(self, count: int) -> None:
        pass

    def export_finished(self, status: str) -> None:
        pass

    def rate_limited(self, kind: str) -> None:
        pass

    def limiter_failed_open(self) -> None:
        pass

    def geo_data_corrupt(self) -> None:
        pass

    def delivery_attempted(self, stream_type: str, outcome: str, events: int) -> None:
        pass

    def alerts_triggered(self, count: int) -> None:
        pass

    def cosignature_requested(self, outcome: str) -> None:
        pass

    def chain_check_requested(self, outcome: str) -> None:
        pass


NO_METRICS = NoMetrics()
