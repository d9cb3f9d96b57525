"""The nginx server block of docs/operations.md, as the distribution's nginx runs it, in
front of a real ``auditrail serve`` with ``AUDITRAIL_TRUSTED_PROXIES=1`` as the page says:
TLS, addresses as the proxy saw them (never as a client claims), the API's own errors for
large bodies, compressed answers, and ``/metrics`` closed."""

from __future__ import annotations

import datetime
import gzip
import http.client
import json
import os
import re
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.integration.processes import environment, free_port, start_server, stop
from tests.integration.stacks import admin_key_in

OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
pytestmark = pytest.mark.skipif(
    not NGINX and not os.environ.get("AUDITRAIL_REQUIRE_SERVICES"),
    reason="nginx is not installed (apt-get install nginx; .ci/run does)")
HOST = "audit.example.com"


def server_block() -> str:
    [block] = re.findall(r"```nginx\n(.*?)```", OPERATIONS.read_text(), re.S)
    return block


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=1))
                   .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    (folder / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem"


def configuration(folder: Path, port: int, upstream: str) -> str:
    """The documented block as it stands, but for where its certificate, port and server
    are, inside the least an nginx.conf needs to run unprivileged files from ``folder``."""
    certificate, key = self_signed(folder)
    block = server_block()
    for documented, here in (
            (f"/etc/letsencrypt/live/{HOST}/fullchain.pem", str(certificate)),
            (f"/etc/letsencrypt/live/{HOST}/privkey.pem", str(key)),
            ("listen 443 ", f"listen 127.0.0.1:{port} "),
            ("http://127.0.0.1:8080", upstream)):
        assert documented in block, documented
        block = block.replace(documented, here)
    temporary = " ".join(f"{kind}_temp_path {folder / kind};"
                         for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    # Run by root (CI), its workers would be nobody's, barred from the test's folder.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return (f"daemon off;\n{user}pid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'};\n"
            f"events {{}}\nhttp {{\naccess_log {folder / 'access.log'};\n{temporary}\n"
            f"{block}}}\n")


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("proxy")
    admin = admin_key_in(folder / "var")
    process, base = start_server(environment(data_dir=str(folder / "var"),
                                             trusted_proxies="1"), folder / "serve.log")
    try:
        port = free_port()
        (folder / "nginx.conf").write_text(configuration(folder, port, base))
        command = [NGINX or "nginx", "-p", str(folder), "-c", str(folder / "nginx.conf")]
        checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr  # the distribution's nginx takes it
        nginx = subprocess.Popen(command, stderr=(folder / "nginx.stderr").open("wb"))
        try:
            deadline = time.monotonic() + 10
            while request(port, "GET", "/healthz")[0] != 200:
                assert time.monotonic() < deadline and nginx.poll() is None, \
                    "nginx did not start"
                time.sleep(0.1)
            yield {"port": port, "admin": admin}
        finally:
            nginx.terminate()
            nginx.wait(10)
    finally:
        stop(process)


def request(port: int, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None,
            source: str = "127.0.0.1") -> tuple[int, dict[str, str], bytes]:
    """Over TLS to the proxy, from ``source`` (any address of the loopback network: the
    proxy, which the server sees as its peer, is 127.0.0.1, so another tells them apart)."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # self-signed
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10,
                                             source_address=(source, 0))
    try:
        connection.request(method, path, body=body, headers={"Host": HOST, **(headers or {})})
        answer = connection.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    except OSError:
        return 0, {}, b""
    finally:
        connection.close()


def api(proxied: dict[str, Any], method: str, path: str, body: Any = None,
        source: str = "127.0.0.1", **headers: str) -> tuple[int, dict[str, str], Any]:
    status, answered, data = request(
        proxied["port"], method, f"/api/v1{path}",
        None if body is None else json.dumps(body).encode(),
        {"Authorization": f"Bearer {proxied['admin']}", "Content-Type": "application/json",
         **headers}, source)
    if answered.get("content-encoding") == "gzip":
        data = gzip.decompress(data)
    return status, answered, json.loads(data) if data else None


def test_the_server_sees_the_address_the_proxy_saw_never_the_one_claimed(proxied) -> None:
    reader = "127.0.0.2"
    status, _, _ = api(proxied, "PATCH", "/workspace", {"ip_allowlist": [f"{reader}/32"]},
                       source=reader)
    assert status == 200
    try:
        # allowed as the proxy saw it (the server's own peer is the proxy, 127.0.0.1),
        # whatever it claims
        claimed = {"X-Forwarded-For": "203.0.113.9"}
        assert api(proxied, "GET", "/workspace", source=reader, **claimed)[0] == 200
        # another address is refused, even claiming the allowed one
        status, _, body = api(proxied, "GET", "/workspace", source="127.0.0.3",
                              **{"X-Forwarded-For": reader})
        assert status == 403 and body["error"]["code"] == "ip_not_allowed"
        assert api(proxied, "GET", "/workspace")[0] == 403  # the proxy's own address too
    finally:
        api(proxied, "PATCH", "/workspace", {"ip_allowlist": []}, source=reader)


def test_large_bodies_reach_the_api_and_answers_are_compressed(proxied) -> None:
    events = [{"action": "user.login", "actor": {"id": f"usr_{n}", "type": "user"},
               "metadata": {"note": "x" * 5300}} for n in range(1000)]
    status, answered, body = api(proxied, "POST", "/events/batch", {"events": events})
    assert status == 413 and body["error"]["code"] == "payload_too_large"  # the API's shape
    status, _, body = api(proxied, "POST", "/events/batch", {"events": events[:100]})
    assert status == 202 and body["count"] == 100
    status, answered, body = api(proxied, "GET", "/events?limit=100",
                                 **{"Accept-Encoding": "gzip"})
    assert status == 200 and answered["content-encoding"] == "gzip" and len(body["data"]) == 100


def test_metrics_are_closed_at_the_proxy(proxied) -> None:
    assert request(proxied["port"], "GET", "/metrics")[0] == 403
    assert request(proxied["port"], "GET", "/readyz")[0] == 200
