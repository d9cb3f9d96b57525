"""The ``auditrail`` command line (contract §9)."""

from __future__ import annotations

import getpass
import json
import logging
import os
import shlex
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import click
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError

from application.errors import Conflict, NotFound, UnderLegalHold
from application.ports.geo import GeoDatabaseUnusable
from application.use_cases.check_chains import ChainHealth
from application.use_cases.countersign_log import Countersigned
from application.use_cases.delete_workspace import WorkspaceContents
from application.use_cases.delivery_status import DeliveryStatus, StreamLag
from application.use_cases.processing_status import ProcessingStatus
from domain.activity import OPERATOR, Actor
from domain.api_keys import MAX_ROLL_GRACE_SECONDS, ApiKey
from domain.chain_checks import ChainCheck
from domain.errors import ValidationFailed
from domain.log_witnesses import LogWitness
from domain.scopes import ALL_SCOPES
from domain.streams import FAILING
from domain.timestamps import InvalidTimestamp, format_timestamp, parse_timestamp
from domain.workspaces import PLANS
from entrypoints.container import Container, build_container
from entrypoints.log_cli import log_group
from entrypoints.logs import configure_logging
from entrypoints.preflight import (
    findings,
    migrations_text,
    schema_problem,
    stranger_problem,
)
from entrypoints.settings import EMBEDDED, Settings, SettingsError
from entrypoints.verify_cli import verify
from entrypoints.witness_cli import witness as witness_group

log = logging.getLogger("auditrail.cli")

PROGRESS_SECONDS = 5.0
"""How often a long command (``signing-key countersign``) says how far it got."""


def _settings(*, serving: bool = False) -> Settings:
    """Settings from the environment; ``serving`` processes also need their secrets."""
    try:
        settings = Settings.from_env()
        if serving:
            settings.check_production_secrets()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    return settings


def _container(*, migrate_embedded: bool = True, serving: bool = False) -> Container:
    """A container for this command: an embedded database is brought up to date first,
    any other must already be (``migrate_embedded=False``: the command migrates it)."""
    settings = _settings()
    configure_logging(settings.log_level)
    container = build_container(settings)
    if migrate_embedded and settings.is_embedded_database:
        container.upgrade_database()
    elif migrate_embedded:
        _require_schema(container, serving=serving)
    return container


def _require_schema(container: Container, *, serving: bool) -> None:
    """Before the first query, not in its traceback: a database this release has not
    migrated (new, or upgraded without ``db upgrade``) is named with the fix.

    A server or worker whose database is down at start still starts (``/readyz`` says
    so, and requests retry); it checks what it can reach.
    """
    try:
        missing = container.missing_migrations()
    except DBAPIError as exc:
        if not serving:
            raise
        log.warning("database not reachable at start (%s); schema not checked",
                    type(exc.orig or exc).__name__)
        return
    if missing:
        raise click.ClickException(schema_problem(missing))


def _require_geo(container: Container) -> None:
    """A geo database that cannot be read would fail every event's processing and stall
    the chains; a process that would process events refuses to start instead."""
    try:
        container.geo()
    except GeoDatabaseUnusable as exc:
        raise click.ClickException(f"geo database: {exc} (AUDITRAIL_GEOIP_DB)") from None


def _require_log_signer(container: Container) -> None:
    """A process that would sign the log refuses to start when the log was last signed by
    a key it does not have: signed on, every pinned verifier key, monitor and viewer link
    would fail from then on, and nothing would say why."""
    if container.settings().signing_key_lost:
        return
    try:
        workspace_id = container.transparency_log().stranger()
    except DBAPIError:
        return  # a database down at start is for /readyz to report, not a reason to stop
    if workspace_id is not None:
        raise click.ClickException(stranger_problem(container, workspace_id))


