"""WSGI entry for running under another server: ``gunicorn 'entrypoints.wsgi:create()'``.

Production profile only (no embedded worker thread); nothing is built at import time.
"""

from __future__ import annotations

from flask import Flask

from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.logs import configure_logging
from entrypoints.settings import Settings


def create() -> Flask:
    settings = Settings.from_env()
    settings.check_production_secrets()
    configure_logging(settings.log_level)
    return create_app(build_container(settings))
