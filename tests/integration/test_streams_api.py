"""Log streams over HTTP on both stacks: create, read, change, delete; write-only secrets;
validation; scopes; tenant isolation on every endpoint; the test delivery."""

from __future__ import annotations

import hashlib
import hmac
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from domain.streams import MAX_STREAMS_PER_WORKSPACE
from tests.integration.api_document import assert_sent_as_documented
from tests.integration.processes import free_port
from tests.integration.stacks import Stack, bearer
from tests.receivers import Answer, Received, receiver, signature_valid

SECRET = "whsec_test_secret_0123456789abcdef"


@pytest.fixture(params=["embedded", "production"])
def stack(request: pytest.FixtureRequest, stack_factory: Any) -> Stack:
    """Receivers listen on 127.0.0.1, which only an operator's setting allows."""
    return stack_factory(request.param, allow_private_destinations=True)


def create(stack: Stack, key: str, **body: Any) -> Any:
    body = {"name": "SIEM", "type": "webhook", "config": {"url": "https://siem.example.com/in"},
            **body}
    return stack.client.post("/api/v1/streams", headers=bearer(key), json=body)


def fields(response: Any) -> list[str]:
    assert response.status_code == 422, response.json
    return sorted(detail["field"] for detail in response.json["error"]["details"])


def test_a_webhook_secret_is_shown_once_then_only_as_a_hint(stack: Stack) -> None:
    _, key = stack.new_workspace()
    created = create(stack, key)
    assert created.status_code == 201, created.json
    stream = created.json
    secret = stream["config"]["secret"]
    assert secret.startswith("whsec_") and len(secret) >= 38
    assert stream["config"]["secret_hint"] == "…" + secret[-4:]
    assert (stream["status"], stream["filter"], stream["delivery"]["position"]) == \
        ("active", None, 0)
    path = f"/api/v1/streams/{stream['id']}"
    shown = [stack.client.get(path, headers=bearer(key)).json,
             stack.client.get("/api/v1/streams", headers=bearer(key)).json["data"][0],
             stack.client.patch(path, headers=bearer(key), json={"name": "Renamed"}).json]
    for document in shown:
        assert "secret" not in document["config"], document
        assert secret not in str(document)
        assert document["config"]["secret_hint"] == "…" + secret[-4:]
    stored = stack.sql("SELECT credential FROM streams WHERE id = :id", id=stream["id"])
    assert secret.encode() not in bytes(stored[0][0])  # sealed at rest, not in the clear


def test_siem_streams_take_their_own_credential(stack: Stack) -> None:
    _, key = stack.new_workspace()
    splunk = create(stack, key, type="splunk_hec",
                    config={"url": "https://splunk.example.com:8088/services/collector/event",
                            "token": "11111111-2222-3333-4444-555555555555"})
    assert splunk.status_code == 201, splunk.json
    assert splunk.json["config"]["token_hint"] == "…5555"
    datadog = create(stack, key, type="datadog",
                     config={"url": "https://http-intake.logs.datadoghq.eu/api/v2/logs",
                             "api_key": "0123456789abcdef0123456789abcdef"})
    assert datadog.status_code == 201 and datadog.json["config"]["api_key_hint"] == "…cdef"
    assert fields(create(stack, key, type="datadog",
                         config={"url": "https://x.example.com", "secret": "s" * 20})) == \
        ["config.api_key", "config.secret"]


def test_bad_streams_are_refused_naming_every_field(stack: Stack) -> None:
    _, key = stack.new_workspace()
    assert fields(create(stack, key, type="kafka")) == ["type"]
    assert fields(create(stack, key, name="", config={"url": "ftp://x", "secret": "short"},
                         filter={"actions": ["user.*", "no spaces allowed"]})) == \
        ["config.secret", "config.url", "filter.actions[1]", "name"]
    assert fields(create(stack, key, colour="red")) == ["colour"]
    assert fields(create(stack, key, config={"url": "https://x.example.com", "pasword": "x"})) \
        == ["config.pasword"]
    assert fields(create(stack, key, status="failing")) == ["status"]
    assert fields(create(stack, key, filter={"actions": []})) == ["filter.actions"]
    assert stack.client.get("/api/v1/streams", headers=bearer(key)).json["total_count"] == 0