class _Commands(click.Group):
    """Failures of what the command talks to, as one line each rather than a traceback:
    the operator needs what failed and where, and the stack is noise to them."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DBAPIError as exc:  # connection refused, authentication, permissions, …
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
            raise click.ClickException(f"the database could not be used: {reason}") from None
        except RedisError as exc:  # a worker's queue
            raise click.ClickException(f"Redis could not be used: {exc}") from None
        except BrokenPipeError:  # `… list | head`: the reader has what it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nor at exit
            ctx.exit(1)
        except OSError as exc:
            where = f" {exc.filename}" if exc.filename else ""
            raise click.ClickException(f"cannot use{where}: {exc.strerror or exc}") from None


def _fail(exc: Exception) -> click.ClickException:
    if isinstance(exc, ValidationFailed):
        lines = [f"  {error.field}: {error.message}" for error in exc.errors]
        return click.ClickException("\n".join([str(exc), *lines]))
    return click.ClickException(str(exc))


@click.group(cls=_Commands)
@click.version_option(package_name="auditrail")
def main() -> None:
    """Auditrail: a tamper-evident audit-log service."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=None, type=click.IntRange(1, 64),
              help="HTTP worker processes (production profile, default 2; embedded runs "
                   "one).")
def serve(host: str, port: int, workers: int | None) -> None:
    """Run the HTTP API (gunicorn)."""
    from entrypoints.server import PortTaken
    from entrypoints.server import serve as run_server

    settings = _settings(serving=True)
    checked = _container(serving=True)  # embedded: migrated before workers fork
    _require_geo(checked)
    _require_log_signer(checked)
    checked.engine().dispose()  # the server's processes open their own connections
    if settings.profile == EMBEDDED:
        click.echo(f"auditrail: embedded mode, data in {settings.data_dir.resolve()}",
                   err=True)
    try:
        run_server(settings, host, port, workers)
    except PortTaken as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@click.option("--burst", is_flag=True, help="Exit once the queue is empty.")
@click.option("--metrics-port", type=click.IntRange(1, 65535), default=None,
              help="Serve this worker's Prometheus metrics on this port.")
def worker(burst: bool, metrics_port: int | None) -> None:
    """Run a queue worker (production profile: needs AUDITRAIL_REDIS_URL)."""
    from entrypoints.worker.rq_worker import run_worker

    settings = _settings(serving=True)
    if settings.profile == EMBEDDED:
        raise click.ClickException(
            "`auditrail worker` needs AUDITRAIL_REDIS_URL; in embedded mode `auditrail serve` "
            "runs the worker in-process.")
    container = _container(serving=True)
    _require_geo(container)
    _require_log_signer(container)
    run_worker(container, burst=burst, metrics_port=metrics_port)


@main.command()
def check() -> None:
    """Check what `serve` and `worker` need, without starting them or changing anything:
    the settings, the database and its migrations, Redis (production), that the signing
    key signed each log's latest checkpoint, the geo database, the exports folder. Run it
    before restarting on a new release or new settings; exit 1 names each problem."""
    try:
        settings = _settings(serving=True)
    except click.ClickException as exc:
        click.echo(f"FAIL  {'settings':<15} {exc.message}")
        sys.exit(1)
    configure_logging(settings.log_level)
    click.echo(f"ok    {'settings':<15} the {settings.profile} profile")
    failed = False
    for finding in findings(build_container(settings)):
        click.echo(f"{'ok' if finding.ok else 'FAIL':<5} {finding.part:<15} {finding.said}")
        failed = failed or not finding.ok
    if failed:
        sys.exit(1)


