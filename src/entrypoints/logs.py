"""Structured logs: one JSON object per line, for people and log shippers alike.

What goes in is chosen at each call site (request ids, workspace ids, routes, counts);
keys, secrets, signatures and event bodies never do. Tracebacks appear only at DEBUG.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable
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
    kind = _exception_type(trace)
    return f"{head.rstrip()} ({kind})" if kind else head.rstrip()


def _exception_type(trace: str) -> str:
    """The type of the exception a formatted traceback ends with: the first unindented
    line after its last frame, not its last line, since a message may run on over several
    (SQLAlchemy's end in "(Background on this error at: …)")."""
    lines = trace.splitlines()
    frames = [number for number, line in enumerate(lines) if line.startswith("  File ")]
    for line in lines[frames[-1] + 1:] if frames else lines:
        if line and not line[0].isspace():
            return line.split(":", 1)[0].strip()
    return ""


def configure_logging(level: str) -> None:
    """JSON lines on stderr at ``level``; libraries that chatter are kept at WARNING."""
    # What no line shows is not collected either (the logging HOWTO's "Optimization"
    # switches): the caller's source position and thread. The process id stays, for
    # gunicorn's own lines.
    logging._srcfile = None
    logging.logThreads = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("alembic.runtime.migration", "rq.worker", "gunicorn.error"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    for name, repeated in OUTAGE_LINES.items():
        logger = logging.getLogger(name)
        if repeated not in logger.filters:
            logger.addFilter(repeated)


class RepeatedLines(logging.Filter):
    """Lets the first line containing ``marker`` through, then one a minute of each kind
    (its template and first argument), each telling in ``held_back`` how many of that
    kind were dropped since the last one shown."""

    def __init__(self, marker: str, clock: Callable[[], float] = time.monotonic,
                 interval: float = 60.0) -> None:
        super().__init__()
        self.marker = marker
        self._clock = clock
        self._interval = interval
        self._said: dict[tuple[str, str], float] = {}
        self._held: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        template = str(record.msg)
        if self.marker not in template:
            return True
        first = record.args[0] if isinstance(record.args, tuple) and record.args else ""
        kind = (template, str(first))
        with self._lock:
            now = self._clock()
            said = self._said.get(kind)
            if said is not None and now - said < self._interval:
                self._held[kind] = self._held.get(kind, 0) + 1
                return False
            self._said[kind] = now
            held = self._held.pop(kind, 0)
        if held:
            record.held_back = held
        return True


OUTAGE_LINES = {
    # RQ's worker loop and pub/sub thread, every one to two seconds while Redis is down.
    "rq.worker": RepeatedLines("could not connect to Redis"),
    # Each process's wake-ups (``adapters.rq_queue``), each send while Redis is down.
    "adapters.rq_queue.job_queue": RepeatedLines("upkeep will retry"),
    # Each request a server answers 503 while the database is down (its request line,
    # at INFO, still says so with its request id).
    "entrypoints.http.errors": RepeatedLines("database unavailable"),
}
"""Lines an outage repeats many times a second across processes, by logger: the
operator needs the first, a reminder a minute, and how many were left out."""
