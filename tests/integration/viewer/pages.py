"""What the viewer's browser tests share: a real ``auditrail serve`` and a headless
Chromium to drive, the API calls that set up what the page shows, a proxy that tampers with
the proofs it serves, and screenshots at desktop and phone widths, kept in
``var/test-artifacts/viewer`` (or ``$AUDITRAIL_TEST_ARTIFACTS``)."""

from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.integration.processes import AUDITRAIL, call, environment, free_port

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
needs_chromium = pytest.mark.skipif(
    not (CHROMIUM and DRIVER) and not os.environ.get("AUDITRAIL_REQUIRE_SERVICES"),
    reason="Chromium and chromedriver are not installed (apt-get install chromium "
           "chromium-driver; .ci/run does)")
ARTIFACTS = Path(os.environ.get("AUDITRAIL_TEST_ARTIFACTS",
                                Path(__file__).resolve().parents[3] / "var" / "test-artifacts"))


def viewer_link(server: dict[str, Any], **body: Any) -> dict[str, Any]:
    return call(server["base"], "POST", "/api/v1/viewer-links", server["admin"],
                {"expires_in_seconds": 900, **body})


def wait(driver: Any, condition: Any, timeout: float = 20) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(driver, timeout).until(lambda d: condition(d))


def text(driver: Any, element_id: str) -> str:
    return driver.find_element("id", element_id).text


def rows(driver: Any) -> list[Any]:
    return driver.find_elements("css selector", "#events tbody tr")


def shoot(driver: Any, name: str) -> None:
    folder = ARTIFACTS / "viewer"
    folder.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(folder / f"{name}.png"))


class _Tampering(BaseHTTPRequestHandler):
    upstream: str

    def log_message(self, *_: Any) -> None:
        pass

    def do_GET(self) -> None:
        host, port = urlsplit(self.upstream).netloc.split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.request("GET", self.path, headers={k: v for k, v in self.headers.items()
                                                      if k.lower() != "host"})
        answer = connection.getresponse()
        body = answer.read()
        if self.path.split("?")[0].endswith("/proof") and answer.status == 200:
            proof = json.loads(body)
            leaf = bytearray(base64.b64decode(proof["leaf_hash"]))
            leaf[0] ^= 1  # the log serving a path for another leaf
            proof["leaf_hash"] = base64.b64encode(bytes(leaf)).decode()
            body = json.dumps(proof).encode()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class tampering_proxy:
    def __init__(self, upstream: str) -> None:
        handler = type("Handler", (_Tampering,), {"upstream": upstream})
        self._server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)

    def __enter__(self) -> str:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def recording_workspace_link(server: dict[str, Any]) -> dict[str, Any]:
    """A link to a new workspace of ``server`` that records changes to itself, holding
    one event of an application's beside its own records."""
    created = json.loads(subprocess.run(
        [AUDITRAIL or "auditrail", "workspaces", "create", "--name", "Labels",
         "--record-activity", "--json"], env=environment(data_dir=server["data_dir"]),
        capture_output=True, text=True, check=True).stdout)
    key = created["api_key"]
    call(server["base"], "POST", "/api/v1/events", key,
         {"action": "user.login", "actor": {"id": "usr_1", "type": "user"}})
    return call(server["base"], "POST", "/api/v1/viewer-links", key, {"filters": {}})