@main.command()
@click.option("--workspaces", "count", type=click.IntRange(0, 1000), default=10,
              show_default=True,
              help="How many of the workspaces (and log streams) furthest behind to list.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def status(count: int, as_json: bool) -> None:
    """Processing: pending events, how long the oldest has waited, queued jobs, the
    workers taking them, and the workspaces furthest behind (which chain is stuck, or
    whether all are slow); signing: processed events no checkpoint covers yet, and the
    workspaces waiting longest; delivery: alert notifications not yet accepted, and the
    log streams furthest behind or failing; integrity: the chains the scheduled checks
    found invalid, and how many checks are overdue."""
    container = _container()
    report = container.processing_status().execute(workspaces=count)
    deliveries = container.delivery_status().execute()
    # The embedded queue lives in the `serve` process; this process cannot see it. An
    # unreachable Redis counts as an empty queue for the metric, not here.
    embedded = container.settings().profile == EMBEDDED
    queued = report.queued_jobs if not embedded and container.job_queue().ping() else None
    behind = _streams_behind(deliveries, count)
    witnesses = container.witness_health().execute(listed=count)
    chains = container.chain_health().execute(chains=count)
    if as_json:
        click.echo(json.dumps({
            **_status_document(report, queued),
            "alert_notifications_pending": deliveries.pending_notifications,
            "streams_behind": [{**asdict(lag), "lag_seconds": round(lag.lag_seconds, 3)}
                               for lag in behind],
            "log_witnesses": witnesses.counts,
            "log_witnesses_troubled": [_troubled_document(w) for w in witnesses.troubled],
            "chains_invalid": chains.invalid, "chain_checks_overdue": chains.overdue,
            "invalid_chains": [_check_document(c) for c in chains.troubled]}))
    else:
        unknown = "in the serve process" if embedded else "unknown, Redis is unreachable"
        _print_status(report, queued if queued is not None else unknown,
                      report.workers if report.workers is not None else unknown)
        click.echo(f"alert notifications pending: {deliveries.pending_notifications:,}")
        _print_listing("log streams behind:", [
            f"{lag.stream_id}  {lag.workspace_id}  {lag.status:<7} {lag.backlog:>9,} "
            f"undelivered, the oldest waiting {lag.lag_seconds:,.1f} s" for lag in behind])
        click.echo("log witnesses: " + ", ".join(
            f"{count:,} {status}" for status, count in witnesses.counts.items()))
        _print_listing("log witnesses refusing or failing:", [
            f"{w.id}  {w.workspace_id}  {w.status:<7} {w.name}: {w.sending.last_error}"
            for w in witnesses.troubled])
        _print_chains(chains)


def _print_chains(chains: ChainHealth) -> None:
    overdue = ("off (AUDITRAIL_CHAIN_CHECK_HOURS=0)" if chains.overdue is None
               else f"{chains.overdue:,} overdue")
    click.echo(f"chains found invalid: {chains.invalid:,}; scheduled checks: {overdue}")
    _print_listing("invalid chains:", [
        f"{c.workspace_id}  {c.described()}, invalid since "
        f"{format_timestamp(c.invalid_since) if c.invalid_since else '?'}"
        for c in chains.troubled])


def _check_document(check: ChainCheck) -> dict[str, Any]:
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
                          "lag_seconds": round(lag.lag_seconds, 3)} for lag in report.unsigned]}


def _print_status(report: ProcessingStatus, queued: int | str, workers: int | str) -> None:
    waited = f" (the oldest waiting {report.lag_seconds:,.1f} s)" if report.pending_events else ""
    click.echo(f"pending events: {report.pending_events:,}{waited}")
    click.echo(f"queued jobs: {queued}")
    click.echo(f"workers: {workers}")
    _print_listing("furthest behind:", [
        f"{lag.workspace_id}  {lag.pending_events:>9,} pending, the oldest waiting "
        f"{lag.lag_seconds:,.1f} s" for lag in report.behind])
    owed = (f" (a checkpoint owed for {report.checkpoint_lag_seconds:,.1f} s)"
            if report.unsigned_events else "")
    click.echo(f"events awaiting a signed checkpoint: {report.unsigned_events:,}{owed}")
    _print_listing("waiting longest for a checkpoint:", [
        f"{lag.workspace_id}  {lag.unsigned_events:>9,} unsigned, owed for "
        f"{lag.lag_seconds:,.1f} s" for lag in report.unsigned])


def _print_listing(heading: str, rows: list[str]) -> None:
    if rows:
        click.echo(heading)
    for row in rows:
        click.echo(f"  {row}")


@main.group()
def db() -> None:
    """Database schema."""


@db.command()
def upgrade() -> None:
    """Apply pending schema migrations."""
    container = _container(migrate_embedded=False)
    missing = container.missing_migrations()
    container.upgrade_database()
    # An operator reading a deploy log wants to know whether this run changed the schema.
    click.echo(f"database is up to date: applied {migrations_text(missing)}" if missing
               else "database is up to date: nothing to apply")