def test_private_destinations_are_refused_unless_the_operator_allows_them(
        stack_factory: Any) -> None:
    strict = stack_factory("embedded")
    _, key = strict.new_workspace()
    for url in ("http://127.0.0.1:9000/hook", "http://localhost/x",
                "http://169.254.169.254/latest/meta-data", "http://[::ffff:10.0.0.1]/",
                "http://2130706433/"):  # 127.0.0.1 spelled as one number: refused once resolved
        response = create(strict, key, config={"url": url})
        assert fields(response) == ["config.url"], url
        assert "only public destinations" in response.json["error"]["details"][0]["message"]


def test_changes_keep_what_they_do_not_name(stack: Stack) -> None:
    _, key = stack.new_workspace()
    stream = create(stack, key, config={"url": "https://a.example.com/", "secret": SECRET}).json
    path = f"/api/v1/streams/{stream['id']}"
    moved = stack.client.patch(path, headers=bearer(key),
                               json={"config": {"url": "https://b.example.com/"},
                                     "filter": {"actions": ["admin.*"]}})
    assert moved.status_code == 200, moved.json
    assert moved.json["config"] == {"url": "https://b.example.com/", "secret_hint": "…cdef"}
    assert moved.json["filter"] == {"actions": ["admin.*"]}
    cleared = stack.client.patch(path, headers=bearer(key), json={"filter": None}).json
    assert cleared["filter"] is None and cleared["config"]["url"] == "https://b.example.com/"
    paused = stack.client.patch(path, headers=bearer(key), json={"status": "paused"}).json
    assert paused["status"] == "paused"
    refused = stack.client.patch(path, headers=bearer(key), json={"type": "datadog"})
    assert fields(refused) == ["type"]
    assert fields(stack.client.patch(path, headers=bearer(key),
                                     json={"config": {"token": "t" * 20}})) == ["config.token"]


def test_a_streams_batch_wait_is_its_own_or_the_servers(stack: Stack) -> None:
    _, key = stack.new_workspace()
    default = create(stack, key).json
    assert default["batch_seconds"] is None  # AUDITRAIL_STREAM_BATCH_SECONDS
    archive = create(stack, key, batch_seconds=60).json
    path = f"/api/v1/streams/{archive['id']}"
    assert stack.client.get(path, headers=bearer(key)).json["batch_seconds"] == 60
    assert stack.client.patch(path, headers=bearer(key),
                              json={"batch_seconds": None}).json["batch_seconds"] is None
    assert fields(create(stack, key, batch_seconds=901)) == ["batch_seconds"]
    assert fields(create(stack, key, batch_seconds="60")) == ["batch_seconds"]


def test_delete_removes_the_stream_and_its_log(stack: Stack) -> None:
    _, key = stack.new_workspace()
    stream_id = create(stack, key).json["id"]
    path = f"/api/v1/streams/{stream_id}"
    deleted = stack.client.delete(path, headers=bearer(key))
    assert deleted.status_code == 204 and deleted.data == b""
    assert "Content-Type" not in deleted.headers
    assert stack.client.get(path, headers=bearer(key)).status_code == 404
    assert stack.client.delete(path, headers=bearer(key)).status_code == 404


def test_streams_page_by_cursor(stack: Stack) -> None:
    _, key = stack.new_workspace()
    made = [create(stack, key, name=f"s{n}").json["id"] for n in range(5)]
    seen, cursor = [], None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = stack.client.get("/api/v1/streams", headers=bearer(key), query_string=query).json
        assert page["total_count"] == 5
        seen += [stream["id"] for stream in page["data"]]
        cursor = page.get("next_cursor")
        if not page["has_more"]:
            break
    assert seen == made[::-1]


def test_a_workspace_has_at_most_twenty_streams(stack: Stack) -> None:
    _, key = stack.new_workspace()
    for _ in range(MAX_STREAMS_PER_WORKSPACE):
        assert create(stack, key).status_code == 201
    refused = create(stack, key)
    assert refused.status_code == 409 and refused.json["error"]["code"] == "conflict"


