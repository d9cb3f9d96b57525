"""WSGI entry for running under another server: ``gunicorn 'entrypoints.wsgi:create()'``.

Production profile only (no embedded worker thread); nothing is built at import time, and
each worker process is warmed up (``warm_up``) before it takes its first request.
"""

from __future__ import annotations

from flask import Flask

from entrypoints.container.installation import build_container
from entrypoints.http.app import create_app
from entrypoints.logs import configure_logging
from entrypoints.settings import Settings
from entrypoints.warm_up import warm_up


def create() -> Flask:
    settings = Settings.from_env()
    settings.check_production_secrets()
    configure_logging(settings.log_level)
    container = build_container(settings)
    app = create_app(container)
    warm_up(container)
    return app
