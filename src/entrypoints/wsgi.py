"""WSGI entry for running under another server: ``gunicorn 'entrypoints.wsgi:create()'``.

Production profile only (no embedded worker thread); nothing is built at import time.
"""

from __future__ import annotations

from flask import Flask

from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings


def create() -> Flask:
    return create_app(build_container(Settings.from_env()))
