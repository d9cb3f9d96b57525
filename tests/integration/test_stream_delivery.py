"""Log-stream deliveries on both stacks, to real HTTP receivers on 127.0.0.1: order,
batches, signatures, retries, failing and recovery, pause and resume, formats, SSRF."""

from __future__ import annotations

import json
import socket
from collections import Counter
from typing import Any

import pytest
from dependency_injector import providers

from adapters.security.signing import Ed25519Verifier
from adapters.webhooks.deliverer import HttpDeliverer
from domain.signed_notes import parse_checkpoint, parse_note, parse_verifier_key, signature_by
from tests.integration.api_document import assert_sent_as_documented
from tests.integration.stacks import Stack, bearer
from tests.receivers import Answer, Received, Receiver, failing_first, receiver, signature_valid

SECRET = "whsec_test_secret_0123456789abcdef"


@pytest.fixture(params=["embedded", "production"])
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


def streaming_stack(stack_factory: Any, kind: str, **settings: Any) -> Stack:
    settings = {"allow_private_destinations": True, "stream_batch_seconds": 0.0,
                "delivery_timeout_seconds": 2, **settings}
    return stack_factory(kind, **settings)


def new_stream(stack: Stack, key: str, url: str, **body: Any) -> str:
    body = {"name": "SIEM", "type": "webhook", "config": {"url": url, "secret": SECRET},
            **body}
    response = stack.client.post("/api/v1/streams", headers=bearer(key), json=body)
    assert response.status_code == 201, response.json
    return response.json["id"]


def ingest(stack: Stack, key: str, count: int, per_request: int = 1000,
           action: str = "user.login") -> None:
    for start in range(0, count, per_request):
        events = [{"action": action, "actor": {"id": f"usr_{start + n}", "type": "user"}}
                  for n in range(min(per_request, count - start))]
        response = stack.client.post("/api/v1/events/batch", headers=bearer(key),
                                     json={"events": events})
        assert response.status_code == 202, response.json


def delivered_sequences(hook: Receiver) -> list[int]:
    return [event["sequence"] for body in hook.bodies() if not body.get("test")
            for event in body["events"]]


def everything_arrived(hook: Receiver, count: int) -> Any:
    return lambda: len(set(delivered_sequences(hook))) >= count


def stream_state(stack: Stack, key: str, stream_id: str) -> dict[str, Any]:
    return stack.client.get(f"/api/v1/streams/{stream_id}", headers=bearer(key)).json


def delivery_log(stack: Stack, key: str, stream_id: str) -> list[dict[str, Any]]:
    return stack.client.get(f"/api/v1/streams/{stream_id}/deliveries?order=asc&limit=100",
                            headers=bearer(key)).json["data"]


def test_events_arrive_in_order_batched_and_signed(stack_factory: Any, kind: str) -> None:
    stack = streaming_stack(stack_factory, kind, stream_batch_seconds=1.0)
    _, key = stack.new_workspace()
    with receiver() as hook:
        stream_id = new_stream(stack, key, hook.url)
        ingest(stack, key, 1200, per_request=100)
        assert stack.deliver_until(everything_arrived(hook, 1200))
        requests = list(hook.requests)
    bodies = [request.json() for request in requests]
    assert [event["sequence"] for body in bodies for event in body["events"]] == \
        list(range(1, 1201))  # in order, each exactly once
    assert all(len(body["events"]) <= 500 for body in bodies)
    assert len(bodies) <= 4  # batched: a second's worth per request, not one per event
    assert [body["sequence"] for body in bodies] == list(range(1, len(bodies) + 1))
    assert all(body["stream_id"] == stream_id for body in bodies)
    assert len({body["delivery_id"] for body in bodies}) == len(bodies)
    assert all(signature_valid(SECRET, request) for request in requests)
    assert not signature_valid("whsec_another_secret_00000000", requests[0])
    for request in requests:
        assert_sent_as_documented(stack, "streamDelivery", request)
    first = bodies[0]["events"][0]
    assert first["status"] == "processed" and len(first["hash"]) == 64  # §5.3 documents
    log = delivery_log(stack, key, stream_id)
    assert [(entry["status"], entry["attempts"], entry["http_status"]) for entry in log] == \
        [("delivered", 1, 200)] * len(bodies)
    assert [entry["event_count"] for entry in log] == [len(b["events"]) for b in bodies]
    assert stream_state(stack, key, stream_id)["delivery"]["position"] == 1200


