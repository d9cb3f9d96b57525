"""``auditrail status`` and ``auditrail chains``: what the workers are doing, what is
behind, and whether the workspaces' chains hold."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import Any

import click

from application.use_cases.apply_retention import HOLDS
from application.use_cases.check_chains import ChainHealth
from application.use_cases.delivery_status import DeliveryStatus, StreamLag
from application.use_cases.processing_status import ProcessingStatus
from application.use_cases.retention_status import RetentionStatus
from application.use_cases.witness_submissions import WitnessLag
from domain.chain_checks import ChainCheck
from domain.log_witnesses import LogWitness
from domain.streams import FAILING
from domain.timestamps import format_timestamp
from entrypoints.command_context import command_container, print_listing
from entrypoints.container.installation import Container
from entrypoints.settings import EMBEDDED


@click.command()
@click.option("--workspaces", "count", type=click.IntRange(0, 1000), default=10,
              show_default=True,
              help="How many of the workspaces (and log streams, and alert rules) furthest "
                   "behind to list.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def status(count: int, as_json: bool) -> None:
    """Processing: pending events, how long the oldest has waited, queued jobs, the
    workers taking them, and the workspaces furthest behind (which chain is stuck, or
    whether all are slow); signing: processed events no checkpoint covers yet, and the
    workspaces waiting longest; delivery: alert notifications not yet accepted and the
    rules whose notifications have waited longest, and the log streams furthest behind or
    failing; witnesses: the logs' witnesses by status, how long the one furthest behind has
    owed its log a cosignature, and those refusing or failing; integrity: the chains the
    scheduled checks found invalid, and how many checks are overdue; retention: the
    workspaces keeping events past their period, and what holds them."""
    container = command_container()
    report = container.processing_status().execute(workspaces=count)
    deliveries = container.delivery_status().execute(rules=count)
    # The embedded queue lives in the `serve` process; this process cannot see it. An
    # unreachable Redis counts as an empty queue for the metric, not here.
    embedded = container.settings().profile == EMBEDDED
    queued = report.queued_jobs if not embedded and container.job_queue().ping() else None
    behind = _streams_behind(deliveries, count)
    witnesses = container.witness_health().execute(listed=count)
    chains = container.chain_health().execute(chains=count)
    retention = container.retention_status().execute(workspaces=count)
    if as_json:
        click.echo(json.dumps({
            **_status_document(report, queued),
            "alert_notifications_pending": deliveries.pending_notifications,
            "alert_rules_behind": [{**asdict(lag), "lag_seconds": round(lag.lag_seconds, 3)}
                                   for lag in deliveries.rules_behind],
            "streams_behind": [{**asdict(lag), "lag_seconds": round(lag.lag_seconds, 3)}
                               for lag in behind],
            "log_witnesses": witnesses.counts,
            "log_witness_lag_seconds": round(witnesses.lag_seconds, 3),
            "log_witnesses_behind": [_behind_document(lag) for lag in witnesses.behind],
            "log_witnesses_troubled": [_troubled_document(w) for w in witnesses.troubled],
            "chains_invalid": chains.invalid, "chain_checks_overdue": chains.overdue,
            "invalid_chains": [check_document(c) for c in chains.troubled],
            "retention_overdue_seconds": round(retention.overdue_seconds, 3),
            "retention_overdue_workspaces": retention.overdue_workspaces,
            "retention_overdue": [{**asdict(lag), "overdue_seconds": round(
                lag.overdue_seconds, 3)} for lag in retention.overdue]}))
    else:
        unknown = "in the serve process" if embedded else "unknown, Redis is unreachable"
        _print_status(report, queued if queued is not None else unknown,
                      report.workers if report.workers is not None else unknown)
        click.echo(f"alert notifications pending: {deliveries.pending_notifications:,}")
        print_listing("alert rules behind:", [
            f"{lag.rule_id}  {lag.workspace_id}  {lag.status:<7} {lag.pending:>9,} "
            f"pending, the oldest waiting {lag.lag_seconds:,.1f} s"
            for lag in deliveries.rules_behind])
        print_listing("log streams behind:", [
            f"{lag.stream_id}  {lag.workspace_id}  {lag.status:<7} {lag.backlog:>9,} "
            f"undelivered, the oldest waiting {lag.lag_seconds:,.1f} s" for lag in behind])
        owed = (f" (a cosignature owed for {witnesses.lag_seconds:,.1f} s)"
                if witnesses.lag_seconds else "")
        click.echo("log witnesses: " + ", ".join(
            f"{count:,} {status}" for status, count in witnesses.counts.items()) + owed)
        print_listing("log witnesses refusing or failing:", [
            f"{w.id}  {w.workspace_id}  {w.status:<7} {w.name}: {w.sending.last_error}"
            for w in witnesses.troubled])
        print_listing("log witnesses furthest behind:", [
            f"{lag.witness.id}  {lag.witness.workspace_id}  {lag.witness.status:<7} "
            f"{lag.witness.name}: a cosignature owed for {lag.lag_seconds:,.1f} s"
            for lag in witnesses.behind])
        _print_chains(chains)
        _print_retention(retention)


def _print_chains(chains: ChainHealth) -> None:
    overdue = ("off (AUDITRAIL_CHAIN_CHECK_HOURS=0)" if chains.overdue is None
               else f"{chains.overdue:,} overdue")
    click.echo(f"chains found invalid: {chains.invalid:,}; scheduled checks: {overdue}")
    print_listing("invalid chains:", [
        f"{c.workspace_id}  {c.described()}, invalid since "
        f"{format_timestamp(c.invalid_since) if c.invalid_since else '?'}"
        for c in chains.troubled])


def _print_retention(retention: RetentionStatus) -> None:
    if not retention.overdue_workspaces:
        click.echo("retention: on time")
        return
    click.echo(f"retention: {retention.overdue_workspaces:,} workspace(s) keep events past "
               f"their period, by up to {_days(retention.overdue_seconds)}")
    print_listing("workspaces past their retention:", [
        f"{lag.workspace_id}  {lag.retention_days} days, {_days(lag.overdue_seconds)} past, "
        + ("waiting for " + " and ".join(HOLDS[hold] for hold in lag.held_by)
           if lag.held_by else "retention has yet to reach it (is a worker running?)")
        for lag in retention.overdue])


def _days(seconds: float) -> str:
    return f"{seconds / 86400:,.1f} days" if seconds >= 86400 else f"{seconds / 3600:,.1f} h"


def check_document(check: ChainCheck) -> dict[str, Any]:
    return {"workspace_id": check.workspace_id, "reason": check.reason,
            "detail": check.detail, "first_invalid_sequence": check.first_invalid_sequence,
            "event_id": check.event_id,
            "invalid_since": format_timestamp(check.invalid_since)
            if check.invalid_since else None,
            "checked_at": format_timestamp(check.checked_at) if check.checked_at else None}


def _troubled_document(witness: LogWitness) -> dict[str, Any]:
    return {"witness_id": witness.id, "workspace_id": witness.workspace_id,
            "name": witness.name, "status": witness.status,
            "failing_since": format_timestamp(witness.sending.failing_since)
            if witness.sending.failing_since else None,
            "last_error": witness.sending.last_error}


def _behind_document(lag: WitnessLag) -> dict[str, Any]:
    return {"witness_id": lag.witness.id, "workspace_id": lag.witness.workspace_id,
            "name": lag.witness.name, "status": lag.witness.status,
            "lag_seconds": round(lag.lag_seconds, 3)}


def _streams_behind(deliveries: DeliveryStatus, count: int) -> list[StreamLag]:
    """The streams furthest behind, or failing, that one first: which destination to look
    at when events do not arrive."""
    behind = [lag for lag in deliveries.streams if lag.backlog or lag.status == FAILING]
    return sorted(behind, key=lambda lag: lag.lag_seconds, reverse=True)[:count]


def _status_document(report: ProcessingStatus, queued: int | None) -> dict[str, Any]:
    return {"pending_events": report.pending_events, "lag_seconds": round(report.lag_seconds, 3),
            "queued_jobs": queued, "workers": report.workers,
            "behind": [{"workspace_id": lag.workspace_id, "pending_events": lag.pending_events,
                        "lag_seconds": round(lag.lag_seconds, 3)} for lag in report.behind],
            "unsigned_events": report.unsigned_events,
            "checkpoint_lag_seconds": round(report.checkpoint_lag_seconds, 3),
            "unsigned": [{"workspace_id": lag.workspace_id,
                          "unsigned_events": lag.unsigned_events,
                          "lag_seconds": round(lag.lag_seconds, 3)} for lag in report.unsigned],
            "exports_queued": report.exports_queued,
            "export_wait_seconds": round(report.export_wait_seconds, 3)}


def _print_status(report: ProcessingStatus, queued: int | str, workers: int | str) -> None:
    waited = f" (the oldest waiting {report.lag_seconds:,.1f} s)" if report.pending_events else ""
    click.echo(f"pending events: {report.pending_events:,}{waited}")
    click.echo(f"queued jobs: {queued}")
    click.echo(f"workers: {workers}")
    print_listing("furthest behind:", [
        f"{lag.workspace_id}  {lag.pending_events:>9,} pending, the oldest waiting "
        f"{lag.lag_seconds:,.1f} s" for lag in report.behind])
    owed = (f" (a checkpoint owed for {report.checkpoint_lag_seconds:,.1f} s)"
            if report.unsigned_events else "")
    click.echo(f"events awaiting a signed checkpoint: {report.unsigned_events:,}{owed}")
    print_listing("waiting longest for a checkpoint:", [
        f"{lag.workspace_id}  {lag.unsigned_events:>9,} unsigned, owed for "
        f"{lag.lag_seconds:,.1f} s" for lag in report.unsigned])
    asked = (f" (the oldest waiting {report.export_wait_seconds:,.1f} s)"
             if report.exports_queued else "")
    click.echo(f"exports queued: {report.exports_queued:,}{asked}")


@click.group()
def chains() -> None:
    """The workspaces' hash chains, which the workers check on a schedule."""


