"""The commands that run the worker and prepare the service's ground: ``worker``, ``check``
and ``db upgrade``; and the checks ``serve`` and ``worker`` make before starting."""

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


def require_geo(container: Container) -> None:
    """A geo database that cannot be read would fail every event's processing and stall
    the chains; a process that would process events refuses to start instead."""
    try:
        container.geo()
    except GeoDatabaseUnusable as exc:
        raise click.ClickException(f"geo database: {exc} (AUDITRAIL_GEOIP_DB)") from None


def require_log_signer(container: Container) -> None:
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
    require_geo(container)
    require_log_signer(container)
    run_worker(container, burst=burst, metrics_port=metrics_port)


@click.command()
def check() -> None:
    """Check what `serve` and `worker` need, without starting them or changing anything:
    the settings, the database and its migrations, Redis (production), that the signing
    key signed each log's latest checkpoint, the geo database, the exports folder. Run it
    before restarting on a new release or new settings; exit 1 names each problem (a WARN,
    such as a Redis that evicts jobs, does not fail it)."""
    try:
        settings = command_settings(serving=True)
    except click.ClickException as exc:
        click.echo(f"FAIL  {'settings':<15} {exc.message}")
        sys.exit(1)
    configure_logging(settings.log_level)
    click.echo(f"ok    {'settings':<15} the {settings.profile} profile")
    failed = False
    for finding in findings(build_container(settings)):
        click.echo(f"{finding.label:<5} {finding.part:<15} {finding.said}")
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
