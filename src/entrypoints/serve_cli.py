"""``auditrail serve``: the HTTP API under gunicorn, whose master is this very process.

The checks before serving load the installation, and gunicorn's workers fork from the
process that loaded it: none imports it again, so a ``serve`` restarted after a crash
answers about two seconds sooner than when gunicorn was started afresh. prometheus-client
chooses where its counters live when it is imported, so with several processes the
metrics folder is named first: this module imports nothing that loads it, and the rest
is loaded inside ``serve``.
"""

from __future__ import annotations

import os
import shutil
import sys

import click

from entrypoints.command_context import command_container, command_settings
from entrypoints.container.folders import private_folder
from entrypoints.gunicorn_app import PortTaken, require_free_port
from entrypoints.settings import EMBEDDED, Settings


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=None, type=click.IntRange(1, 64),
              help="HTTP worker processes (production profile, default 2; embedded runs "
                   "one).")
def serve(host: str, port: int, workers: int | None) -> None:
    """Run the HTTP API (gunicorn)."""
    settings = command_settings(serving=True)
    try:
        require_free_port(host, port)
    except PortTaken as exc:
        raise click.ClickException(str(exc)) from None
    if settings.profile != EMBEDDED:
        _count_across_processes(settings)
    from entrypoints.server import serve as run_server
    from entrypoints.service_cli import require_geo, require_log_signer

    checked = command_container(serving=True)  # embedded: migrated before workers fork
    require_geo(checked)
    require_log_signer(checked)
    checked.engine().dispose()  # each worker opens its own connections
    if settings.profile == EMBEDDED:
        click.echo(f"auditrail: embedded mode, data in {settings.data_dir.resolve()}",
                   err=True)
    run_server(settings, host, port, workers)


def _count_across_processes(settings: Settings) -> None:
    """prometheus-client's multi-process mode, in a folder emptied of the last run's
    processes: whichever worker answers a scrape then reports every worker's counters."""
    if "prometheus_client" in sys.modules:
        raise RuntimeError("prometheus_client was imported before serve named its metrics "
                           "folder: each worker would count alone")
    metrics_dir = settings.data_dir / "prometheus"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    private_folder(metrics_dir)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir.resolve())
