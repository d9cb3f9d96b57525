"""Real HTTP receivers on 127.0.0.1 for delivery tests: they record every request and
answer as a test tells them (a status, a delay, a redirect, a hang)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.time)
    status: int | None = None
    """What the receiver answered (None while it has not yet)."""

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"{}"
    delay: float = 0.0


class Receiver:
    """``answer`` decides each reply from what came in (default: 200 at once)."""

    def __init__(self, answer: Callable[[Received], Answer] | None = None) -> None:
        self.requests: list[Received] = []
        self.events_accepted = 0
        """Events in the webhook bodies answered 2xx (repeats included)."""
        self.answer = answer or (lambda _: Answer())
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real receivers do
            # Headers and body go out in two writes: with Nagle's algorithm the body
            # waited for the sender's delayed ACK, 40 ms an answer, which real receivers
            # (nginx, the SIEMs) do not make a sender wait.
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                received = Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                                    self.rfile.read(length))
                with receiver._lock:
                    receiver.requests.append(received)
                reply = receiver.answer(received)
                if reply.delay:
                    time.sleep(reply.delay)
                received.status = reply.status
                if 200 <= reply.status < 300:
                    with receiver._lock:
                        receiver.events_accepted += _webhook_events(received.body)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self._server.server_port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def bodies(self) -> list[Any]:
        """What it accepted (answered 2xx), in arrival order."""
        with self._lock:
            return [request.json() for request in self.requests
                    if request.status is not None and 200 <= request.status < 300]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _webhook_events(body: bytes) -> int:
    """The events in a webhook body; none in another type's (Splunk's is one JSON object
    a line: reading it as one document failed, the handler died without answering, and
    the stream retried what had arrived)."""
    try:
        document = json.loads(body)
    except ValueError:
        return 0
    return len(document.get("events", ())) if isinstance(document, dict) else 0


@contextmanager
def receiver(answer: Callable[[Received], Answer] | None = None) -> Iterator[Receiver]:
    running = Receiver(answer)
    try:
        yield running
    finally:
        running.close()


def failing_first(count: int, status: int = 500) -> Callable[[Received], Answer]:
    """Answer ``status`` to the first ``count`` requests, then 200."""
    seen = iter(range(count))
    lock = threading.Lock()

    def answer(_: Received) -> Answer:
        with lock:
            failing = next(seen, None) is not None
        return Answer(status, body=b'{"error": "try later"}') if failing else Answer()
    return answer


def signature_valid(secret: str, received: Received, tolerance: float = 300) -> bool:
    """What docs/streams.md tells a receiver to do with ``Auditrail-Signature``."""
    parts = dict(item.split("=", 1) for item in received.headers["auditrail-signature"].split(","))
    timestamp = int(parts["t"])
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + received.body,
                        hashlib.sha256).hexdigest()
    return abs(time.time() - timestamp) <= tolerance and hmac.compare_digest(expected,
                                                                              parts["v1"])
