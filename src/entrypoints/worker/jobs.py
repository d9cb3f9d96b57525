"""RQ job functions, enqueued by dotted path with ids only.

Each worker process binds its own container once (``bind``) in its ``main``; jobs then
reuse its engine and clients instead of bootstrapping the application per job.
"""

from __future__ import annotations

import logging

from entrypoints.container.installation import Container

log = logging.getLogger(__name__)

MAX_CHUNKS_PER_JOB = 20
"""A job links at most this many chunks, then re-queues itself so workspaces share workers."""

_container: Container | None = None


def bind(container: Container) -> None:
    global _container
    _container = container


def _bound() -> Container:
    if _container is None:
        raise RuntimeError("no container bound: start jobs with `auditrail worker`")
    return _container


def process_workspace(workspace_id: str) -> int:
    """Drain a workspace's pending events into its chain."""
    container = _bound()
    queue = container.job_queue()
    queue.claim(workspace_id)
    outcome = container.process_pending_events().execute(workspace_id,
                                                         max_chunks=MAX_CHUNKS_PER_JOB)
    if not outcome.drained:
        queue.enqueue_processing([workspace_id])
    log.info("processed events", extra={"workspace_id": workspace_id,
                                        "linked": outcome.linked, "drained": outcome.drained})
    return outcome.linked


def run_export(export_id: str) -> None:
    """Write one export's file."""
    export = _bound().run_export().execute(export_id)
    if export is not None:
        log.info("export finished", extra={"export_id": export.id, "status": export.status,
                                           "row_count": export.row_count})


def check_chain(workspace_id: str) -> None:
    """Verify one workspace's whole chain, as scheduled (``AUDITRAIL_CHAIN_CHECK_HOURS``),
    then queue the next ones due: checks follow one another as fast as they run, rather
    than two an upkeep (15 s), which a deployment of many small workspaces would outgrow."""
    container = _bound()
    check = container.check_chain().execute(workspace_id)
    if check is not None:
        log.info("chain checked", extra={"workspace_id": workspace_id, "valid": check.valid,
                                         "checked": check.checked})
    container.schedule_chain_checks().execute()


def deliver(destination_id: str) -> int:
    """Send what is due to one destination: a log stream's deliveries (``lst_…``), an
    alert rule's notifications (``alr_…``), or the log's latest checkpoint to one of its
    witnesses (``wit_…``)."""
    container = _bound()
    if destination_id.startswith("wit_"):
        return int(container.submit_to_witness().execute(destination_id) is not None)
    engine = (container.notify_alerts() if destination_id.startswith("alr_")
              else container.deliver_stream())
    return engine.execute(destination_id)


def sign_checkpoints() -> int:
    """Sign a checkpoint for every workspace whose tree grew and whose latest checkpoint is
    old enough: run every second, so each event is covered within the cadence."""
    return _bound().transparency_log().sweep()


def wake_witnesses() -> int:
    """Queue a submission for every witness that has not cosigned its log's latest
    checkpoint: run every second, after signing."""
    return _bound().wake_witnesses().execute()


def every_second() -> None:
    sign_checkpoints()
    wake_witnesses()


def upkeep() -> None:
    """Periodic maintenance: re-queue pending events whose job was lost, forget old keys,
    expire and retry exports, wake streams whose job was lost, apply retention, queue the
    chain checks that are due.

    Safe to run in every worker at once: each step is idempotent.
    """
    container = _bound()
    requeued = container.requeue_pending().execute()
    if requeued:
        log.warning("re-queued processing of %d workspace(s) with stale pending events",
                    len(requeued))
    container.purge_idempotency_keys().execute()
    container.export_upkeep().execute()
    container.delivery_upkeep().execute()
    container.apply_retention().execute()
    container.transparency_log().sweep()
    container.schedule_chain_checks().execute()
