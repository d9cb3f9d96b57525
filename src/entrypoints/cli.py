"""The ``auditrail`` command line (contract §9)."""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import re
import shlex
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError

from application.errors import NotFound
from application.ports.geo import GeoDatabaseUnusable
from application.use_cases.countersign_log import Countersigned
from application.use_cases.delete_workspace import WorkspaceContents
from application.use_cases.delivery_status import DeliveryStatus, StreamLag
from application.use_cases.processing_status import ProcessingStatus
from domain.api_keys import ApiKey
from domain.canonical_json import canonical_json
from domain.errors import ValidationFailed
from domain.evidence import EvidenceCheck, EvidenceFailed
from domain.hash_chain import ChainHead, document_core
from domain.merkle import leaf_hash
from domain.scopes import ALL_SCOPES
from domain.signed_notes import InvalidNote, parse_verifier_key
from domain.signed_notes import verifier_key as verifier_key_text
from domain.streams import FAILING
from domain.timestamps import InvalidTimestamp, format_timestamp, parse_timestamp
from domain.verification import (
    GENESIS,
    PREV_HASH_MISMATCH,
    SEQUENCE_GAP,
    ChainVerifier,
    VerificationReport,
    verify_partial,
)
from domain.workspaces import PLANS
from entrypoints import ndjson_file
from entrypoints.container import Container, build_container
from entrypoints.logs import configure_logging
from entrypoints.preflight import (
    findings,
    migrations_text,
    schema_problem,
    stranger_problem,
)
from entrypoints.settings import EMBEDDED, Settings, SettingsError
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
    log streams furthest behind or failing."""
    container = _container()
    report = container.processing_status().execute(workspaces=count)
    deliveries = container.delivery_status().execute()
    # The embedded queue lives in the `serve` process; this process cannot see it. An
    # unreachable Redis counts as an empty queue for the metric, not here.
    embedded = container.settings().profile == EMBEDDED
    queued = report.queued_jobs if not embedded and container.job_queue().ping() else None
    behind = _streams_behind(deliveries, count)
    if as_json:
        click.echo(json.dumps({
            **_status_document(report, queued),
            "alert_notifications_pending": deliveries.pending_notifications,
            "streams_behind": [{**asdict(lag), "lag_seconds": round(lag.lag_seconds, 3)}
                               for lag in behind]}))
    else:
        unknown = "in the serve process" if embedded else "unknown, Redis is unreachable"
        _print_status(report, queued if queued is not None else unknown,
                      report.workers if report.workers is not None else unknown)
        click.echo(f"alert notifications pending: {deliveries.pending_notifications:,}")
        _print_listing("log streams behind:", [
            f"{lag.stream_id}  {lag.workspace_id}  {lag.status:<7} {lag.backlog:>9,} "
            f"undelivered, the oldest waiting {lag.lag_seconds:,.1f} s" for lag in behind])


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
def create_workspace(name: str, plan: str, rate_limit: int | None, as_json: bool,
                     as_env: bool) -> None:
    """Create a workspace and print its first admin API key."""
    try:
        workspace, issued = _container().create_workspace().execute(name, plan, rate_limit)
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
def update_workspace(workspace_id: str, plan: str | None, rate_limit: int | None) -> None:
    """Change a workspace's plan or enterprise rate limit (effective at once)."""
    if plan is None and rate_limit is None:
        raise click.UsageError("give --plan and/or --rate-limit")
    try:
        workspace = _container().update_workspace_plan().execute(workspace_id, plan, rate_limit)
    except (ValidationFailed, NotFound) as exc:
        raise _fail(exc) from None
    click.echo(f"{workspace.id}: plan {workspace.plan}, "
               f"{workspace.rate_limit_per_minute} requests/min")


