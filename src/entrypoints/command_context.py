"""What the operator's commands share: the container a command runs with (an embedded
database migrated first, any other checked), and how failures and listings print."""

from __future__ import annotations

import getpass
import logging
from typing import TYPE_CHECKING

import click
from sqlalchemy.exc import DBAPIError

from domain.activity import OPERATOR, Actor
from domain.errors import ValidationFailed
from entrypoints.logs import configure_logging
from entrypoints.settings import Settings, SettingsError

if TYPE_CHECKING:
    from entrypoints.container.installation import Container

log = logging.getLogger("auditrail.cli")


def command_settings(*, serving: bool = False) -> Settings:
    """Settings from the environment; ``serving`` processes also need their secrets."""
    try:
        settings = Settings.from_env()
        if serving:
            settings.check_production_secrets()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    return settings


def command_container(*, migrate_embedded: bool = True, serving: bool = False) -> Container:
    """A container for this command: an embedded database is brought up to date first,
    any other must already be (``migrate_embedded=False``: the command migrates it).

    The installation is loaded here, not when this module is: ``serve`` names the metrics
    folder before anything imports prometheus-client."""
    from entrypoints.container.installation import build_container

    settings = command_settings()
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
        from entrypoints.preflight import schema_problem

        raise click.ClickException(schema_problem(missing))


def fail(exc: Exception) -> click.ClickException:
    if isinstance(exc, ValidationFailed):
        lines = [f"  {error.field}: {error.message}" for error in exc.errors]
        return click.ClickException("\n".join([str(exc), *lines]))
    return click.ClickException(str(exc))


def print_listing(heading: str, rows: list[str]) -> None:
    if rows:
        click.echo(heading)
    for row in rows:
        click.echo(f"  {row}")


def operator() -> Actor:
    """Changes made here, outside the API, as the workspace's records name them: by the
    server's operator, under the login that ran the command where it can be told."""
    try:
        login: str | None = getpass.getuser()
    except (OSError, KeyError):  # no login name in the environment or the password file
        login = None
    return Actor(OPERATOR, OPERATOR, login)