@main.group()
def workspaces() -> None:
    """Create, change and list workspaces."""


@workspaces.command("create")
@click.option("--name", required=True)
@click.option("--plan", type=click.Choice(PLANS), default="free", show_default=True)
@click.option("--rate-limit", type=click.IntRange(min=1), default=None,
              help="Requests per minute (enterprise plan only).")
@click.option("--json", "as_json", is_flag=True, help='Print {"workspace_id", "api_key"}.')
@click.option("--env", "as_env", is_flag=True,
              help='Print WORKSPACE=… and KEY=… for eval "$(auditrail workspaces create '
                   '… --env)".')
@click.option("--record-activity", is_flag=True,
              help="Record every change to the workspace as an auditrail.* event in its log, "
                   "from its creation and first key on (docs/activity.md).")
def create_workspace(name: str, plan: str, rate_limit: int | None, as_json: bool,
                     as_env: bool, record_activity: bool) -> None:
    """Create a workspace and print its first admin API key."""
    try:
        workspace, issued = _container().create_workspace().execute(
            name, plan, rate_limit, record_activity, _operator())
    except ValidationFailed as exc:
        raise _fail(exc) from None
    if as_json:
        click.echo(json.dumps({"workspace_id": workspace.id, "api_key": issued.secret}))
    elif as_env:
        click.echo(f"WORKSPACE={shlex.quote(workspace.id)}\nKEY={shlex.quote(issued.secret)}")
    else:
        click.echo(f"workspace: {workspace.id}\napi key:   {issued.secret}  (admin; shown once)")


@workspaces.command("update")
@click.argument("workspace_id")
@click.option("--plan", type=click.Choice(PLANS), default=None)
@click.option("--rate-limit", type=click.IntRange(min=1), default=None,
              help="Requests per minute (enterprise plan only).")
@click.option("--record-activity/--no-record-activity", default=None,
              help="Record changes to the workspace as auditrail.* events in its log, or "
                   "stop (docs/activity.md).")
@click.option("--legal-hold/--no-legal-hold", default=None,
              help="Keep every event whatever the retention, and refuse deletion; or "
                   "release the hold.")
def update_workspace(workspace_id: str, plan: str | None, rate_limit: int | None,
                     record_activity: bool | None, legal_hold: bool | None) -> None:
    """Change a workspace's plan, enterprise rate limit, activity recording or legal hold
    (effective at once)."""
    if plan is None and rate_limit is None and record_activity is None and legal_hold is None:
        raise click.UsageError("give --plan, --rate-limit, --[no-]record-activity and/or "
                               "--[no-]legal-hold")
    try:
        workspace = _container().update_workspace_plan().execute(
            workspace_id, plan, rate_limit, _operator(), record_activity, legal_hold)
    except (ValidationFailed, NotFound) as exc:
        raise _fail(exc) from None
    recording = "records changes" if workspace.record_activity else "records no changes"
    held = ", under a legal hold" if workspace.legal_hold else ""
    click.echo(f"{workspace.id}: plan {workspace.plan}, "
               f"{workspace.rate_limit_per_minute} requests/min, {recording}{held}")


@workspaces.command("delete")
@click.argument("workspace_id")
@click.option("--yes", is_flag=True, help="Do not ask for the workspace's name (scripts).")
def delete_workspace(workspace_id: str, yes: bool) -> None:
    """Delete a workspace and everything it holds, for good: events, signed log, keys,
    viewer links, log streams, alert rules and alerts, exports and their files."""
    deletion = _container().delete_workspace()
    try:
        contents = deletion.contents(workspace_id)
    except (NotFound, UnderLegalHold) as exc:
        raise _fail(exc) from None
    name = contents.workspace.name
    click.echo(f"{workspace_id} ({name}) holds {_contents(contents)}.\n"
               "Deleting it removes them for good, with its signed log: its keys stop "
               "working at once,\nand whoever monitors its log will find it gone.")
    if not yes and click.prompt("Type the workspace's name to delete it", default="",
                                show_default=False) != name:
        raise click.ClickException("that is not its name: nothing was deleted")
    rows = deletion.execute(workspace_id)
    click.echo(f"deleted {workspace_id} ({name}): {rows:,} rows")


