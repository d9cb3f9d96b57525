"""gunicorn's own log lines (start-up, worker exits and timeouts, rejected requests) as
the same JSON lines as the app's, so a log shipper reads one format from every process."""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

from entrypoints.logs import JsonFormatter


class JsonLogger(Logger):
    def setup(self, cfg: Any) -> None:
        """gunicorn builds its handlers here, again on every reload (SIGHUP)."""
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(JsonFormatter())

    def info(self, msg: str, *args: Any, **kwargs: Any) -> None:
        """With ``reuse_port`` the master holds no socket (each worker binds its own), so
        gunicorn announces "Listening at:  (pid)": name the address the workers bind."""
        if msg.startswith("Listening at:") and args and not args[0]:
            args = (",".join(f"http://{bind}" for bind in self.cfg.bind), *args[1:])
        super().info(msg, *args, **kwargs)
