"""``auditrail serve``: gunicorn running the Flask app, never Flask's development server."""

from __future__ import annotations

import logging
from typing import Any

from entrypoints import gunicorn_conf
from entrypoints.container.installation import build_container
from entrypoints.gunicorn_app import ConfiguredApplication
from entrypoints.http.app import create_app
from entrypoints.settings import EMBEDDED, Settings
from entrypoints.warm_up import warm_up
from entrypoints.worker.embedded import start_embedded_worker, stop_embedded_worker

log = logging.getLogger(__name__)

_process_container = None
DEFAULT_WORKERS = 2


class AuditrailServer(ConfiguredApplication):
    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self._settings = settings
        super().__init__(options)

    def load(self) -> Any:
        global _process_container
        container = build_container(self._settings)
        _process_container = container
        if self._settings.profile == EMBEDDED:
            start_embedded_worker(container)
        app = create_app(container)
        warm_up(container)
        return app


def _worker_exit(server: Any, worker: Any) -> None:
    """On SIGTERM the worker drains its requests; then the embedded queue finishes its chunk."""
    if _process_container is not None and _process_container.settings().profile == EMBEDDED:
        stop_embedded_worker(_process_container)


def serve(settings: Settings, host: str, port: int, workers: int | None = None) -> None:
    """Gunicorn in this process, its workers forked from it. ``workers``: as the operator
    gave it, or None for the profile's default (2 in production; embedded always runs
    one, and says so only when asked for more)."""
    if settings.profile == EMBEDDED:
        if workers is not None and workers != 1:
            log.warning("embedded mode runs one process (its queue and limiter live in it); "
                        "ignoring --workers %d", workers)
        options = {**gunicorn_conf.SHARED, "workers": 1, "worker_exit": _worker_exit}
    else:
        options = {**gunicorn_conf.PRODUCTION, "workers": workers or DEFAULT_WORKERS}
    AuditrailServer(settings, {
        **options,
        "bind": f"{host}:{port}",
        "proc_name": _process_name(host, port),
        "loglevel": settings.log_level.lower(),
    }).run()


def _process_name(host: str, port: int) -> str:
    """What ``ps`` shows in brackets: the command line is replaced, and with it the port
    that told two servers on one machine apart."""
    return f"auditrail {host}:{port}"