def _contents(contents: WorkspaceContents) -> str:
    counts = [(contents.events, "event"), (contents.api_keys, "API key"),
              (contents.viewer_links, "viewer link"), (contents.streams, "log stream"),
              (contents.alert_rules, "alert rule"), (contents.exports, "export")]
    listed = [f"{count:,} {noun}{'' if count == 1 else 's'}" for count, noun in counts]
    return ", ".join(listed[:-1]) + " and " + listed[-1]


@workspaces.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_workspaces(as_json: bool) -> None:
    """List all workspaces."""
    for listed in _container().list_workspaces().execute():
        workspace = listed.workspace
        row = {"id": workspace.id, "name": workspace.name, "plan": workspace.plan,
               "rate_limit_per_minute": workspace.rate_limit_per_minute,
               "created_at": format_timestamp(workspace.created_at),
               "linked_events": listed.linked_events,
               "record_activity": workspace.record_activity,
               "legal_hold": workspace.legal_hold}
        if as_json:
            click.echo(json.dumps(row))
        else:
            held = "  (legal hold)" if workspace.legal_hold else ""
            click.echo("{id}  {plan:<10} {rate_limit_per_minute:>6}/min  "
                       "{linked_events:>11,} events  {created_at}  {name}".format(**row)
                       + held)


@main.group()
def keys() -> None:
    """API keys."""


@keys.command("create")
@click.option("--workspace", "workspace_id", required=True)
@click.option("--scopes", required=True, help=f"Comma-separated: {', '.join(ALL_SCOPES)}.")
@click.option("--name", default="cli", show_default=True)
@click.option("--expires-at", default=None, help="ISO 8601 expiry (default: never).")
@click.option("--json", "as_json", is_flag=True, help='Print {"workspace_id", "api_key"}.')
def create_key(workspace_id: str, scopes: str, name: str, expires_at: str | None,
               as_json: bool) -> None:
    """Create an API key; the secret is printed once."""
    try:
        expiry = parse_timestamp(expires_at) if expires_at else None
        issued = _container().create_api_key().execute(workspace_id, name, scopes.split(","),
                                                       expiry, _operator())
    except InvalidTimestamp as exc:
        raise click.BadParameter(str(exc), param_hint="--expires-at") from None
    except (ValidationFailed, NotFound) as exc:
        raise _fail(exc) from None
    if as_json:
        click.echo(json.dumps({"workspace_id": workspace_id, "api_key": issued.secret}))
    else:
        click.echo(f"key:     {issued.key.id}\napi key: {issued.secret}  (shown once)")


