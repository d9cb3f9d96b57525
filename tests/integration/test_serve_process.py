"""A real ``auditrail serve`` process: CLI-created workspace, an event over a socket."""

from __future__ import annotations

import http.client
import json
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.integration.processes import AUDITRAIL, environment, start_server, stop


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
    finally:
        assert stop(server) == 0, (tmp_path / "serve.log").read_text()[-2000:]
    # `make run` passes no --workers: nothing to warn about (it warned on every start)
    assert "ignoring --workers" not in (tmp_path / "serve.log").read_text()