@chains.command("check")
@click.argument("workspace_id", required=False)
@click.option("--all", "every", is_flag=True,
              help="Every workspace's chain, one after another (after a restore, say).")
@click.option("--json", "as_json", is_flag=True,
              help="Print each outcome as one JSON object (one a line with --all).")
def check_chain(workspace_id: str | None, every: bool, as_json: bool) -> None:
    """Verify a workspace's whole chain now, as the scheduled checks do, and keep the
    outcome: after repairing a chain, say, rather than waiting for its next check; or,
    with --all, every chain (after restoring the database from a backup). Exit 1 when
    one is invalid."""
    if every == (workspace_id is not None):
        raise click.UsageError("name one workspace, or give --all")
    container = command_container()
    if workspace_id is None:
        invalid = _check_every_chain(container, as_json)
    else:
        check = container.check_chain().execute(workspace_id)
        if check is None:
            raise click.ClickException(f"no workspace {workspace_id} (or it is being "
                                       f"deleted)")
        _print_check(check, as_json)
        invalid = int(check.invalid)
    if invalid:
        sys.exit(1)


def _check_every_chain(container: Container, as_json: bool) -> int:
    """Each workspace's chain in turn, printed as it is checked; how many are invalid."""
    checked = invalid = 0
    for listed in container.list_workspaces().execute():
        check = container.check_chain().execute(listed.workspace.id)
        if check is None:  # deleted meanwhile
            continue
        _print_check(check, as_json)
        checked += 1
        invalid += int(check.invalid)
    if not as_json:
        click.echo(f"{checked:,} chain(s) checked, {invalid:,} invalid")
    return invalid


def _print_check(check: ChainCheck, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({**check_document(check), "valid": check.valid,
                               "checked": check.checked}))
    elif check.invalid:
        since = format_timestamp(check.invalid_since) if check.invalid_since else "?"
        event = f" (event {check.event_id})" if check.event_id else ""
        click.echo(f"{check.workspace_id}: INVALID, {check.described()}{event}; invalid "
                   f"since {since}")
    else:
        click.echo(f"{check.workspace_id}: valid, {check.checked:,} events checked")
