"""The ``auditrail`` command line (contract §9).

A command's module is imported when that command runs, not before: ``auditrail verify``
and ``auditrail log monitor``, which auditors run on machines of their own (from cron,
every few minutes), load none of the installation's libraries, and start in a fraction of
the second that loading them takes.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any, NamedTuple

import click


class Entry(NamedTuple):
    """Where a command is defined (``module:attribute``), and the line ``auditrail --help``
    shows for it without loading it."""

    location: str
    summary: str


COMMANDS = {
    "serve": Entry("entrypoints.serve_cli:serve", "Run the HTTP API (gunicorn)."),
    "worker": Entry("entrypoints.service_cli:worker",
                    "Run a queue worker (production: needs AUDITRAIL_REDIS_URL)."),
    "check": Entry("entrypoints.service_cli:check",
                   "Check what `serve` and `worker` need, changing nothing."),
    "db": Entry("entrypoints.service_cli:db", "Database schema: apply migrations."),
    "workspaces": Entry("entrypoints.workspaces_cli:workspaces",
                        "Create, change and list workspaces."),
    "keys": Entry("entrypoints.workspaces_cli:keys", "Create, list, roll and revoke API keys."),
    "status": Entry("entrypoints.status_cli:status",
                    "What processing, signing and delivery have left to do."),
    "chains": Entry("entrypoints.status_cli:chains",
                    "The workspaces' hash chains: check one now."),
    "signing-key": Entry("entrypoints.server_keys_cli:signing_key",
                         "The key that signs the transparency log's checkpoints."),
    "secret-key": Entry("entrypoints.server_keys_cli:secret_key",
                        "The key that signs download links and seals credentials."),
    "verify": Entry("entrypoints.verify_cli:verify",
                    "Verify an NDJSON export offline, and that the log holds it."),
    "log": Entry("entrypoints.log_cli:log_group", "Watch a workspace's transparency log."),
    "witness": Entry("entrypoints.witness_cli:witness",
                     "Cosign logs' checkpoints, each only if it extends the last."),
    "openapi": Entry("entrypoints.openapi_cli:openapi",
                     "Print the API document (OpenAPI 3.1) this release serves."),
}
"""Each command by its name."""


class _Commands(click.Group):
    """The commands, loaded by name; failures of what a command talks to, as one line each
    rather than a traceback: the operator needs what failed and where, and the stack is
    noise to them."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attribute = COMMANDS[cmd_name].location.split(":")
        return getattr(importlib.import_module(module), attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The list from each command's summary: loading every command to read its own
        would take the seconds that importing the installation's libraries does."""
        with formatter.section("Commands"):
            formatter.write_dl([(name, COMMANDS[name].summary)
                                for name in self.list_commands(ctx)])

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:  # `… list | head`: the reader has what it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nor at exit
            ctx.exit(1)
        except OSError as exc:
            where = f" {exc.filename}" if exc.filename else ""
            raise click.ClickException(f"cannot use{where}: {exc.strerror or exc}") from None
        except Exception as exc:
            problem = _service_problem(exc)
            if problem is None:
                raise
            raise click.ClickException(problem) from None


def _service_problem(exc: Exception) -> str | None:
    """What failed, when the database or Redis did; None for any other failure. Only a
    command that loaded their libraries can have met their failures, and a command that
    did not (``verify``, ``log monitor``) is not made to load them here."""
    if "sqlalchemy" in sys.modules:
        from sqlalchemy.exc import DBAPIError

        if isinstance(exc, DBAPIError):  # connection refused, authentication, permissions, …
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
            return f"the database could not be used: {reason}"
    if "redis" in sys.modules:
        from redis.exceptions import RedisError

        if isinstance(exc, RedisError):  # a worker's queue
            return f"Redis could not be used: {exc}"
    return None


@click.group(cls=_Commands)
@click.version_option(package_name="auditrail")
def main() -> None:
    """Auditrail: a tamper-evident audit-log service."""