def test_a_receiver_failing_its_first_tries_still_gets_everything(stack_factory: Any,
                                                                  kind: str) -> None:
    stack = streaming_stack(stack_factory, kind)
    _, key = stack.new_workspace()
    with receiver(failing_first(2, status=503)) as hook:
        stream_id = new_stream(stack, key, hook.url)
        ingest(stack, key, 30)
        assert stack.deliver_until(everything_arrived(hook, 30))
        requests = list(hook.requests)
    assert sorted(set(delivered_sequences(hook))) == list(range(1, 31))
    first = requests[0].json()
    retries = [r for r in requests if r.json()["delivery_id"] == first["delivery_id"]]
    assert len(retries) == 3  # two failures, then the success
    assert {r.body for r in retries} == {requests[0].body}  # the same body every time
    assert all(signature_valid(SECRET, r) for r in retries)
    entry = delivery_log(stack, key, stream_id)[0]
    assert (entry["id"], entry["status"], entry["attempts"], entry["http_status"]) == \
        (first["delivery_id"], "delivered", 3, 200)
    state = stream_state(stack, key, stream_id)
    assert state["status"] == "active" and state["delivery"]["consecutive_failures"] == 0


def test_a_failing_stream_keeps_its_backlog_and_recovers_when_set_active(
        stack_factory: Any, kind: str) -> None:
    stack = streaming_stack(stack_factory, kind)
    _, key = stack.new_workspace()
    answer = {"status": 503}
    with receiver(lambda _: Answer(answer["status"], body=b"maintenance")) as hook:
        stream_id = new_stream(stack, key, hook.url)
        ingest(stack, key, 5)
        assert stack.deliver_until(lambda: len(hook.requests) >= 1)
        # Four failures already behind it: the next one makes it failing (the backoff
        # between them is the domain's, tested on a fake clock).
        stack.sql("UPDATE streams SET failures = 4 WHERE id = :id", id=stream_id)
        path = f"/api/v1/streams/{stream_id}"
        assert stack.client.patch(path, headers=bearer(key),
                                  json={"status": "active"}).status_code == 200
        assert stack.deliver_until(lambda: stream_state(stack, key, stream_id)["status"]
                                   == "failing")
        state = stream_state(stack, key, stream_id)
        assert state["delivery"]["last_error"] == "HTTP 503: maintenance"
        assert state["delivery"]["failing_since"] is not None
        ingest(stack, key, 5)  # more arrives while it fails: kept
        stack.drain()
        metrics = stack.client.get("/metrics").data.decode()
        assert f'auditrail_stream_backlog_events{{status="failing",stream_id="{stream_id}"' \
            in metrics
        answer["status"] = 200
        assert stack.client.patch(path, headers=bearer(key),
                                  json={"status": "active"}).status_code == 200
        assert stack.deliver_until(everything_arrived(hook, 10))
    assert sorted(set(delivered_sequences(hook))) == list(range(1, 11))
    state = stream_state(stack, key, stream_id)
    assert (state["status"], state["delivery"]["failing_since"]) == ("active", None)
    metrics = stack.client.get("/metrics").data.decode()
    assert 'auditrail_deliveries_total{outcome="http_error",type="webhook"}' in metrics


def test_a_paused_stream_catches_up_after_resume(stack_factory: Any, kind: str) -> None:
    stack = streaming_stack(stack_factory, kind)
    _, key = stack.new_workspace()
    with receiver() as hook:
        stream_id = new_stream(stack, key, hook.url, status="paused")
        ingest(stack, key, 10_000)
        stack.drain()
        assert hook.requests == []
        lag = [line for line in stack.client.get("/metrics").data.decode().splitlines()
               if line.startswith("auditrail_stream_backlog_events{") and stream_id in line]
        assert lag and lag[0].endswith(" 10000.0")
        path = f"/api/v1/streams/{stream_id}"
        assert stack.client.patch(path, headers=bearer(key),
                                  json={"status": "active"}).status_code == 200
        assert stack.deliver_until(everything_arrived(hook, 10_000), timeout=120)
        assert stack.deliver_until(  # caught up: its series are gone
            lambda: stream_id not in stack.client.get("/metrics").data.decode())
    assert delivered_sequences(hook) == list(range(1, 10_001))
    assert [len(body["events"]) for body in hook.bodies()] == [500] * 20