@workspaces.command("delete")
@click.argument("workspace_id")
@click.option("--yes", is_flag=True, help="Do not ask for the workspace's name (scripts).")
def delete_workspace(workspace_id: str, yes: bool) -> None:
    """Delete a workspace and everything it holds, for good: events, signed log, keys,
    viewer links, log streams, alert rules and alerts, exports and their files."""
    deletion = _container().delete_workspace()
    try:
        contents = deletion.contents(workspace_id)
    except NotFound as exc:
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
               "linked_events": listed.linked_events}
        if as_json:
            click.echo(json.dumps(row))
        else:
            click.echo("{id}  {plan:<10} {rate_limit_per_minute:>6}/min  "
                       "{linked_events:>11,} events  {created_at}  {name}".format(**row))


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
                                                       expiry)
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
            click.echo(json.dumps(row) if as_json else
                       f"{key.id}  {key.prefix}…  {_key_state(key):<7}  "
                       f"{','.join(key.scopes):<28}  last used {row['last_used_at'] or 'never'}"
                       f"  {key.name}")
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
        found = container.revoke_key_by_secret().execute(sys.stdin.readline().strip())
        if found is None:
            raise click.ClickException("no key has that secret (mistyped, or deleted with "
                                       "its workspace)")
        key, already = found
    else:
        try:
            already = container.get_api_key().execute(workspace_id, key_id).revoked_at \
                is not None  # type: ignore[arg-type]
            key = container.revoke_api_key().execute(workspace_id, key_id)  # type: ignore[arg-type]
        except NotFound as exc:
            raise _fail(exc) from None
    when = format_timestamp(key.revoked_at)  # type: ignore[arg-type]
    click.echo(f"{key.id} ({key.name}, {key.prefix}…) of {key.workspace_id}: "
               f"{'already revoked at' if already else 'revoked at'} {when}")


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True,
                                        path_type=Path))
@click.option("--partial", is_flag=True,
              help="The file is a filtered export: check every event against its own "
                   "prev_hash instead of one unbroken chain from sequence 1.")
@click.option("--checkpoint", "checkpoints", multiple=True, metavar="SEQUENCE:HASH",
              callback=lambda _ctx, _param, values: _checkpoints(values),
              help="A head recorded earlier (to_sequence and head_hash of GET "
                   "/events/verify): the file must hold that event with that hash, so the "
                   "chain up to it was not rewritten since. Repeatable.")
@click.option("--evidence", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The export's evidence (GET /exports/{id}/evidence): prove the rows are "
                   "in the signed log, and for an unfiltered export that none is missing.")
@click.option("--verifier-key", "verifier_key",
              help="The log's verifier key, as you pinned it (GET /log/key once, kept "
                   "safe): needed with --evidence.")
def verify(file: Path, partial: bool, checkpoints: tuple[ChainHead, ...],
           evidence: Path | None, verifier_key: str | None) -> None:
    """Verify the hash chain of an NDJSON export offline (exit 0 when valid); with
    --evidence and --verifier-key, also that it is in the log the key signed.

    FILE may be gzip-compressed (an export made with "gzip": true), or - for standard input.
    """
    check = _evidence(file, evidence, verifier_key)
    partial = partial or (check is not None and check.frontier is None)
    seen: dict[int, Any] = {}
    documents = _noting(ndjson_file.documents(file), {c.sequence for c in checkpoints},
                        seen)
    try:
        first = next(documents, None)
        stream = itertools.chain([first] if first is not None else [], documents)
        if partial:
            report = verify_partial(_proved(stream, check))
        else:  # a chain trimmed by retention starts after its anchor, not at genesis
            report = _verify_whole(stream, GENESIS if _at_genesis(first) else None, check)
        if check is not None and report.valid:
            check.finish()
    except ndjson_file.UnreadableFile as exc:
        _invalid(str(exc))
    except EvidenceFailed as exc:
        _invalid(f"evidence: {exc}")
    if not report.valid:
        hint = not partial and report.reason in (SEQUENCE_GAP, PREV_HASH_MISMATCH)
        _invalid(f"{report.reason} at {_failed_event(report)}; {report.checked} events "
                 f"checked", "(if this is a filtered export, verify it with --partial)"
                 if hint else None)
    _require_checkpoints(checkpoints, seen)
    click.echo(_valid(report, partial, first))
    if checkpoints:
        click.echo(f"checkpoints matched: {', '.join(str(c.sequence) for c in checkpoints)}")
    if check is not None:
        proved = "none is missing: they rebuild" if check.frontier is not None \
            else "each is included in"
        click.echo(f"evidence: {check.rows} rows are in the log {check.checkpoint.origin}, "
                   f"{proved} its signed tree of size {check.checkpoint.tree_size}")
        signer = check.signed_by
        if signer is not None and signer != parse_verifier_key(verifier_key or ""):
            click.echo(f"the verifier key given has since been replaced: its rotation "
                       f"notes lead to {verifier_key_text(signer.name, signer.public_key)}, which "
                       f"signed the checkpoint")


