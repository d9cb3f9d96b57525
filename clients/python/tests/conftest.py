"""A real ``auditrail serve`` (embedded profile: SQLite and its own worker thread) for the
client's tests, and a proxy in front of it that fails on demand."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

AUDITRAIL = shutil.which("auditrail", path=str(Path(sys.executable).parent)) or \
    shutil.which("auditrail")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    url: str
    data_dir: Path
    env: dict[str, str]

    def cli(self, *args: str) -> Any:
        result = subprocess.run([AUDITRAIL, *args], env=self.env, capture_output=True,
                                text=True, timeout=60, check=True)
        return json.loads(result.stdout) if "--json" in args else result.stdout

    def workspace(self, *plan: str) -> str:
        """A new workspace's admin key (unlimited unless a plan is given)."""
        plan = plan or ("--plan", "enterprise", "--rate-limit", "1000000")
        return self.cli("workspaces", "create", "--name", "client tests", *plan,
                        "--json")["api_key"]


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    with running_server() as running:
        yield running


@contextlib.contextmanager
def running_server(data_dir: Path | None = None, **settings: str) -> Iterator[Server]:
    """``auditrail serve`` in a fresh data folder (or ``data_dir``, kept afterwards: the
    same installation started again); ``settings``: more AUDITRAIL_ variables, without
    the prefix."""
    if AUDITRAIL is None:
        pytest.skip("the auditrail server is not installed here (make test installs it)")
    kept = data_dir is not None
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="auditrail-client-tests-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITRAIL_")}
    env.update(AUDITRAIL_DATA_DIR=str(data_dir), AUDITRAIL_CHECKPOINT_SECONDS="1",
               AUDITRAIL_LOG_LEVEL="WARNING",
               AUDITRAIL_ALLOW_PRIVATE_DESTINATIONS="1")  # webhooks to a local receiver
    env.update({f"AUDITRAIL_{name.upper()}": value for name, value in settings.items()})
    port = free_port()
    log = (data_dir / "serve.log").open("wb")
    process = subprocess.Popen([AUDITRAIL, "serve", "--port", str(port)], env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise AssertionError((data_dir / "serve.log").read_text()) from None
            time.sleep(0.2)
    try:
        yield Server(url, data_dir, env)
    finally:
        process.terminate()
        process.wait(30)
        log.close()
        if not kept:
            shutil.rmtree(data_dir, ignore_errors=True)


@dataclass
class Faults:
    """What the proxy does to the next batch requests, one entry each: ``500``, ``429``
    (Retry-After: 1), ``drop`` (close without answering), ``lose`` (forward, then close
    before answering: the server stored the batch, the client never hears it)."""

    upstream: str
    planned: list[str] = field(default_factory=list)
    seen: list[tuple[float, str, int]] = field(default_factory=list)
    delay: float = 0.0
    withhold: list[str] = field(default_factory=list)
    """Paths answered 404, as a log withholding them would."""
    bodies: list[tuple[str, str, int]] = field(default_factory=list)
    """Each request's path, Content-Encoding and body size, as the proxy received it."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next(self, path: str) -> str | None:
        with self.lock:
            if path.endswith("/events/batch") and self.planned:
                return self.planned.pop(0)
            return None


class _Handler(BaseHTTPRequestHandler):
    faults: Faults
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # an answer's body would wait 40 ms for a delayed ACK

    def log_message(self, *_: Any) -> None:
        pass

    def _any(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.faults.lock:
            self.faults.bodies.append((self.path, self.headers.get("Content-Encoding", ""),
                                       len(body)))
        fault = self.faults.next(self.path)
        if self.faults.delay:
            time.sleep(self.faults.delay)
        if fault == "drop":
            self._record(0)
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if self.path.split("?")[0] in self.faults.withhold:
            fault = "404"
        if fault in ("500", "429", "404"):
            status = int(fault)
            self._record(status)
            code = {429: "rate_limited", 404: "not_found"}.get(status)
            payload = b"upstream trouble" if status == 500 else json.dumps({"error": {
                "code": code, "message": "slow down" if status == 429 else "not here",
                "request_id": "req_proxy"}}).encode()
            self.send_response(status)
            if status == 429:
                self.send_header("Retry-After", "1")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        host, port = self.faults.upstream.rsplit(":", 1)
        upstream = http.client.HTTPConnection(host, int(port), timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        upstream.request(self.command, self.path, body=body or None, headers=headers)
        answer = upstream.getresponse()
        data = answer.read()
        upstream.close()
        self._record(answer.status if fault != "lose" else -answer.status)
        if fault == "lose":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self, status: int) -> None:
        with self.faults.lock:
            self.faults.seen.append((time.monotonic(), self.path, status))

    do_GET = do_POST = do_PATCH = do_DELETE = _any


@pytest.fixture
def proxy(server: Server) -> Iterator[tuple[str, Faults]]:
    with running_proxy(server) as running:
        yield running


@contextlib.contextmanager
def running_proxy(server: Server) -> Iterator[tuple[str, Faults]]:
    """A proxy in front of ``server``: its URL, and the faults it is told to make."""
    faults = Faults(upstream=server.url.removeprefix("http://"))
    handler = type("Handler", (_Handler,), {"faults": faults})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", faults
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def witness(server: Server, client: Any, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A real ``auditrail witness serve`` following the client's workspace's log."""
    info = client.log.key()
    state = tmp_path / "witness" / "state.sqlite3"
    env = {**server.env, "AUDITRAIL_WITNESS_NAME": "witness.test/w1",
           "AUDITRAIL_WITNESS_STATE": str(state)}
    key = subprocess.run([AUDITRAIL, "witness", "verifier-key"], env=env, check=True,
                         capture_output=True, text=True).stdout.strip()
    port = free_port()
    process = subprocess.Popen([AUDITRAIL, "witness", "serve", "--port", str(port),
                                "--log", info.verifier_key], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=1).close()
            break
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
    yield key, url
    process.terminate()
    process.wait(30)
