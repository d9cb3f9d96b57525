"""Helpers to run real ``auditrail`` processes (serve, worker) in tests."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

AUDITRAIL = shutil.which("auditrail", path=str(Path(sys.executable).parent))


def call(base: str, method: str, path: str, key: str, body: Any = None) -> Any:
    """A JSON request to a running server with ``key``; its JSON answer (raises on 4xx/5xx)."""
    request = urllib.request.Request(f"{base}{path}", method=method, headers={
        "Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        data=None if body is None else json.dumps(body).encode())
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(**settings: str) -> dict[str, str]:
    """The test's environment without any AUDITRAIL_ setting, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITRAIL_")}
    env.update({f"AUDITRAIL_{name.upper()}": value for name, value in settings.items()})
    if "redis_url" in settings and "secret_key" not in settings:
        env["AUDITRAIL_SECRET_KEY"] = "test-secret-key-not-for-production"
    if "redis_url" in settings and "signing_key" not in settings:
        from tests.integration.stacks import TEST_SIGNING_KEY
        env["AUDITRAIL_SIGNING_KEY"] = TEST_SIGNING_KEY
    return env


def start(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    assert AUDITRAIL, "the auditrail console script is not installed"
    return subprocess.Popen([AUDITRAIL, *args], env=env, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT)


def start_server(env: dict[str, str], log: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    [started] = start_servers(1, env, log.parent, *extra, logs=[log])
    return started


def start_servers(count: int, env: dict[str, str], folder: Path, *extra: str,
                  logs: list[Path] | None = None) -> list[tuple[subprocess.Popen, str]]:
    """``count`` servers on ports of their own, started together (each one's start-up is
    seconds of imports), returned with their base URLs once every one answers."""
    logs = logs or [folder / f"serve{i}.log" for i in range(count)]
    started = []
    for log in logs:
        port = free_port()
        started.append((start("serve", "--port", str(port), *extra, env=env, log=log),
                        f"http://127.0.0.1:{port}", log))
    for server, base, log in started:
        wait_until_up(server, base, log)
    return [(server, base) for server, base, _ in started]


def wait_until_up(server: subprocess.Popen, base: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"serve exited early:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise AssertionError("serve did not come up")


def start_workers(count: int, env: dict[str, str], logs: Path) -> list[subprocess.Popen]:
    """``count`` workers, returned once every one listens on the queue (a worker still
    importing when a test ends would be stopped before it could handle SIGTERM).

    Listening, not only registered: RQ registers a worker (then in state ``started``)
    before it installs its SIGTERM handler, and a test stopping a worker in between saw it
    die of the signal (-15) instead of stopping gracefully; ``idle`` or ``busy`` come
    after."""
    from redis import Redis
    from rq import Queue, Worker

    workers = [start("worker", env=env, log=logs / f"worker{i}.log") for i in range(count)]
    connection = Redis.from_url(env["AUDITRAIL_REDIS_URL"])
    queue = Queue(env["AUDITRAIL_QUEUE_NAME"], connection=connection)
    pids = {worker.pid for worker in workers}

    def listening() -> bool:
        states = {w.pid: w.get_state() for w in Worker.all(queue=queue)}
        return all(states.get(pid) in ("idle", "busy") for pid in pids)
    assert wait_for(listening, timeout=60), "workers did not come up"
    return workers


def stop(process: subprocess.Popen, timeout: float = 30) -> int:
    if process.poll() is None:
        process.terminate()
    return process.wait(timeout)


def wait_for(condition, timeout: float, interval: float = 0.2) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()