def _evidence(file: Path, evidence: Path | None,
              verifier_key: str | None) -> EvidenceCheck | None:
    if evidence is None:
        if verifier_key is not None:
            raise click.UsageError("--verifier-key goes with --evidence")
        return None
    if verifier_key is None:
        raise click.UsageError("--evidence needs --verifier-key: the key you pinned, not "
                               "one the evidence could bring along")
    try:
        key = parse_verifier_key(verifier_key)
        document = json.loads(evidence.read_text())
        if not isinstance(document, dict):
            raise ValueError("not a JSON object")
        check = EvidenceCheck.of(document, key, build_container(Settings())
                                 .signature_checker().verify)
    except InvalidNote as exc:
        raise click.BadParameter(str(exc), param_hint="--verifier-key") from None
    except ValueError as exc:
        _invalid(f"evidence: the file is not evidence ({exc})")
    except EvidenceFailed as exc:
        _invalid(f"evidence: {exc}")
    expected = document.get("file_sha256")
    if str(file) != "-" and expected and _sha256(file) != expected:
        _invalid("evidence: the file is not the one the evidence describes (its sha256 "
                 "differs)")
    return check


def _sha256(file: Path) -> str:
    """In constant memory: an export may be larger than the machine's memory."""
    with file.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _verify_whole(stream: Iterator[dict[str, Any]], anchor: ChainHead | None,
                  check: EvidenceCheck | None) -> VerificationReport:
    """One pass: each row's canonical bytes serve the chain hash and the leaf hash."""
    verifier = ChainVerifier(anchor)
    for document in stream:
        if not verifier.feed(document):
            break
        if check is not None:
            check.feed(document, verifier.leaf)
    return verifier.finish()


def _proved(stream: Iterator[dict[str, Any]],
            check: EvidenceCheck | None) -> Iterator[dict[str, Any]]:
    for document in stream:
        if check is not None:
            check.feed(document, leaf_hash(canonical_json(document_core(document))))
        yield document


def _at_genesis(first: dict[str, Any] | None) -> bool:
    """An export that starts after sequence 1 starts at the workspace's retained anchor."""
    return first is None or not isinstance(first.get("sequence"), int) or first["sequence"] <= 1


def _valid(report: VerificationReport, partial: bool, first: dict[str, Any] | None) -> str:
    if not report.checked:
        return ("valid: the file holds no events (an export of an empty workspace or "
                "filter); compare with GET /events/verify")
    kind = "partial chain, every event intact" if partial else "whole chain"
    if first is not None and not partial and not _at_genesis(first):
        kind = (f"chain from the retention anchor at sequence {first['sequence'] - 1}, "
                f"hash {first.get('prev_hash')}: compare it with GET /events/verify")
    return (f"valid ({kind}): {report.checked} events, sequences "
            f"{report.from_sequence}-{report.to_sequence}, head hash {report.head_hash}")


def _invalid(message: str, note: str | None = None) -> NoReturn:
    click.echo(f"invalid: {message}", err=True)
    if note:
        click.echo(note, err=True)
    sys.exit(1)


_CHECKPOINT = re.compile(r"([1-9][0-9]{0,18}):([0-9a-fA-F]{64})")


def _checkpoints(values: tuple[str, ...]) -> tuple[ChainHead, ...]:
    parsed = []
    for value in values:
        match = _CHECKPOINT.fullmatch(value)
        if match is None:
            raise click.BadParameter(f"{value!r} is not SEQUENCE:HASH (a sequence, a colon "
                                     "and the 64 hex digits of its hash)")
        parsed.append(ChainHead(int(match[1]), match[2].lower()))
    return tuple(parsed)


def _noting(documents: Iterator[dict[str, Any]], sequences: set[int],
            seen: dict[int, Any]) -> Iterator[dict[str, Any]]:
    """Pass the documents on, keeping the hash of each one a checkpoint names."""
    for document in documents:
        sequence = document.get("sequence")
        if type(sequence) is int and sequence in sequences:
            seen[sequence] = document.get("hash")
        yield document


def _require_checkpoints(checkpoints: tuple[ChainHead, ...], seen: dict[int, Any]) -> None:
    """An intact chain can still be a rewritten one, recomputed from the first change on;
    a head recorded before the change tells."""
    for checkpoint in checkpoints:
        if checkpoint.sequence not in seen:
            _invalid(f"the file holds no event at the checkpoint's sequence "
                     f"{checkpoint.sequence}")
        if seen[checkpoint.sequence] != checkpoint.hash:
            _invalid(f"the event at sequence {checkpoint.sequence} has hash "
                     f"{seen[checkpoint.sequence]}, not the checkpoint's {checkpoint.hash}: "
                     f"the chain up to it was rewritten")


