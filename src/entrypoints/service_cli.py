"""The commands that run the service and prepare its ground: ``serve``, ``worker``,
``check`` and ``db upgrade``."""

from __future__ import annotations

import sys

import click
from sqlalchemy.exc import DBAPIError

from application.ports.geo import GeoDatabaseUnusable
from entrypoints.command_context import command_container, command_settings
from entrypoints.container.installation import Container, build_container
from entrypoints.logs import configure_logging
from entrypoints.preflight import findings, migrations_text, stranger_problem
from entrypoints.settings import EMBEDDED


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


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=None, type=click.IntRange(1, 64),
              help="HTTP worker processes (production profile, default 2; embedded runs "
                   "one).")
def serve(host: str, port: int, workers: int | None) -> None:
    """Run the HTTP API (gunicorn)."""
    from entrypoints.gunicorn_app import PortTaken
    from entrypoints.server import serve as run_server

    settings = command_settings(serving=True)
    checked = command_container(serving=True)  # embedded: migrated before workers fork
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


@click.command()
@click.option("--burst", is_flag=True, help="Exit once the queue is empty.")
@click.option("--metrics-port", type=click.IntRange(1, 65535), default=None,
              help="Serve this worker's Prometheus metrics on this port.")
def worker(burst: bool, metrics_port: int | None) -> None:
    """Run a queue worker (production profile: needs AUDITRAIL_REDIS_URL)."""
    from entrypoints.worker.rq_worker import run_worker

    settings = command_settings(serving=True)
    if settings.profile == EMBEDDED:
        raise click.ClickException(
            "`auditrail worker` needs AUDITRAIL_REDIS_URL; in embedded mode `auditrail serve` "
            "runs the worker in-process.")
    container = command_container(serving=True)
    _require_geo(container)
    _require_log_signer(container)
    run_worker(container, burst=burst, metrics_port=metrics_port)


@click.command()
def check() -> None:
    """Check what `serve` and `worker` need, without starting them or changing anything:
    the settings, the database and its migrations, Redis (production), that the signing
    key signed each log's latest checkpoint, the geo database, the exports folder. Run it
    before restarting on a new release or new settings; exit 1 names each problem."""
    try:
        settings = command_settings(serving=True)
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


@click.group()
def db() -> None:
    """Database schema."""


@db.command()
def upgrade() -> None:
    """Apply pending schema migrations."""
    container = command_container(migrate_embedded=False)
    missing = container.missing_migrations()
    container.upgrade_database()
    # An operator reading a deploy log wants to know whether this run changed the schema.
    click.echo(f"database is up to date: applied {migrations_text(missing)}" if missing
               else "database is up to date: nothing to apply")
