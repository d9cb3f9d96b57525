"""``auditrail witness serve``: the witness's Flask app under gunicorn, in one process of
threads (each request's check-and-record is atomic in the ledger, so threads may race)."""

from __future__ import annotations

from typing import Any

from entrypoints import gunicorn_conf
from entrypoints.container.witness import WitnessContainer
from entrypoints.gunicorn_app import ConfiguredApplication, require_free_port
from entrypoints.witness_http import create_witness_app


class WitnessServer(ConfiguredApplication):
    def __init__(self, settings: dict[str, Any], options: dict[str, Any]) -> None:
        self._settings = settings
        super().__init__(options)

    def load(self) -> Any:
        return create_witness_app(WitnessContainer(**self._settings).witness())


def serve_witness(settings: dict[str, Any], host: str, port: int, log_level: str) -> None:
    """``settings`` are ``WitnessContainer``'s dependencies; the caller has created the
    ledger's table and key already, so the worker only opens them."""
    require_free_port(host, port)
    WitnessServer(settings, {
        "bind": f"{host}:{port}", "workers": 1, "worker_class": "gthread",
        "threads": gunicorn_conf.threads, "timeout": gunicorn_conf.timeout,
        "graceful_timeout": gunicorn_conf.graceful_timeout,
        "keepalive": gunicorn_conf.keepalive, "logger_class": gunicorn_conf.logger_class,
        "control_socket_disable": True, "proc_name": f"auditrail-witness {host}:{port}",
        "loglevel": log_level,
    }).run()