def test_every_stream_endpoint_hides_other_workspaces_streams(stack: Stack) -> None:
    _, owner = stack.new_workspace("Owner")
    _, other = stack.new_workspace("Other")
    stream_id = create(stack, owner).json["id"]
    path = f"/api/v1/streams/{stream_id}"
    attempts = [("GET", path, None), ("PATCH", path, {"name": "mine"}),
                ("DELETE", path, None), ("POST", f"{path}/test", None),
                ("POST", f"{path}/replay", {"from_sequence": 1}),
                ("GET", f"{path}/deliveries", None)]
    for method, url, body in attempts:
        response = stack.client.open(url, method=method, headers=bearer(other), json=body)
        assert response.status_code == 404, (method, url, response.json)
        assert response.json["error"]["code"] == "not_found"
    assert stack.client.get("/api/v1/streams", headers=bearer(other)).json["data"] == []
    unchanged = stack.client.get(path, headers=bearer(owner)).json
    assert unchanged["name"] == "SIEM"
    assert stack.client.get(f"{path}/deliveries", headers=bearer(owner)).json["data"] == []


def test_streams_need_the_streams_scope(stack: Stack) -> None:
    workspace_id, admin = stack.new_workspace()
    reader = stack.new_key(workspace_id, "events:read")
    writer = stack.new_key(workspace_id, "streams")
    refused = create(stack, reader)
    assert refused.status_code == 403 and refused.json["error"]["code"] == "insufficient_scope"
    assert create(stack, writer).status_code == 201
    assert create(stack, admin).status_code == 201


def test_a_test_delivery_is_signed_sent_now_and_logged(stack: Stack) -> None:
    _, key = stack.new_workspace()
    with receiver() as hook:
        stream = create(stack, key, config={"url": hook.url, "secret": SECRET}).json
        response = stack.client.post(f"/api/v1/streams/{stream['id']}/test",
                                     headers=bearer(key))
        assert response.status_code == 200, response.json
        result = response.json
        assert (result["kind"], result["status"], result["http_status"], result["attempts"]) \
            == ("test", "delivered", 200, 1)
        [sent] = hook.requests
    assert signature_valid(SECRET, sent)
    body = sent.json()
    assert (body["stream_id"], body["delivery_id"], body["sequence"], body["test"]) == \
        (stream["id"], result["id"], 0, True)
    assert body["events"][0]["action"] == "auditrail.stream.test"
    assert_sent_as_documented(stack, "streamDelivery", sent)
    assert sent.headers["user-agent"].startswith("Auditrail/")
    log = stack.client.get(f"/api/v1/streams/{stream['id']}/deliveries",
                           headers=bearer(key)).json
    assert [entry["id"] for entry in log["data"]] == [result["id"]]


def test_a_failed_test_delivery_says_why(stack: Stack) -> None:
    _, key = stack.new_workspace()
    with receiver(lambda _: Answer(401, body=b'{"text": "Invalid token"}')) as hook:
        stream = create(stack, key, type="splunk_hec",
                        config={"url": hook.url, "token": "bad-token-0000000000"}).json
        result = stack.client.post(f"/api/v1/streams/{stream['id']}/test",
                                   headers=bearer(key)).json
    assert (result["status"], result["http_status"]) == ("failed", 401)
    assert result["error"] == 'HTTP 401: {"text": "Invalid token"}'
    after = stack.client.get(f"/api/v1/streams/{stream['id']}", headers=bearer(key)).json
    assert after["status"] == "active" and after["delivery"]["consecutive_failures"] == 0


def test_replay_refuses_to_skip_ahead(stack: Stack) -> None:
    _, key = stack.new_workspace()
    stream_id = create(stack, key).json["id"]
    response = stack.client.post(f"/api/v1/streams/{stream_id}/replay", headers=bearer(key),
                                 json={"from_sequence": 5})
    assert fields(response) == ["from_sequence"]
    assert "never skips" in response.json["error"]["details"][0]["message"]
    assert fields(stack.client.post(f"/api/v1/streams/{stream_id}/replay",
                                    headers=bearer(key), json={"from_sequence": "1"})) == \
        ["from_sequence"]


