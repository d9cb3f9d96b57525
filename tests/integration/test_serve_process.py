"""A real ``auditrail serve`` process: CLI-created workspace, an event over a socket."""

from __future__ import annotations

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
    finally:
        assert stop(server) == 0, (tmp_path / "serve.log").read_text()[-2000:]
    # `make run` passes no --workers: nothing to warn about (it warned on every start)
    assert "ignoring --workers" not in (tmp_path / "serve.log").read_text()
