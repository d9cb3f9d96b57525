"""A real ``auditrail serve`` process: CLI-created workspace, an event over a socket."""

from __future__ import annotations

import http.client
import json
import logging
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from gunicorn.glogging import Logger
from gunicorn.http.errors import InvalidResponseHeader

from entrypoints.gunicorn_worker import ThreadWorker, error_bytes, rejection
from tests.integration.processes import AUDITRAIL, environment, start_server, stop, wait_for
from tests.queues import throwaway_queue_name


def call(method: str, url: str, key: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def chunked(base: str, path: str, key: str, body: bytes) -> tuple[int, Any]:
    """POST with ``Transfer-Encoding: chunked``: the server learns the size only by reading."""
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("POST", path, body=iter([body[:1000], body[1000:]]), headers={
            "Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def sent_whole(base: str, path: str, key: str, body: bytes) -> int:
    """The status answered to ``body`` written to its last byte before anything is read,
    or 0 when the server closed the connection first."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        try:
            sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                         f"Content-Type: application/json\r\nAuthorization: Bearer {key}"
                         f"\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        except OSError:  # reset, or a broken pipe
            return 0
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status


def test_embedded_serve_end_to_end(tmp_path: Path) -> None:
    env = environment(data_dir=str(tmp_path / "var"))
    server, base = start_server(env, tmp_path / "serve.log")
    try:
        created = json.loads(subprocess.run(
            [AUDITRAIL, "workspaces", "create", "--name", "Acme", "--json"], env=env,
            check=True, capture_output=True).stdout)
        key = created["api_key"]
        status, accepted = call("POST", f"{base}/api/v1/events", key, {
            "action": "user.login", "actor": {"id": "usr_1", "type": "user"},
            "context": {"ip_address": "203.0.113.7"}})
        assert status == 202
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            status, event = call("GET", f"{base}/api/v1/events/{accepted['id']}", key)
            if event["status"] == "processed":
                break
            time.sleep(0.1)
        assert event["status"] == "processed" and event["sequence"] == 1
        assert call("GET", f"{base}/api/v1/events/verify", key)[1]["valid"] is True
        status, error = call("GET", f"{base}/api/v1/events/verify", "ak_wrong")
        assert status == 401 and error["error"]["code"] == "unauthenticated"
        oversized = b'{"action": "a", "actor": {"id": "u", "type": "t"}}' + b" " * (1 << 20)
        status, error = chunked(base, "/api/v1/events", key, oversized)
        assert status == 413 and error["error"]["code"] == "payload_too_large"
        assert chunked(base, "/api/v1/events", key, oversized[:5000])[0] == 202
        # Sent whole before the answer is read, as a proxy sends it (nginx: a 502 when the
        # server closed the connection under it), a body over the limit is still a 413.
        for body in (oversized, b"{" + b" " * (6 << 20)):  # 1 MiB + 50 bytes; 6 MiB
            assert sent_whole(base, "/api/v1/events/batch" if len(body) > 1 << 21
                              else "/api/v1/events", key, body) == 413
        # Declared far past what is worth reading, it is refused before a byte is sent.
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(f"POST /api/v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: "
                         f"application/json\r\nAuthorization: Bearer {key}\r\n"
                         f"Content-Length: {100 << 20}\r\n\r\n".encode())
            response = http.client.HTTPResponse(sock)
            response.begin()  # within the timeout: the server waits for none of it
            assert response.status == 413
    finally:
        assert stop(server) == 0, (tmp_path / "serve.log").read_text()[-2000:]
    # `make run` passes no --workers: nothing to warn about (it warned on every start)
    assert "ignoring --workers" not in (tmp_path / "serve.log").read_text()



MALFORMED = [  # what gunicorn rejects before the app sees any of it, and the status
    (b"GET /api/v1/events HTTP/1.1\r\nHost: x\r\n"
     b"Authorization: Bearer ak_supersecret\x01\r\n\r\n", 400),
    (b"BLAH /api/v1/exports/x/download?signature=topsecret\r\n\r\n", 400),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n", 431),
]


def raw_exchange(base: str, request: bytes) -> http.client.HTTPResponse:
    """Bytes no HTTP client library would send, and the server's parsed answer."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(request)
    response = http.client.HTTPResponse(sock)
    response.begin()
    response.body = response.read()  # type: ignore[attr-defined]
    sock.close()
    return response


@pytest.mark.parametrize("profile", ["embedded", "production"])
def test_malformed_http_is_answered_in_the_error_shape(profile: str, tmp_path: Path,
                                                       request: pytest.FixtureRequest) -> None:
    """gunicorn rejects these before Flask runs: the answer is still the contract's JSON,
    with a request id, and neither it nor the log quotes what the client sent."""
    settings = {"data_dir": str(tmp_path / "var")}
    if profile == "production":
        settings.update(database_url=request.getfixturevalue("postgres_url"),
                        redis_url=request.getfixturevalue("redis_url"),
                        queue_name=throwaway_queue_name())
    log = tmp_path / "serve.log"
    server, base = start_server(environment(**settings), log)
    try:
        for sent, status in MALFORMED:
            response = raw_exchange(base, sent)
            assert response.status == status
            assert response.getheader("Content-Type") == "application/json"
            error = json.loads(response.body)["error"]  # type: ignore[attr-defined]
            assert error["code"] == "invalid_parameter" and error["message"]
            assert error["request_id"] == response.getheader("X-Request-Id")
            assert error["request_id"].startswith("req_")
        metrics = urllib.request.urlopen(f"{base}/metrics", timeout=10).read().decode()
    finally:
        assert stop(server) == 0, log.read_text()[-2000:]
    assert 'route="unmatched",status="431"} 1.0' in metrics
    lines = [json.loads(line) for line in log.read_text().splitlines()
             if not line.startswith("auditrail: embedded mode")]  # every line is JSON
    rejected = [line for line in lines if line["message"] == "rejected a malformed request"]
    assert sorted(line["status"] for line in rejected) == [400, 400, 414, 431]
    assert any(line["logger"] == "gunicorn.error" and line["level"] == "info"
               for line in lines)  # gunicorn's own start-up lines, as JSON too
    assert any(line["message"].startswith(f"Listening at: {base} (")
               for line in lines)  # production's master binds nothing, its workers do
    assert "supersecret" not in log.read_text() and "topsecret" not in log.read_text()


def test_a_fault_of_the_server_itself_is_an_internal_error() -> None:
    """An invalid header the app tried to send is no fault of the client's."""
    status, message = rejection(InvalidResponseHeader("X-Bad: \n"))
    head, body = error_bytes(status, message, "req_1").split(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
    assert json.loads(body) == {"error": {
        "code": "internal_error", "request_id": "req_1",
        "message": "Something went wrong on our side; quote the request id."}}


def test_an_unknown_failure_in_the_http_server_is_a_500_naming_no_internals(
        caplog: pytest.LogCaptureFixture) -> None:
    class _Ids:
        def new(self, prefix: str) -> str:
            return f"{prefix}_01TEST"

    class _Container:
        def ids(self) -> _Ids:
            return _Ids()

    worker = ThreadWorker.__new__(ThreadWorker)  # only what handle_error uses
    worker.wsgi = Flask("probe")
    worker.wsgi.extensions["container"] = _Container()
    worker.log = Logger.__new__(Logger)
    worker.log.error_log = logging.getLogger("gunicorn.error")
    server_side, client_side = socket.socketpair()
    with caplog.at_level(logging.ERROR, logger="gunicorn.error"):
        worker.handle_error(None, server_side, ("203.0.113.7", 5555),
                            RuntimeError("password=hunter2"))
    server_side.close()
    response = client_side.recv(65536)
    assert response.startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
    assert json.loads(response.split(b"\r\n\r\n")[1])["error"]["code"] == "internal_error"
    [record] = caplog.records
    assert record.request_id == "req_01TEST" and record.error == "RuntimeError"
    assert "hunter2" not in response.decode() and "hunter2" not in record.getMessage()


@pytest.mark.parametrize("profile", ["embedded", "production"])
def test_processes_are_named_for_operators(profile: str, tmp_path: Path,
                                           request: pytest.FixtureRequest) -> None:
    """``ps`` showed "python -m gunicorn -c python:entrypoints.gunicorn_conf …" for every
    production process, and a worker only as "python auditrail worker"."""
    import psutil

    from tests.integration.processes import start_workers

    settings = {"data_dir": str(tmp_path / "var")}
    if profile == "production":
        settings.update(database_url=request.getfixturevalue("postgres_url"),
                        redis_url=request.getfixturevalue("redis_url"),
                        queue_name=throwaway_queue_name())
    env = environment(**settings)
    server, base = start_server(env, tmp_path / "serve.log")
    workers = start_workers(1, env, tmp_path) if profile == "production" else []

    def worker_names() -> set[str]:
        return {" ".join(psutil.Process(w.pid).cmdline()).strip() for w in workers}

    def titled() -> bool:  # RQ registers a worker a moment before it sets the title
        return all(name.startswith("rq:worker:") for name in worker_names())

    try:
        master = psutil.Process(server.pid)
        names = {" ".join(process.cmdline()).strip()
                 for process in [master, *master.children()]}
        workers_titled = wait_for(titled, timeout=30)
    finally:
        for process in [*workers, server]:
            assert stop(process) == 0
    bind = base.removeprefix("http://")
    assert f"gunicorn: master [auditrail {bind}]" in names
    assert f"gunicorn: worker [auditrail {bind}]" in names
    assert workers_titled  # production: RQ's title for its worker, with what it is doing
