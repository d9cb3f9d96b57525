"""``GET /metrics``: Prometheus text, correct under a multi-process server.

Counters live in prometheus-client; with ``PROMETHEUS_MULTIPROC_DIR`` set (``serve`` does
so when it runs several processes) each process writes its own files and a scrape merges
them. Backlogs, lags and queue depth are read from the database and the queue at scrape
time, so they are the same whichever process answers.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from application.use_cases.check_chains import GetChainHealth
from application.use_cases.delivery_status import GetDeliveryStatus
from application.use_cases.processing_status import GetProcessingStatus
from application.use_cases.retention_status import GetRetentionStatus
from application.use_cases.witness_submissions import WitnessHealth

REQUESTS = Counter("auditrail_http_requests_total", "HTTP requests by route and status.",
                   ["method", "route", "status"])
LATENCY = Histogram("auditrail_http_request_duration_seconds", "HTTP request latency.",
                    ["method", "route"],
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                             2.5, 5, 10))
QUERIES_TIMED_OUT = Counter("auditrail_queries_timed_out_total",
                            "Searches and stats stopped at AUDITRAIL_QUERY_TIMEOUT_SECONDS.")


METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Any other method a client invents is counted as ``other``: one series per invented
name would let anyone grow the metrics (and this process's memory) without bound."""


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    counter, histogram = _series(method if method in METHODS else "other", route, status)
    counter.inc()
    histogram.observe(seconds)


@functools.cache
def _series(method: str, route: str, status: int) -> tuple[Counter, Histogram]:
    """Each labelled series, looked up once: ``labels()`` costs more than the update. The
    keys are bounded: known methods, the app's routes (or ``unmatched``), its statuses."""
    return (REQUESTS.labels(method=method, route=route, status=str(status)),
            LATENCY.labels(method=method, route=route))


class _StatusCollector:
    def __init__(self, status: GetProcessingStatus, deliveries: GetDeliveryStatus,
                 witnesses: WitnessHealth, chains: GetChainHealth,
                 retention: GetRetentionStatus) -> None:
        self._status = status
        self._deliveries = deliveries
        self._witnesses = witnesses
        self._chains = chains
        self._retention = retention

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = self._status.execute()
        yield GaugeMetricFamily("auditrail_events_pending", "Events waiting to be processed.",
                                value=now.pending_events)
        yield GaugeMetricFamily("auditrail_processing_lag_seconds",
                                "Age of the oldest pending event.", value=now.lag_seconds)
        yield GaugeMetricFamily("auditrail_queue_depth", "Jobs waiting in the queue.",
                                value=now.queued_jobs)
        if now.workers is not None:  # the embedded worker is a thread: /readyz tells
            yield GaugeMetricFamily("auditrail_workers",
                                    "Worker processes listening on the queues.",
                                    value=now.workers)
        yield GaugeMetricFamily("auditrail_events_unsigned",
                                "Processed events no signed checkpoint covers yet.",
                                value=now.unsigned_events)
        yield GaugeMetricFamily("auditrail_checkpoint_lag_seconds",
                                "How long processed events have waited for a signed "
                                "checkpoint (0: all covered).",
                                value=now.checkpoint_lag_seconds)
        yield GaugeMetricFamily("auditrail_exports_queued", "Exports waiting for a worker.",
                                value=now.exports_queued)
        yield GaugeMetricFamily("auditrail_export_wait_seconds",
                                "How long the oldest queued export has waited (0: none).",
                                value=now.export_wait_seconds)
        yield from self._streams()
        witnesses = GaugeMetricFamily(
            "auditrail_log_witnesses", "The logs' witnesses by status (refused: a log's "
            "checkpoint does not extend what its witness holds).", labels=["status"])
        health = self._witnesses.execute()
        for status, count in health.counts.items():
            witnesses.add_metric([status], count)
        yield witnesses
        yield GaugeMetricFamily("auditrail_log_witness_lag_seconds",
                                "How long the witness furthest behind has owed its log a "
                                "cosignature (0: every one holds its log's latest "
                                "checkpoint).", value=health.lag_seconds)
        yield from self._chain_checks()
        retention = self._retention.execute()
        yield GaugeMetricFamily("auditrail_retention_overdue_seconds",
                                "How long ago the event kept longest past its workspace's "
                                "retention should have been removed (0: none is).",
                                value=retention.overdue_seconds)

    def _chain_checks(self) -> Iterator[GaugeMetricFamily]:
        health = self._chains.execute()
        yield GaugeMetricFamily("auditrail_chains_invalid",
                                "Workspaces whose chain the latest scheduled check found "
                                "invalid.", value=health.invalid)
        if health.overdue is not None:  # the checks are on
            yield GaugeMetricFamily("auditrail_chain_checks_overdue",
                                    "Workspaces whose chain has not been checked for twice "
                                    "AUDITRAIL_CHAIN_CHECK_HOURS.", value=health.overdue)

    def _streams(self) -> Iterator[GaugeMetricFamily]:
        """One series per stream behind, paused or failing; none for a stream caught up (its
        0 is the series' absence): 20,000 streams, one a workspace, made a scrape of 4.8 MB
        and half a second when each had its two series."""
        labels = ["stream_id", "workspace_id", "type", "status"]
        backlog = GaugeMetricFamily(
            "auditrail_stream_backlog_events",
            "Linked events a log stream has not delivered yet.", labels=labels)
        lag = GaugeMetricFamily(
            "auditrail_stream_lag_seconds",
            "Age of the oldest event a log stream has not delivered (0: caught up).",
            labels=labels)
        status = self._deliveries.execute()
        for stream in status.streams:
            values = [stream.stream_id, stream.workspace_id, stream.type, stream.status]
            backlog.add_metric(values, stream.backlog)
            lag.add_metric(values, stream.lag_seconds)
        yield backlog
        yield lag
        yield GaugeMetricFamily("auditrail_alert_notifications_pending",
                                "Triggered alerts whose notification is not yet accepted.",
                                value=status.pending_notifications)


def exposition(status: GetProcessingStatus, deliveries: GetDeliveryStatus,
               witnesses: WitnessHealth, chains: GetChainHealth,
               retention: GetRetentionStatus) -> tuple[bytes, str]:
    """The scrape: this process's (or all processes') counters, plus the live gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        counters = CollectorRegistry()
        multiprocess.MultiProcessCollector(counters)
    else:
        counters = REGISTRY
    gauges = CollectorRegistry()
    gauges.register(_StatusCollector(status, deliveries, witnesses, chains, retention))
    return generate_latest(counters) + generate_latest(gauges), CONTENT_TYPE_LATEST