def test_one_failing_stream_does_not_hold_back_the_others(stack_factory: Any,
                                                          kind: str) -> None:
    stack = streaming_stack(stack_factory, kind, delivery_timeout_seconds=1)
    _, key = stack.new_workspace()
    with receiver(lambda _: Answer(200, delay=5)) as slow, receiver() as good:
        new_stream(stack, key, slow.url)
        good_id = new_stream(stack, key, good.url)
        ingest(stack, key, 600)
        assert stack.deliver_until(everything_arrived(good, 600), timeout=20)
    assert delivered_sequences(good) == list(range(1, 601))
    assert all(entry["status"] == "delivered" for entry in delivery_log(stack, key, good_id))


def test_replay_sends_events_again_in_order(stack_factory: Any, kind: str) -> None:
    stack = streaming_stack(stack_factory, kind)
    _, key = stack.new_workspace()
    with receiver() as hook:
        stream_id = new_stream(stack, key, hook.url)
        ingest(stack, key, 10)
        assert stack.deliver_until(everything_arrived(hook, 10))
        response = stack.client.post(f"/api/v1/streams/{stream_id}/replay",
                                     headers=bearer(key), json={"from_sequence": 4})
        assert response.status_code == 202 and response.json["delivery"]["position"] == 3
        assert stack.deliver_until(lambda: len(delivered_sequences(hook)) >= 17)
    assert delivered_sequences(hook)[-7:] == list(range(4, 11))
    assert [body["sequence"] for body in hook.bodies()] == \
        list(range(1, len(hook.requests) + 1))  # a replay is new deliveries, numbered on


def test_splunk_and_datadog_get_their_own_formats(stack_factory: Any, kind: str) -> None:
    stack = streaming_stack(stack_factory, kind)
    workspace_id, key = stack.new_workspace()
    token, api_key = "11111111-2222-3333-4444-555555555555", "0123456789abcdef0123456789abcdef"
    with receiver() as splunk, receiver() as datadog:
        for type_, url, config in (("splunk_hec", splunk.url, {"token": token}),
                                   ("datadog", datadog.url, {"api_key": api_key})):
            response = stack.client.post("/api/v1/streams", headers=bearer(key), json={
                "name": type_, "type": type_, "config": {"url": url, **config}})
            assert response.status_code == 201, response.json
        ingest(stack, key, 3, action="admin.user.delete")
        assert stack.deliver_until(lambda: splunk.requests and datadog.requests)
        [to_splunk], [to_datadog] = splunk.requests, datadog.requests
    assert to_splunk.headers["authorization"] == f"Splunk {token}"
    *hec, hec_checkpoint = [json.loads(line) for line in to_splunk.body.splitlines()]
    assert [item["event"]["sequence"] for item in hec] == [1, 2, 3]
    assert {item["sourcetype"] for item in hec} == {"auditrail"}
    assert isinstance(hec[0]["time"], float) and hec[0]["time"] > 1.7e9
    assert to_datadog.headers["dd-api-key"] == api_key
    *logs, dd_checkpoint = to_datadog.json()
    assert [entry["ddsource"] for entry in logs] == ["auditrail"] * 3
    assert json.loads(logs[0]["message"])["action"] == "admin.user.delete"
    assert "action:admin.user.delete" in logs[0]["ddtags"]
    assert "auditrail-signature" not in to_splunk.headers | to_datadog.headers
    # The SIEM keeps the log's signed state as well, after the batch's events.
    assert hec_checkpoint["sourcetype"] == "auditrail:checkpoint" and "time" not in hec_checkpoint
    assert f"workspace_id:{workspace_id},type:checkpoint" == dd_checkpoint["ddtags"]
    verifier = parse_verifier_key(stack.client.get("/api/v1/log/key", headers=bearer(key))
                                  .json["verifier_key"])
    for kept in (hec_checkpoint["event"], json.loads(dd_checkpoint["message"])):
        assert kept["delivery_id"].startswith("dlv_") and kept["stream_id"].startswith("lst_")
        note = parse_note(kept["checkpoint"])
        assert Ed25519Verifier().verify(verifier.public_key, note.text.encode(),
                                        signature_by(note, verifier))
        assert parse_checkpoint(note.text).tree_size >= 3


