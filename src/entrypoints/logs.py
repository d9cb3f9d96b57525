"""Structured logs: one JSON object per line, for people and log shippers alike.

What goes in is chosen at each call site (request ids, workspace ids, routes, counts);
keys, secrets, signatures and event bodies never do. Tracebacks appear only at DEBUG.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}
_ENCODER = json.JSONEncoder(default=str, ensure_ascii=False)  # one line per request: built once


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="microseconds").removesuffix("+00:00") + "Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": _message(record),
        }
        line.update({key: value for key, value in vars(record).items()
                     if key not in _STANDARD and not key.startswith("_")})
        if record.exc_info and logging.getLogger().isEnabledFor(logging.DEBUG):
            line["traceback"] = self.formatException(record.exc_info)
        return _ENCODER.encode(line)


_TRACEBACK = "Traceback (most recent call last):"


def _message(record: logging.LogRecord) -> str:
    """The message, without a traceback a library pasted into it (RQ does, for a failed
    job): below DEBUG only the exception's type is kept, as its text can quote SQL
    parameters, and so event data."""
    message = record.getMessage()
    head, found, trace = message.partition(_TRACEBACK)
    if not found or logging.getLogger().isEnabledFor(logging.DEBUG):
        return message
    lines = trace.strip().splitlines()
    kind = lines[-1].split(":", 1)[0].strip() if lines else ""
    return f"{head.rstrip()} ({kind})" if kind else head.rstrip()


def configure_logging(level: str) -> None:
    """JSON lines on stderr at ``level``; libraries that chatter are kept at WARNING."""
    # What no line shows is not collected either (the logging HOWTO's "Optimization"
    # switches): the caller's source position and thread. The process id stays, for
    # gunicorn's own lines.
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("alembic.runtime.migration", "rq.worker", "gunicorn.error"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