def a_real_delivery(stack_factory: Any) -> Received:
    """A test delivery as a receiver gets it, signed with ``SECRET``."""
    stack = stack_factory("embedded", allow_private_destinations=True)
    _, key = stack.new_workspace()
    with receiver() as hook:
        stream = create(stack, key, config={"url": hook.url, "secret": SECRET}).json
        stack.client.post(f"/api/v1/streams/{stream['id']}/test", headers=bearer(key))
        [sent] = hook.requests
    return sent


def test_the_documented_receiver_accepts_a_real_delivery_and_refuses_a_forged_one(
        stack_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Flask receiver in docs/streams.md, run as written."""
    sent = a_real_delivery(stack_factory)
    document = (Path(__file__).parents[2] / "docs" / "streams.md").read_text()
    source = document.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.setenv("AUDITRAIL_STREAM_SECRET", SECRET)
    namespace: dict[str, Any] = {"__name__": "__main__"}  # as when run as a script
    exec(compile(source, "docs/streams.md", "exec"), namespace)  # noqa: S102
    documented = namespace["app"].test_client()
    headers = {"Auditrail-Signature": sent.headers["auditrail-signature"],
               "Content-Type": "application/json"}
    assert documented.post("/auditrail", data=sent.body, headers=headers).status_code == 204
    forged = sent.body.replace(b"auditrail.stream.test", b"auditrail.stream.tset")
    assert documented.post("/auditrail", data=forged, headers=headers).status_code == 401
    assert documented.post("/auditrail", data=sent.body).status_code == 401
    stale = {**headers, "Auditrail-Signature": "t=1,v1=" + "0" * 64}
    assert documented.post("/auditrail", data=sent.body, headers=stale).status_code == 401


NODE = shutil.which("node")


@pytest.mark.skipif(not NODE and not os.environ.get("AUDITRAIL_REQUIRE_SERVICES"),
                    reason="Node.js is not installed (apt-get install nodejs; .ci/run does)")
def test_the_documented_node_receiver_accepts_a_real_delivery_and_refuses_a_forged_one(
        stack_factory: Any, tmp_path: Path) -> None:
    """The Node.js receiver in docs/streams.md, run as written with ``node``."""
    sent = a_real_delivery(stack_factory)
    document = (Path(__file__).parents[2] / "docs" / "streams.md").read_text()
    script = tmp_path / "receiver.mjs"
    script.write_text(document.split("```js\n", 1)[1].split("```", 1)[0])
    port = free_port()
    node = subprocess.Popen([NODE or "node", str(script)], stderr=subprocess.PIPE,
                            env={**os.environ, "AUDITRAIL_STREAM_SECRET": SECRET,
                                 "PORT": str(port)})

    def post(body: bytes, signature: str | None) -> int:
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["Auditrail-Signature"] = signature
        request = urllib.request.Request(f"http://127.0.0.1:{port}/auditrail", data=body,
                                         headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    try:
        signature = sent.headers["auditrail-signature"]
        deadline = time.monotonic() + 10
        while True:
            try:
                accepted = post(sent.body, signature)
                break
            except urllib.error.URLError:  # not listening yet
                assert node.poll() is None, node.stderr.read()  # type: ignore[union-attr]
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert accepted == 204
        forged = sent.body.replace(b"auditrail.stream.test", b"auditrail.stream.tset")
        assert post(forged, signature) == 401
        assert post(sent.body, None) == 401
        assert post(sent.body, "t=1,v1=" + "0" * 64) == 401
        assert post(sent.body, "t=x,v1=zz") == 401
        old = int(time.time()) - 400  # well signed, but too old: a replay
        digest = hmac.new(SECRET.encode(), f"{old}.".encode() + sent.body, hashlib.sha256)
        assert post(sent.body, f"t={old},v1={digest.hexdigest()}") == 401
        assert node.poll() is None  # still serving
    finally:
        node.kill()
        node.wait()
