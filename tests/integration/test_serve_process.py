"""A real ``auditrail serve`` process: CLI-created workspace, an event over a socket."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

AUDITRAIL = shutil.which("auditrail", path=str(Path(sys.executable).parent))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(method: str, url: str, key: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def wait_until_up(base: str, server: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, "serve exited early"
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("serve did not come up")


@pytest.fixture
def served(tmp_path: Path):  # type: ignore[no-untyped-def]
    assert AUDITRAIL, "the auditrail console script is not installed"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITRAIL_")}
    env["AUDITRAIL_DATA_DIR"] = str(tmp_path / "var")
    port = free_port()
    server = subprocess.Popen([AUDITRAIL, "serve", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, server)
        yield base, env, server
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0].decode()
    assert server.returncode == 0, output


def test_embedded_serve_end_to_end(served) -> None:  # type: ignore[no-untyped-def]
    base, env, _ = served
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