def _failed_event(report: VerificationReport) -> str:
    """Where the chain broke, with what the file says of that event."""
    where = (f"sequence {report.first_invalid_sequence}"
             if report.first_invalid_sequence is not None
             else f"the file's event {report.checked}, which has no whole-number sequence")
    return f"{where} (event {report.event_id})" if report.event_id else where


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


@main.group("log")
def log_group() -> None:
    """Watch a workspace's transparency log."""


def _seen_notes(names: tuple[str, ...]) -> list[str]:
    """The distinct signed notes in the files named, or in every file under the folders
    named, all read before the log is asked (one received after it answered could be
    newer than the checkpoint it served: a false alarm). A name under which there is no
    note is a mistake to name, not a check that passed."""
    from entrypoints.seen_checkpoints import UnreadableFile, checkpoint_notes, files_under
    notes: dict[str, None] = {}
    for name in names:
        found = 0
        for file in [name] if name == "-" else files_under(Path(name)):
            with click.open_file(str(file), encoding="utf-8-sig", errors="replace") as handle:
                try:
                    for note in checkpoint_notes(handle):
                        notes[note] = None
                        found += 1
                except UnreadableFile as exc:
                    raise click.BadParameter(f"{file}: {exc}", param_hint="--seen") \
                        from None
        if not found:
            raise click.BadParameter(f"{name} holds no signed note", param_hint="--seen")
    return list(notes)


@log_group.command("monitor")
@click.option("--url", required=True, help="Auditrail's base URL, e.g. https://audit.example.com")
@click.option("--key", "api_key", required=True, envvar="AUDITRAIL_API_KEY",
              help="An API key with events:read (or the AUDITRAIL_API_KEY variable).")
@click.option("--state", "state_file", required=True, type=click.Path(path_type=Path),
              help="Where the last checkpoint checked is kept between runs.")
@click.option("--verifier-key", "verifier_key",
              help="The log's verifier key, pinned on the first run (and checked on later "
                   "ones); get it once from GET /log/key over a channel you trust.")
@click.option("--seen", "seen_files", multiple=True,
              type=click.Path(exists=True, allow_dash=True),
              help="A file of checkpoints kept elsewhere, or a folder of such files, each "
                   "checkpoint of which must be in the log's history: signed notes, or "
                   "JSON (documents one a line, run together or over lines) holding them "
                   "as 'checkpoint' or 'note', such as saved webhook bodies, an export's "
                   "evidence or another monitor's state file. Repeatable; - reads stdin.")
@click.option("--witness", "witnesses", multiple=True, nargs=2, metavar="KEY URL",
              help="A C2SP tlog-witness to submit the checked checkpoint to, by its "
                   "verifier key and URL (e.g. one run with `auditrail witness serve`): it "
                   "cosigns only checkpoints that extend the last one it cosigned for "
                   "anyone. Repeatable.")
def monitor(url: str, api_key: str, state_file: Path, verifier_key: str | None,
            seen_files: tuple[str, ...], witnesses: tuple[tuple[str, str], ...]) -> None:
    """Fetch the latest checkpoint, check its signature with the pinned key, demand a
    consistency proof from the checkpoint kept last time (and from each one --seen), and
    keep the new one. Exit 0 when the log only grew; exit 1, loudly, on any inconsistency
    (a rewritten log, or one showing readers different histories, or a witness refusing
    it as another history); exit 2 when the log could not be asked (nothing checked, the
    state kept) or a witness could not be (the log checked, its state kept)."""
    from entrypoints.log_monitor import (
        LogUnreachable,
        MonitorFailed,
        WitnessesUnavailable,
        run_monitor,
        witness_target,
    )
    seen = _seen_notes(seen_files)
    try:
        targets = [witness_target(key, witness_url) for key, witness_url in witnesses]
    except MonitorFailed as exc:
        raise click.BadParameter(str(exc), param_hint="--witness") from None
    try:
        click.echo(run_monitor(url, api_key, state_file, verifier_key,
                               build_container(Settings()).signature_checker().verify,
                               seen, targets))
    except WitnessesUnavailable as exc:
        click.echo(exc.checked)
        for problem in exc.problems:
            click.echo(f"could not get a cosignature: {problem}", err=True)
        sys.exit(2)
    except LogUnreachable as exc:
        click.echo(f"could not check: {exc}", err=True)
        sys.exit(2)
    except MonitorFailed as exc:
        click.echo(f"ALERT: {exc}", err=True)
        sys.exit(1)


main.add_command(witness_group)
