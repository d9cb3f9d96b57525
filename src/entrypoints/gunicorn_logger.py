"""gunicorn's own log lines (start-up, worker exits and timeouts, rejected requests) as
the same JSON lines as the app's, so a log shipper reads one format from every process."""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

from entrypoints.logs import JsonFormatter


class JsonLogger(Logger):  # type: ignore[misc]
    def setup(self, cfg: Any) -> None:
        """gunicorn builds its handlers here, again on every reload (SIGHUP)."""
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(JsonFormatter())
