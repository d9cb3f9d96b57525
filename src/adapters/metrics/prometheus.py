"""The ``Metrics`` port on prometheus-client (multi-process safe when
``PROMETHEUS_MULTIPROC_DIR`` is set before the process imports this module)."""

from __future__ import annotations

from prometheus_client import Counter

from application.ports.delivery import OUTCOMES
from application.ports.metrics import RATE_LIMITS
from application.use_cases.check_chains import REQUEST_OUTCOMES
from application.use_cases.notify_alerts import ALERT
from application.use_cases.witness_submissions import OUTCOMES as SUBMISSION_OUTCOMES
from domain.exports import COMPLETED, FAILED
from domain.streams import TYPES

EVENTS_ACCEPTED = Counter("auditrail_events_accepted_total",
                          "Events stored as pending (a 202 was answered).")
EVENTS_RECEIPTED = Counter("auditrail_events_receipted_total",
                           "Events named in a signed ingest receipt (Prefer: receipt), "
                           "retries' receipts included.")
EVENTS_PROCESSED = Counter("auditrail_events_processed_total",
                           "Events linked into their workspace's hash chain.")
EXPORTS = Counter("auditrail_exports_total", "Export jobs finished, by outcome.", ["status"])
RATE_LIMITED = Counter("auditrail_rate_limited_total",
                       "Requests refused with 429, by limit.", ["limit"])
LIMITER_FAIL_OPEN = Counter("auditrail_rate_limiter_fail_open_total",
                            "Requests served without a rate-limit decision (Redis unreachable).")
GEO_CORRUPT = Counter("auditrail_geo_corrupt_lookups_total",
                      "Geo lookups that met corrupt data in the GeoIP database (geo null).")
DELIVERIES = Counter("auditrail_deliveries_total",
                     "Delivery attempts (log streams by type, alert notifications as "
                     "'alert'), by outcome.",
                     ["type", "outcome"])
ALERTS_TRIGGERED = Counter("auditrail_alerts_triggered_total",
                           "Alerts triggered by alert rules.")
EVENTS_DELIVERED = Counter("auditrail_events_delivered_total",
                           "Events in log-stream deliveries that succeeded, by stream type.",
                           ["type"])

WITNESS_SUBMISSIONS = Counter("auditrail_log_witness_submissions_total",
                              "Checkpoints submitted to the logs' witnesses, by outcome "
                              "(refused: the log's checkpoint does not extend what the "
                              "witness holds).", ["outcome"])

CHAIN_CHECK_REQUESTS = Counter("auditrail_chain_checks_requested_total",
                               "Checks of a chain its workspace asked for (POST "
                               "/chain-check), by outcome.", ["outcome"])


def _every_series_from_zero() -> None:
    """Each labelled series exists from the start at 0, as Prometheus advises: one that
    first appears at 1 hides that increment from ``increase()`` and ``rate()``, so an
    alert on the first failures (a stream answering 500, a rate limit hit) would not see
    them; and until then a dashboard shows no data rather than none happened."""
    for status in (COMPLETED, FAILED):
        EXPORTS.labels(status=status)
    for limit in RATE_LIMITS:
        RATE_LIMITED.labels(limit=limit)
    for kind in (*TYPES, ALERT):
        EVENTS_DELIVERED.labels(type=kind)
        for outcome in OUTCOMES:
            DELIVERIES.labels(type=kind, outcome=outcome)
    for outcome in SUBMISSION_OUTCOMES:
        WITNESS_SUBMISSIONS.labels(outcome=outcome)
    for outcome in REQUEST_OUTCOMES:
        CHAIN_CHECK_REQUESTS.labels(outcome=outcome)


_every_series_from_zero()


class PrometheusMetrics:
    def events_accepted(self, count: int) -> None:
        EVENTS_ACCEPTED.inc(count)

    def events_receipted(self, count: int) -> None:
        EVENTS_RECEIPTED.inc(count)

    def events_processed(self, count: int) -> None:
        EVENTS_PROCESSED.inc(count)

    def export_finished(self, status: str) -> None:
        EXPORTS.labels(status=status).inc()

    def rate_limited(self, kind: str) -> None:
        RATE_LIMITED.labels(limit=kind).inc()

    def limiter_failed_open(self) -> None:
        LIMITER_FAIL_OPEN.inc()

    def geo_data_corrupt(self) -> None:
        GEO_CORRUPT.inc()

    def delivery_attempted(self, stream_type: str, outcome: str, events: int) -> None:
        DELIVERIES.labels(type=stream_type, outcome=outcome).inc()
        if events:
            EVENTS_DELIVERED.labels(type=stream_type).inc(events)

    def alerts_triggered(self, count: int) -> None:
        ALERTS_TRIGGERED.inc(count)

    def cosignature_requested(self, outcome: str) -> None:
        WITNESS_SUBMISSIONS.labels(outcome=outcome).inc()

    def chain_check_requested(self, outcome: str) -> None:
        CHAIN_CHECK_REQUESTS.labels(outcome=outcome).inc()