def test_large_events_reach_a_receiver_in_requests_under_a_megabyte(stack_factory: Any,
                                                                      kind: str) -> None:
    """nginx refuses bodies over 1 MB by default (Datadog's intake over 5 MB), and a retry
    sends the same bytes: 80 events of 30 KB go in several requests, each under it."""
    stack = streaming_stack(stack_factory, kind)
    _, key = stack.new_workspace()
    with receiver() as hook:
        new_stream(stack, key, hook.url)
        events = [{"action": "document.upload", "actor": {"id": "u", "type": "user"},
                   "metadata": {"excerpt": "x" * 30_000}}] * 80
        assert stack.client.post("/api/v1/events/batch", headers=bearer(key),
                                 json={"events": events}).status_code == 202
        assert stack.deliver_until(everything_arrived(hook, 80))
    assert delivered_sequences(hook) == list(range(1, 81))
    assert len(hook.requests) >= 4
    assert all(len(request.body) < 1_000_000 for request in hook.requests)


class RebindingResolver:
    """A name server an attacker controls: a public address while the stream is saved,
    the loopback interface when it is used."""

    def __init__(self) -> None:
        self.asked = 0

    def __call__(self, host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        if host != "hooks.attacker.example":
            return socket.getaddrinfo(host, port, *args, **kwargs)
        self.asked += 1
        address = "93.184.215.14" if self.asked == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]


def test_dns_rebinding_to_a_private_address_is_refused_when_connecting(
        stack_factory: Any, kind: str) -> None:
    stack = streaming_stack(stack_factory, kind, allow_private_destinations=False)
    resolver = RebindingResolver()
    stack.container.deliverer.override(providers.Object(HttpDeliverer(
        allow_private=False, timeout_seconds=2, user_agent="test", resolve=resolver)))
    _, key = stack.new_workspace()
    with receiver() as hook:
        stream_id = new_stream(stack, key, f"http://hooks.attacker.example:{hook.port}/hook")
        ingest(stack, key, 2)
        assert stack.deliver_until(
            lambda: stream_state(stack, key, stream_id)["delivery"]["last_error"])
        assert hook.requests == []  # never connected
    assert resolver.asked >= 2
    error = stream_state(stack, key, stream_id)["delivery"]["last_error"]
    assert error == ("Refused: hooks.attacker.example resolves to 127.0.0.1, a loopback "
                     "address; only public destinations are allowed.")
    [entry] = delivery_log(stack, key, stream_id)
    assert (entry["status"], entry["http_status"], entry["error"]) == ("pending", None, error)


def test_redirects_are_never_followed(stack_factory: Any, kind: str) -> None:
    stack = streaming_stack(stack_factory, kind)
    _, key = stack.new_workspace()
    with receiver() as inside:
        def redirect(_: Received) -> Answer:
            return Answer(302, headers={"Location": inside.url})

        with receiver(redirect) as outside:
            stream_id = new_stream(stack, key, outside.url)
            ingest(stack, key, 1)
            assert stack.deliver_until(lambda: outside.requests)
            assert stack.deliver_until(
                lambda: stream_state(stack, key, stream_id)["delivery"]["last_error"])
        assert inside.requests == []
    error = stream_state(stack, key, stream_id)["delivery"]["last_error"]
    assert error == "HTTP 302: redirects are not followed; use the final URL."


def test_deliveries_are_counted_for_the_metrics(stack_factory: Any) -> None:
    stack = streaming_stack(stack_factory, "embedded")
    _, key = stack.new_workspace()
    with receiver() as hook:
        stream_id = new_stream(stack, key, hook.url)
        ingest(stack, key, 7)
        assert stack.deliver_until(everything_arrived(hook, 7))
        # caught up: no series (its 0), so that thousands of streams do not swell a scrape
        assert stack.deliver_until(
            lambda: stream_id not in stack.client.get("/metrics").data.decode())
    metrics = stack.client.get("/metrics").data.decode()
    counts = Counter(line.split(" ")[0] for line in metrics.splitlines()
                     if line.startswith("auditrail_"))
    assert 'auditrail_deliveries_total{outcome="delivered",type="webhook"}' in counts
    assert 'auditrail_events_delivered_total{type="webhook"}' in counts
    assert "# TYPE auditrail_stream_lag_seconds gauge" in metrics