@keys.command("list")
@click.option("--workspace", "workspace_id", required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_keys(workspace_id: str, as_json: bool) -> None:
    """List a workspace's API keys, newest first (never their secrets)."""
    container = _container()
    try:
        container.get_workspace().execute(workspace_id)
    except NotFound as exc:
        raise _fail(exc) from None
    listing, cursor = container.list_api_keys(), None
    while True:
        page = listing.execute(workspace_id, limit=100, cursor=cursor)
        for key in page.items:
            row = _key_row(key)
            state = _key_state(key)
            expiry = f"  expires {row['expires_at']}" if state == "active" and \
                row["expires_at"] else ""  # a rolled key's grace, or an expiry set
            click.echo(json.dumps(row) if as_json else
                       f"{key.id}  {key.prefix}…  {state:<7}  "
                       f"{','.join(key.scopes):<28}  last used {row['last_used_at'] or 'never'}"
                       f"{expiry}  {key.name}")
        if not page.has_more:
            return
        cursor = page.next_cursor


def _key_row(key: ApiKey) -> dict[str, Any]:
    def stamp(moment: datetime | None) -> str | None:
        return format_timestamp(moment) if moment else None
    return {"id": key.id, "name": key.name, "prefix": key.prefix, "scopes": list(key.scopes),
            "created_at": stamp(key.created_at), "expires_at": stamp(key.expires_at),
            "revoked_at": stamp(key.revoked_at), "last_used_at": stamp(key.last_used_at)}


def _key_state(key: ApiKey) -> str:
    if key.revoked_at is not None:
        return "revoked"
    return "active" if key.is_active(datetime.now(UTC)) else "expired"


@keys.command("revoke")
@click.argument("key_id", required=False)
@click.option("--workspace", "workspace_id", help="The workspace of KEY_ID.")
@click.option("--stdin", "from_stdin", is_flag=True,
              help="Read the key itself from standard input (a leaked key: its workspace is "
                   "found from it; never give a secret as an argument, shells keep those).")
def revoke_key(key_id: str | None, workspace_id: str | None, from_stdin: bool) -> None:
    """Revoke an API key by its id, or, given the key itself on standard input, that key
    or viewer link token wherever it belongs; effective on the next request."""
    if from_stdin == bool(key_id or workspace_id) or (key_id is None) != (workspace_id is None):
        raise click.UsageError("give KEY_ID with --workspace, or --stdin")
    container = _container()
    if from_stdin:
        found = container.revoke_key_by_secret().execute(sys.stdin.readline().strip(),
                                                         _operator())
        if found is None:
            raise click.ClickException("no key has that secret (mistyped, or deleted with "
                                       "its workspace)")
        key, already = found
    else:
        try:
            already = container.get_api_key().execute(workspace_id, key_id).revoked_at \
                is not None  # type: ignore[arg-type]
            key = container.revoke_api_key().execute(
                workspace_id, key_id, _operator())  # type: ignore[arg-type]
        except NotFound as exc:
            raise _fail(exc) from None
    when = format_timestamp(key.revoked_at)  # type: ignore[arg-type]
    click.echo(f"{key.id} ({key.name}, {key.prefix}…) of {key.workspace_id}: "
               f"{'already revoked at' if already else 'revoked at'} {when}")


@keys.command("roll")
@click.argument("key_id")
@click.option("--workspace", "workspace_id", required=True, help="The workspace of KEY_ID.")
@click.option("--grace", type=click.IntRange(0, MAX_ROLL_GRACE_SECONDS), default=0,
              help="Seconds the old key keeps working while whatever holds it is "
                   f"redeployed (0, the default: it stops at once; at most "
                   f"{MAX_ROLL_GRACE_SECONDS}).")
@click.option("--expires-at", default=None, help="ISO 8601 expiry of the new key "
                                                 "(default: never).")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"workspace_id", "api_key", "key_id", "replaces", '
                   '"replaced_expires_at"}.')
def roll_key(key_id: str, workspace_id: str, grace: int, expires_at: str | None,
             as_json: bool) -> None:
    """Replace an API key by a new one with its name and scopes; the new secret is printed
    once. The old key stops at once, or after --grace seconds."""
    try:
        expiry = parse_timestamp(expires_at) if expires_at else None
        rolled = _container().roll_api_key().execute(workspace_id, key_id, grace, expiry,
                                                     _operator())
    except InvalidTimestamp as exc:
        raise click.BadParameter(str(exc), param_hint="--expires-at") from None
    except (ValidationFailed, NotFound, Conflict) as exc:
        raise _fail(exc) from None
    old, new = rolled.replaced, rolled.issued
    stops = format_timestamp(old.expires_at)  # type: ignore[arg-type]  # set by the roll
    if as_json:
        click.echo(json.dumps({"workspace_id": workspace_id, "api_key": new.secret,
                               "key_id": new.key.id, "replaces": old.id,
                               "replaced_expires_at": stops}))
        return
    click.echo(f"key:     {new.key.id}\napi key: {new.secret}  (shown once)\n"
               f"replaces {old.id} ({old.name}, {old.prefix}…): "
               f"{'works until' if grace else 'stopped at'} {stops}")


def _operator() -> Actor:
    """Changes made here, outside the API, as the workspace's records name them: by the
    server's operator, under the login that ran the command where it can be told."""
    try:
        login: str | None = getpass.getuser()
    except (OSError, KeyError):  # no login name in the environment or the password file
        login = None
    return Actor(OPERATOR, OPERATOR, login)


