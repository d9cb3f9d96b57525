"""Gunicorn run inside an ``auditrail`` process, and the port it is to listen on: what
``auditrail serve`` and ``auditrail witness serve`` share (the witness loads nothing of a
log's installation)."""

from __future__ import annotations

import socket
import time
from typing import Any

from gunicorn.app.base import BaseApplication


class ConfiguredApplication(BaseApplication):
    """Gunicorn run in this process with the options given, not a command line's; the
    subclass's ``load`` builds the app in each worker process, after fork."""

    def __init__(self, options: dict[str, Any]) -> None:
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)


class PortTaken(Exception):
    """Another process keeps listening on the port ``serve`` was asked for."""


PORT_PATIENCE_SECONDS = 3.0
"""How long a listener already on the port may take to let go: the orphaned workers of a
master that was killed do within a second."""


def require_free_port(host: str, port: int, patience: float = PORT_PATIENCE_SECONDS) -> None:
    """Refuse a port another server listens on. Production workers bind with
    ``SO_REUSEPORT`` (so that a restarted ``serve`` takes its port beside a dead master's
    orphans), which would let a second ``serve`` started by mistake - another release,
    other settings, another signing key - bind the same port and silently take half of
    its requests."""
    target = {"0.0.0.0": "127.0.0.1", "::": "::1",  # noqa: S104 - where to look, not bind
              "": "127.0.0.1"}.get(host, host)
    deadline = time.monotonic() + patience
    while True:
        try:
            socket.create_connection((target, port), timeout=0.5).close()
        except OSError:
            return
        if time.monotonic() >= deadline:
            raise PortTaken(f"another process listens on {host}:{port}: stop it first, or "
                            "choose another --port (two servers sharing a port would split "
                            "its requests between them)")
        time.sleep(0.2)
