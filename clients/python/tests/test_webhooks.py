"""verify_webhook against what a real server sends: a stream's test delivery and an alert
rule's test notification, received by a real HTTP receiver."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from auditrail_client import Auditrail, WebhookInvalid, verify_webhook


@dataclass(frozen=True)
class Received:
    body: bytes
    signature: str | None


class Receiver:
    """Answers 204 to every POST and keeps its raw body and signature header."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                owner.requests.append(Received(body, self.headers.get("Auditrail-Signature")))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/hook"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def client(server) -> Auditrail:
    return Auditrail(server.url, server.workspace())


def _timestamp(received: Received) -> int:
    return int(dict(part.split("=", 1) for part in received.signature.split(","))["t"])


def test_a_stream_delivery_verifies_with_the_streams_secret(client: Auditrail,
                                                            receiver: Receiver) -> None:
    stream = client.streams.create("receiver", "webhook", {"url": receiver.url})
    assert client.streams.test(stream.id)["status"] == "delivered"
    [received] = receiver.requests
    delivery = verify_webhook(received.body, received.signature, stream.config["secret"])
    assert delivery["stream_id"] == stream.id
    assert [event["action"] for event in delivery["events"]] == ["auditrail.stream.test"]


def test_an_alert_notification_verifies_with_the_rules_secret(client: Auditrail,
                                                              receiver: Receiver) -> None:
    rule = client.alert_rules.create(name="hook", match={"actions": ["admin.*"]},
                                     notify={"webhook_url": receiver.url})
    sent = client.alert_rules.test(rule.id)
    assert sent["status"] == "delivered"
    [received] = receiver.requests
    notification = verify_webhook(received.body, received.signature,
                                  rule.notify["secret"].encode("utf-8"))  # bytes do too
    assert notification["type"] == "alert.triggered"
    assert notification["alert"]["id"] == sent["alert_id"]


def test_a_changed_byte_another_secret_or_a_stale_signature_is_refused(
        client: Auditrail, receiver: Receiver) -> None:
    stream = client.streams.create("receiver", "webhook", {"url": receiver.url})
    client.streams.test(stream.id)
    [received] = receiver.requests
    secret, signed_at = stream.config["secret"], _timestamp(received)
    body, signature = received.body, received.signature
    assert verify_webhook(body, signature, secret, now=signed_at + 300)  # the edge holds
    changed = body.replace(b'"sequence":0', b'"sequence":1')
    assert changed != body
    refusals = {
        "does not match": [(changed, signature, secret, {}),
                           (body, signature, secret + "x", {}),
                           (body, signature.replace("v1=", "v1=0"), secret, {})],
        "301 s old": [(body, signature, secret, {"now": signed_at + 301})],
        "301 s ahead of this clock": [(body, signature, secret, {"now": signed_at - 301})],
        "no Auditrail-Signature header": [(body, None, secret, {}), (body, "", secret, {})],
        "is not t=<unix seconds>,v1=<hex>": [
            (body, "sha256=abc", secret, {}), (body, signature.split(",")[1], secret, {}),
            (body, f"t=²,{signature.split(',')[1]}", secret, {}),
            (body, f"{signature},t={signed_at}", secret, {}),
            (body, f"t={signed_at},v1=é", secret, {})]}  # a header is Latin-1 in WSGI
    for reason, cases in refusals.items():
        for case_body, case_signature, case_secret, when in cases:
            with pytest.raises(WebhookInvalid, match=reason):
                verify_webhook(case_body, case_signature, case_secret, **when)
    with pytest.raises(TypeError, match="raw body as bytes"):
        verify_webhook(body.decode("utf-8"), signature, secret)  # type: ignore[arg-type]
    assert verify_webhook(body, f"{signature},v1={'0' * 64}", secret)  # any one v1 will do
    # While a secret is being changed, the receiver accepts the old and the new.
    assert verify_webhook(body, signature, ["whsec_new" + "x" * 20, secret])
    with pytest.raises(WebhookInvalid, match="does not match"):
        verify_webhook(body, signature, ["whsec_new" + "x" * 20, b"whsec_older" * 2])
    with pytest.raises(ValueError, match="needs a secret"):
        verify_webhook(body, signature, [])


def test_a_secret_changes_as_the_docs_say_without_refusing_a_delivery(
        client: Auditrail, receiver: Receiver) -> None:
    """docs/streams.md: accept the new and the old, PATCH the new, drop the old."""
    stream = client.streams.create("receiver", "webhook", {"url": receiver.url})
    rule = client.alert_rules.create(name="hook", match={"actions": ["admin.*"]},
                                     notify={"webhook_url": receiver.url})
    old_stream, old_rule = stream.config["secret"], rule.notify["secret"]
    new = "whsec_" + "n" * 32
    client.streams.update(stream.id, config={"secret": new})
    client.alert_rules.update(rule.id, notify={"secret": new})
    assert client.alert_rules.get(rule.id).notify["webhook_url"] == receiver.url  # kept
    client.streams.test(stream.id)
    client.alert_rules.test(rule.id)
    delivery, notification = receiver.requests
    assert verify_webhook(delivery.body, delivery.signature, [new, old_stream])
    assert verify_webhook(notification.body, notification.signature, [new, old_rule])
    for received, old in ((delivery, old_stream), (notification, old_rule)):
        with pytest.raises(WebhookInvalid, match="does not match"):
            verify_webhook(received.body, received.signature, old)