@main.group()
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
    container = _container()
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
        click.echo(json.dumps({**_check_document(check), "valid": check.valid,
                               "checked": check.checked}))
    elif check.invalid:
        since = format_timestamp(check.invalid_since) if check.invalid_since else "?"
        event = f" (event {check.event_id})" if check.event_id else ""
        click.echo(f"{check.workspace_id}: INVALID, {check.described()}{event}; invalid "
                   f"since {since}")
    else:
        click.echo(f"{check.workspace_id}: valid, {check.checked:,} events checked")


@main.group("signing-key")
def signing_key() -> None:
    """The key that signs the transparency log's checkpoints."""


@signing_key.command("generate")
def generate_signing_key() -> None:
    """Print a new key for AUDITRAIL_SIGNING_KEY (base64 of a 32-byte Ed25519 seed).

    Keep it like a password: whoever holds it can sign checkpoints. Every server and
    worker of an installation uses the same one.
    """
    click.echo(build_container(Settings()).new_signing_key())


@signing_key.command("verifier-key")
@click.option("--workspace", "workspace_id", required=True, help="The workspace's id (ws_…).")
def show_verifier_key(workspace_id: str) -> None:
    """Print the verifier key auditors pin for a workspace's log, from the configured
    signing key rather than over the network: what you publish to them, e.g. after a
    rotation. Keys it replaced follow, one a line, marked "previous"."""
    container = _container()
    try:
        container.get_workspace().execute(workspace_id)
    except NotFound as exc:
        raise _fail(exc) from None
    key = container.transparency_log().key(workspace_id)
    click.echo(key.verifier_key)
    for previous in key.previous:
        click.echo(f"previous {previous.verifier_key}")


@signing_key.command("countersign")
def countersign_log() -> None:
    """Sign every stored checkpoint and retention anchor with AUDITRAIL_SIGNING_KEY.

    The last step of a rotation: run it once every process has the new key (with the old
    one in AUDITRAIL_PREVIOUS_SIGNING_KEYS); afterwards nothing stored needs the old key,
    and each workspace's rotation note is kept, for monitors that pinned the old key.
    """
    last_said = time.monotonic()

    def progress(so_far: Countersigned, read: int) -> None:
        nonlocal last_said
        if time.monotonic() - last_said >= PROGRESS_SECONDS:
            last_said = time.monotonic()
            click.echo(f"… {read:,} note(s) read, {so_far.checkpoints:,} checkpoint(s) "
                       f"countersigned so far", err=True)

    outcome = _container().countersign_log().execute(progress)
    click.echo(f"countersigned {outcome.checkpoints} checkpoint(s) and {outcome.anchors} "
               f"retention anchor(s) with the current signing key; kept "
               f"{outcome.rotations} rotation note(s)")
    for unreadable in outcome.unreadable:
        click.echo(f"unreadable: {unreadable} is signed by no key in AUDITRAIL_SIGNING_KEY "
                   f"or AUDITRAIL_PREVIOUS_SIGNING_KEYS; left as it is", err=True)
    if outcome.unreadable:
        sys.exit(1)


@main.group("secret-key")
def secret_key() -> None:
    """The key that signs download links and seals stored credentials."""


@secret_key.command("reseal")
def reseal_credentials() -> None:
    """Seal every stored stream and alert-rule credential with AUDITRAIL_SECRET_KEY.

    The last step of a rotation: run it once every process has the new key (with the old
    one in AUDITRAIL_PREVIOUS_SECRET_KEYS); afterwards the old key can be dropped.
    """
    outcome = _container().reseal_credentials().execute()
    click.echo(f"resealed {outcome.resealed} credential(s) with the current secret key")
    for credential in outcome.unreadable:
        click.echo(f"unreadable: {credential.kind} {credential.id} was sealed with a key that "
                   f"is neither AUDITRAIL_SECRET_KEY nor in AUDITRAIL_PREVIOUS_SECRET_KEYS; "
                   f"set its credential again with PATCH", err=True)
    if outcome.unreadable:
        sys.exit(1)


main.add_command(verify)
main.add_command(log_group)
main.add_command(witness_group)
