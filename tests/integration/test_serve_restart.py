"""``auditrail serve`` killed abruptly under load (SIGKILL, the OOM killer) and started
again at once, as systemd's ``Restart=always`` does: the new one takes the port within
seconds, the old master's orphaned workers let go of it, and every event answered 202 is
stored exactly once."""

from __future__ import annotations

import http.client
import json
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import psutil
from sqlalchemy import create_engine, text

from tests.integration.processes import AUDITRAIL, environment, free_port, start, stop
from tests.queues import throwaway_queue_name

CLIENTS = 6


def healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def wait_until(condition, timeout: float) -> float | None:  # type: ignore[no-untyped-def]
    """Seconds until ``condition`` held, or None if it never did."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(0.05)
    return None


def listens(process: subprocess.Popen, port: int) -> bool:
    """Whether one of the process's own workers listens on the port."""
    try:
        children = psutil.Process(process.pid).children()
        return any(connection.status == psutil.CONN_LISTEN and connection.laddr.port == port
                   for child in children for connection in child.net_connections("tcp"))
    except psutil.Error:
        return False


def alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class Client(threading.Thread):
    """Posts events one after another over a kept-alive connection, each with its own
    Idempotency-Key, and sends an event again with the same key (on a new connection)
    until it is answered 202 - as the Python client does."""

    def __init__(self, port: int, key: str, number: int, stop_at: threading.Event) -> None:
        super().__init__(daemon=True)
        self.port, self.key, self.number, self.stop_at = port, key, number, stop_at
        self.acknowledged: list[str] = []
        self.failures = 0
        self.connection: http.client.HTTPConnection | None = None

    def run(self) -> None:
        n = 0
        while not self.stop_at.is_set():
            marker = f"c{self.number}-{n}"
            while not self._post(marker):
                self.failures += 1
                if self.stop_at.is_set():
                    return
                time.sleep(0.05)
            self.acknowledged.append(marker)
            n += 1

    def _post(self, marker: str) -> bool:
        body = json.dumps({"action": "user.login", "actor": {"id": "u", "type": "user"},
                           "metadata": {"marker": marker}})
        try:
            if self.connection is None:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port,
                                                             timeout=10)
            self.connection.request("POST", "/api/v1/events", body=body, headers={
                "Authorization": f"Bearer {self.key}", "Content-Type": "application/json",
                "Idempotency-Key": marker})
            response = self.connection.getresponse()
            response.read()
            if response.getheader("Connection", "").lower() == "close":
                self._drop()
            return response.status == 202
        except (OSError, http.client.HTTPException):
            self._drop()
            return False

    def _drop(self) -> None:
        if self.connection is not None:
            self.connection.close()
        self.connection = None


def test_serve_restarted_at_once_after_its_master_is_killed_takes_the_port_and_loses_nothing(
        tmp_path: Path, postgres_url: str, redis_url: str) -> None:
    env = environment(database_url=postgres_url, redis_url=redis_url,
                      queue_name=throwaway_queue_name(), data_dir=str(tmp_path / "var"))
    created = json.loads(subprocess.run(
        [AUDITRAIL, "workspaces", "create", "--name", "Restart", "--json"], env=env,
        check=True, capture_output=True).stdout)
    subprocess.run([AUDITRAIL, "workspaces", "update", created["workspace_id"], "--plan",
                    "enterprise", "--rate-limit", "1000000"], env=env, check=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve = ("serve", "--port", str(port), "--workers", "2")
    first = start(*serve, env=env, log=tmp_path / "first.log")
    second = None
    orphans: list[psutil.Process] = []
    stop_at = threading.Event()
    clients = [Client(port, created["api_key"], n, stop_at) for n in range(CLIENTS)]
    try:
        assert wait_until(lambda: healthy(base), 30) is not None, \
            (tmp_path / "first.log").read_text()
        # The master forks its workers one after another: the first may answer before
        # the second is forked.
        assert wait_until(lambda: len(psutil.Process(first.pid).children()) == 2, 10) \
            is not None
        orphans = psutil.Process(first.pid).children()
        for client in clients:
            client.start()
        time.sleep(2)
        before = sum(len(c.acknowledged) for c in clients)
        first.kill()  # the master only: its workers are orphaned, as after the OOM killer
        first.wait()
        restarted = time.monotonic()
        second = start(*serve, env=env, log=tmp_path / "second.log")
        assert wait_until(lambda: not any(alive(o) for o in orphans), 10) is not None, \
            "the orphaned workers kept running"
        assert wait_until(lambda: second.poll() is not None or healthy(base), 15) is not None
        answered = time.monotonic() - restarted  # the orphans are gone: only it can answer
        assert second.poll() is None, (tmp_path / "second.log").read_text()[-3000:]
        assert listens(second, port)
        print(f"the restarted serve answered after {answered:.2f} s")
        time.sleep(2)
        stop_at.set()
        for client in clients:
            client.join(timeout=20)
        after = sum(len(c.acknowledged) for c in clients)
        assert after > before > 0  # the load ran on both sides of the kill
    finally:
        stop_at.set()
        for process in (first, second):
            if process is not None and process.poll() is None:
                stop(process)
        for orphan in orphans:  # reparented away from us: only their pids find them
            if alive(orphan):
                orphan.kill()
    assert answered < 8, f"the restarted serve answered after {answered:.1f} s"
    acknowledged = [marker for client in clients for marker in client.acknowledged]
    engine = create_engine(postgres_url)
    with engine.connect() as connection:
        bodies = connection.execute(text("SELECT body FROM events WHERE workspace_id = :w"),
                                    {"w": created["workspace_id"]}).scalars().all()
    engine.dispose()
    stored = [json.loads(body)["metadata"]["marker"] for body in bodies]
    assert len(stored) == len(set(stored)), "an event was stored twice"
    missing = set(acknowledged) - set(stored)
    assert not missing, f"{len(missing)} events answered 202 were not stored"


def test_a_second_serve_on_a_port_in_use_is_refused_not_given_half_its_requests(
        tmp_path: Path, postgres_url: str, redis_url: str) -> None:
    """Workers bind with SO_REUSEPORT, which would let another release, or the same one
    with other settings, share the port silently; a dead master's orphans are waited for
    (the test above), a live server is not."""
    env = environment(database_url=postgres_url, redis_url=redis_url,
                      queue_name=throwaway_queue_name(), data_dir=str(tmp_path / "var"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    first = start("serve", "--port", str(port), "--workers", "1", env=env,
                  log=tmp_path / "first.log")
    try:
        assert wait_until(lambda: healthy(base), 30) is not None, \
            (tmp_path / "first.log").read_text()
        second = subprocess.run([AUDITRAIL, "serve", "--port", str(port)], env=env,
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 1, second.stderr[-2000:]
        assert f"another process listens on 127.0.0.1:{port}: stop it first" in second.stderr
        assert healthy(base) and first.poll() is None
    finally:
        stop(first)
