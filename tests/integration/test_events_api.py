"""The event API end to end, on both stacks, through the Flask test client."""

from __future__ import annotations

import functools
import gzip
import io
import json
import tracemalloc
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from domain.hash_chain import document_core, event_hash
from tests.integration.stacks import Stack, bearer

EVENT = {
    "action": "user.login_failed",
    "occurred_at": "2026-11-26T13:31:45.123456Z",
    "actor": {"id": "usr_42", "type": "user", "name": "Jane Roe", "metadata": {"role": "admin"}},
    "targets": [{"id": "doc_7", "type": "document", "name": "Q4 plan", "metadata": {}}],
    "context": {"ip_address": "203.0.113.7", "user_agent": "Mozilla/5.0"},
    "metadata": {"reason": "bad_password"},
}


def post(stack: Stack, secret: str, body: Any, path: str = "/api/v1/events",
         **headers: str) -> Any:
    return stack.client.post(path, data=json.dumps(body),
                             headers={**bearer(secret), "Content-Type": "application/json",
                                      **headers})


def get(stack: Stack, secret: str, path: str) -> Any:
    return stack.client.get(path, headers=bearer(secret))


def count_events(stack: Stack, workspace_id: str) -> int:
    return stack.sql("SELECT count(*) FROM events WHERE workspace_id = :w",
                     w=workspace_id)[0][0]


def test_post_then_get_pending_then_processed(stack: Stack) -> None:
    workspace_id, secret = stack.new_workspace()
    response = post(stack, secret, EVENT)
    assert response.status_code == 202
    assert response.json["status"] == "pending" and response.json["id"].startswith("evt_")
    event_id = response.json["id"]

    pending = get(stack, secret, f"/api/v1/events/{event_id}").json
    assert pending["status"] == "pending"
    assert [pending[k] for k in ("geo", "sequence", "prev_hash", "hash")] == [None] * 4

    stack.drain()
    event = get(stack, secret, f"/api/v1/events/{event_id}").json
    assert event["status"] == "processed"
    assert event["sequence"] == 1 and event["prev_hash"] == "0" * 64
    assert len(event["hash"]) == 64
    assert event["workspace_id"] == workspace_id
    for field in ("action", "occurred_at", "actor", "targets", "context", "metadata"):
        assert event[field] == EVENT[field]
    assert event["received_at"].endswith("Z") and len(event["received_at"]) == 27


def test_optional_fields_get_their_defaults(stack: Stack) -> None:
    _, secret = stack.new_workspace()
    event_id = post(stack, secret, {"action": "a", "actor": {"id": "u", "type": "t"},
                                    "occurred_at": "2026-11-26T13:31:45"}).json["id"]
    event = get(stack, secret, f"/api/v1/events/{event_id}").json
    assert event["occurred_at"] == "2026-11-26T13:31:45.000000Z"  # naive means UTC
    assert (event["targets"], event["context"], event["metadata"]) == ([], {}, {})
    assert set(event["actor"]) == {"id", "type"}


def test_sequences_continue_across_requests_and_verify(stack: Stack) -> None:
    _, secret = stack.new_workspace()
    ids = [post(stack, secret, EVENT).json["id"] for _ in range(3)]
    stack.drain()
    ids += post(stack, secret, {"events": [EVENT] * 4}, "/api/v1/events/batch").json["ids"]
    stack.drain()
    sequences = [get(stack, secret, f"/api/v1/events/{i}").json["sequence"] for i in ids]
    assert sorted(sequences) == list(range(1, 8))
    report = get(stack, secret, "/api/v1/events/verify").json
    assert report == {"valid": True, "checked": 7, "from_sequence": 1, "to_sequence": 7,
                      "head_hash": report["head_hash"]}
    last = get(stack, secret, f"/api/v1/events/{ids[sequences.index(7)]}").json
    assert report["head_hash"] == last["hash"]


def test_batch_returns_ids_in_input_order(stack: Stack) -> None:
    _, secret = stack.new_workspace()
    bodies = [{**EVENT, "metadata": {"n": n}} for n in range(25)]
    response = post(stack, secret, {"events": bodies}, "/api/v1/events/batch")
    assert response.status_code == 202 and response.json["count"] == 25
    for n, event_id in enumerate(response.json["ids"]):
        assert get(stack, secret, f"/api/v1/events/{event_id}").json["metadata"] == {"n": n}


def test_batch_validation_is_all_or_nothing(stack: Stack) -> None:
    workspace_id, secret = stack.new_workspace()
    bodies = [EVENT, {**EVENT, "actor": {"type": "user"}}, EVENT,
              {**EVENT, "context": {"ip_address": "300.1.1.1"}}]
    response = post(stack, secret, {"events": bodies}, "/api/v1/events/batch")
    assert response.status_code == 422
    fields = [d["field"] for d in response.json["error"]["details"]]
    assert fields == ["events[1].actor.id", "events[3].context.ip_address"]
    assert count_events(stack, workspace_id) == 0


@pytest.mark.parametrize(("size", "status"), [(0, 422), (1000, 202), (1001, 422)])
def test_batch_size_limits(stack: Stack, size: int, status: int) -> None:
    _, secret = stack.new_workspace()
    minimal = {"action": "a", "actor": {"id": "u", "type": "t"}}
    response = post(stack, secret, {"events": [minimal] * size}, "/api/v1/events/batch")
    assert response.status_code == status


def test_batch_body_over_5_mib_is_413(stack: Stack) -> None:
    workspace_id, secret = stack.new_workspace()
    big = {"action": "a", "actor": {"id": "u", "type": "t"}, "metadata": {"x": "y" * 30_000}}
    response = post(stack, secret, {"events": [big] * 180}, "/api/v1/events/batch")
    assert response.status_code == 413
    assert response.json["error"]["code"] == "payload_too_large"
    assert "limit of 5 MiB (5,242,880 bytes)" in response.json["error"]["message"]
    single = post(stack, secret, {**big, "metadata": {"x": "y" * 1_100_000}})
    assert "limit of 1 MiB (1,048,576 bytes)" in single.json["error"]["message"]
    assert count_events(stack, workspace_id) == 0


def test_an_oversized_event_names_the_field_that_makes_it_so(stack: Stack) -> None:
    workspace_id, secret = stack.new_workspace()
    big = {**EVENT, "metadata": {"notes": "y" * 40_000}}
    response = post(stack, secret, big)
    assert response.status_code == 422
    detail = response.json["error"]["details"][0]
    assert detail["field"] == "metadata" and "at most 32,768 bytes" in detail["message"]
    batch = post(stack, secret, {"events": [EVENT, big]}, "/api/v1/events/batch")
    assert batch.json["error"]["details"][0]["field"] == "events[1].metadata"
    assert count_events(stack, workspace_id) == 0


def chunked_post(stack: Stack, secret: str, raw: bytes, path: str) -> Any:
    """A body with no Content-Length, as a server hands over ``Transfer-Encoding: chunked``."""
    return stack.client.post(path, input_stream=io.BytesIO(raw), headers={
        **bearer(secret), "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True})


@pytest.mark.parametrize(("path", "limit"), [("/api/v1/events", 1 << 20),
                                             ("/api/v1/events/batch", 5 << 20)])
def test_a_chunked_body_over_the_limit_is_413_not_truncated(stack: Stack, path: str,
                                                            limit: int) -> None:
    """Werkzeug stops a length-less body at the limit; read whole it was invalid JSON."""
    workspace_id, secret = stack.new_workspace()
    minimal = {"action": "a", "actor": {"id": "u", "type": "t"}}
    fits = json.dumps(minimal if path.endswith("events") else {"events": [minimal]})
    padded = fits[:-1] + " " * (limit - len(fits)) + "}"  # exactly at the limit
    assert chunked_post(stack, secret, padded.encode(), path).status_code == 202
    response = chunked_post(stack, secret, padded.encode() + b" ", path)
    assert (response.status_code, response.json["error"]["code"]) == \
        (413, "payload_too_large")
    assert count_events(stack, workspace_id) == 1


def gzipped_post(stack: Stack, secret: str, raw: bytes, path: str = "/api/v1/events",
                 **headers: str) -> Any:
    return stack.client.post(path, data=raw, headers={
        **bearer(secret), "Content-Type": "application/json", "Content-Encoding": "gzip",
        **headers})


def test_a_gzip_body_is_read_as_the_json_it_holds(stack: Stack) -> None:
    """A 1,000-event batch gzipped is a tenth of its bytes; stored as if sent plain, and an
    Idempotency-Key retry sent plain is the same request (the key covers the JSON)."""
    workspace_id, secret = stack.new_workspace()
    batch = json.dumps({"events": [{**EVENT, "metadata": {"n": n}} for n in range(1000)]})
    packed = gzip.compress(batch.encode())
    assert len(packed) < len(batch) / 10
    sent = gzipped_post(stack, secret, packed, "/api/v1/events/batch", **{
        "Idempotency-Key": "gz-1"})
    assert (sent.status_code, sent.json["count"]) == (202, 1000), sent.json
    again = stack.client.post("/api/v1/events/batch", data=batch, headers={
        **bearer(secret), "Content-Type": "application/json", "Idempotency-Key": "gz-1"})
    assert (again.status_code, again.json["ids"]) == (202, sent.json["ids"])
    assert again.headers["Idempotent-Replayed"] == "true"
    two_members = gzip.compress(json.dumps(EVENT)[:40].encode()) + \
        gzip.compress(json.dumps(EVENT)[40:].encode())  # RFC 1952: members one after another
    single = gzipped_post(stack, secret, two_members, **{"Content-Encoding": "GZIP"})
    assert single.status_code == 202, single.json
    stored = get(stack, secret, f"/api/v1/events/{single.json['id']}").json
    assert (stored["action"], stored["metadata"]) == (EVENT["action"], EVENT["metadata"])
    assert count_events(stack, workspace_id) == 1001


@pytest.mark.parametrize(("path", "limit"), [("/api/v1/events", 1 << 20),
                                             ("/api/v1/events/batch", 5 << 20)])
def test_the_size_limit_holds_for_the_json_a_gzip_body_inflates_to(stack: Stack, path: str,
                                                                   limit: int) -> None:
    """At the limit it is read; one byte past, or a bomb (some 256 KiB inflating to
    256 MiB), is 413 once it inflates past the limit, without inflating the rest."""
    workspace_id, secret = stack.new_workspace()
    minimal = {"action": "a", "actor": {"id": "u", "type": "t"}}
    fits = json.dumps(minimal if path.endswith("events") else {"events": [minimal]})
    padded = fits[:-1] + " " * (limit - len(fits)) + "}"
    assert gzipped_post(stack, secret, gzip.compress(padded.encode()), path).status_code == 202
    for packed in (gzip.compress(padded.encode() + b" "), _bomb(fits.encode())):
        tracemalloc.start()
        try:
            response = gzipped_post(stack, secret, packed, path)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert (response.status_code, response.json["error"]["code"]) == \
            (413, "payload_too_large")
        assert f"{limit:,} bytes" in response.json["error"]["message"]
        assert peak < 4 * limit + (8 << 20), peak  # the bomb was not inflated whole
    assert count_events(stack, workspace_id) == 1


@functools.cache
def _bomb(json_start: bytes) -> bytes:
    """256 MiB of JSON (spaces before its last brace) gzipped into some 256 KiB."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    spaces = b" " * (1 << 20)
    parts = [packer.compress(json_start[:-1])]
    parts += [packer.compress(spaces) for _ in range(256)]
    return b"".join([*parts, packer.compress(b"}"), packer.flush()])


@pytest.mark.parametrize(("raw", "message"), [
    (b"not gzip at all", "The body is not valid gzip"),
    (gzip.compress(json.dumps(EVENT).encode())[:-9], "The gzip body is cut short."),
    (gzip.compress(json.dumps(EVENT).encode()) + b"trailing", "The body is not valid gzip"),
    (b"", "The gzip body is cut short."),
    (gzip.compress(json.dumps(EVENT).encode()) + gzip.compress(b"") * 100,
     "The gzip body has more than 100 members"),
])
def test_a_gzip_body_that_does_not_inflate_is_refused(stack: Stack, raw: bytes,
                                                      message: str) -> None:
    workspace_id, secret = stack.new_workspace()
    response = gzipped_post(stack, secret, raw)
    assert (response.status_code, response.json["error"]["code"]) == (400, "invalid_json")
    assert response.json["error"]["message"].startswith(message)
    assert count_events(stack, workspace_id) == 0


def test_another_content_coding_is_refused_by_name(stack: Stack) -> None:
    workspace_id, secret = stack.new_workspace()
    for coding in ("br", "deflate", "gzip, gzip"):
        response = post(stack, secret, EVENT, **{"Content-Encoding": coding})
        error = response.json["error"]
        assert (response.status_code, error["code"]) == (400, "invalid_parameter"), coding
        assert "'Content-Encoding'" in error["message"]
    assert post(stack, secret, EVENT, **{"Content-Encoding": "identity"}).status_code == 202
    assert count_events(stack, workspace_id) == 1


BAD_BODIES = [
    ("invalid_json", 400, b'{"action": ', None),
    ("invalid_json", 400, b'[{"action": "a"}]', None),
    ("invalid_json", 400, b'\xff\xfe', None),
    ("invalid_json", 400, b'{"action": "a", "action": "b", "actor": {"id":"u","type":"t"}}',
     None),
    ("validation_failed", 422, {**EVENT, "colour": "red"}, "colour"),
    ("validation_failed", 422, {**EVENT, "actor": {"type": "user"}}, "actor.id"),
    ("validation_failed", 422, {**EVENT, "context": {"ip_address": "1.2.3"}},
     "context.ip_address"),
    ("validation_failed", 422, {**EVENT, "occurred_at": "2099-01-01T00:00:00Z"}, "occurred_at"),
    ("validation_failed", 422, {**EVENT, "occurred_at": "2026-11-26T13:31:45.1234567Z"},
     "occurred_at"),
    ("validation_failed", 422, {**EVENT, "action": "no spaces"}, "action"),
    ("validation_failed", 422, {**EVENT, "targets": [{"id": "t", "type": "d"}] * 51},
     "targets"),
    ("validation_failed", 422, {**EVENT, "metadata": {"big": 2**60}}, "metadata.big"),
    ("validation_failed", 422, {**EVENT, "actor": {"id": 5, "type": "user"}}, "actor.id"),
    ("validation_failed", 422, {**EVENT, "metadata": None}, "metadata"),
    ("payload_too_large", 413, {**EVENT, "metadata": {"blob": "x" * 2_000_000}}, None),
    # more digits than Python reads (4,300): a ValueError that used to escape as a 500
    ("invalid_json", 400, b'{"action": "a", "metadata": {"n": ' + b"9" * 5000 + b"}}", None),
    # deeper than the parser recurses: a RecursionError, well within the size limit
    ("invalid_json", 400, b'{"metadata": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", None),
]


@pytest.mark.parametrize(("code", "status", "body", "field"), BAD_BODIES)
def test_bad_bodies_get_the_error_shape_and_store_nothing(
        stack: Stack, code: str, status: int, body: Any, field: str | None) -> None:
    workspace_id, secret = stack.new_workspace()
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = stack.client.post("/api/v1/events", data=raw, headers={
        **bearer(secret), "Content-Type": "application/json", "X-Request-Id": "trace-1"})
    assert response.status_code == status
    error = response.json["error"]
    assert error["code"] == code and error["message"]
    assert error["request_id"] == "trace-1" == response.headers["X-Request-Id"]
    if field is not None:
        assert field in [d["field"] for d in error["details"]]
    assert count_events(stack, workspace_id) == 0


def test_a_batch_sent_to_the_single_event_endpoint_is_pointed_to_the_batch_one(
        stack: Stack) -> None:
    workspace_id, secret = stack.new_workspace()
    response = stack.client.post("/api/v1/events", headers=bearer(secret),
                                 json={"events": [EVENT]})
    assert response.status_code == 422
    [detail] = response.json["error"]["details"]
    assert detail["field"] == "events" and "POST /api/v1/events/batch" in detail["message"]
    assert count_events(stack, workspace_id) == 0


def test_an_unknown_field_in_a_batch_names_its_event_and_the_field_meant(stack: Stack) -> None:
    workspace_id, secret = stack.new_workspace()
    slips = [EVENT, {**EVENT, "occuredAt": "2026-11-26T12:00:00Z"},
             {**EVENT, "ip_address": "203.0.113.7"}]
    response = stack.client.post("/api/v1/events/batch", headers=bearer(secret),
                                 json={"events": slips})
    assert response.status_code == 422
    assert [(d["field"], d["message"]) for d in response.json["error"]["details"]] == [
        ("events[1].occuredAt", "Unknown field; did you mean 'occurred_at'?"),
        ("events[2].ip_address", "Unknown field; did you mean 'context.ip_address'?")]
    assert count_events(stack, workspace_id) == 0


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_content_type_must_be_json(stack: Stack, content_type: str | None) -> None:
    _, secret = stack.new_workspace()
    headers = {**bearer(secret), **({"Content-Type": content_type} if content_type else {})}
    response = stack.client.post("/api/v1/events", data=json.dumps(EVENT), headers=headers)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_content_type"


@pytest.mark.parametrize("charset", ["utf-8", "UTF-8", "utf8"])
def test_charset_parameter_utf8_is_accepted(stack: Stack, charset: str) -> None:
    _, secret = stack.new_workspace()
    response = stack.client.post("/api/v1/events", data=json.dumps(EVENT), headers={
        **bearer(secret), "Content-Type": f"application/json; charset={charset}"})
    assert response.status_code == 202


@pytest.mark.parametrize("charset", ["latin-1", "utf-16", "iso-8859-1"])
def test_json_in_another_charset_is_refused(stack: Stack, charset: str) -> None:
    """JSON is UTF-8 (RFC 8259): a body declared otherwise would be misread, not stored."""
    workspace_id, secret = stack.new_workspace()
    response = stack.client.post("/api/v1/events", data=json.dumps(EVENT), headers={
        **bearer(secret), "Content-Type": f"application/json; charset={charset}"})
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_content_type"
    assert charset in response.json["error"]["message"]
    assert count_events(stack, workspace_id) == 0


@pytest.mark.parametrize("path", ["/api/v1/events", "/api/v1/exports", "/healthz", "/viewer/"])
def test_options_is_a_405_in_the_error_shape(stack: Stack, path: str) -> None:
    response = stack.client.options(path)
    assert response.status_code == 405 and response.mimetype == "application/json"
    assert response.json["error"]["code"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"] and "OPTIONS" not in response.headers["Allow"]


def test_events_of_another_workspace_are_not_found(stack: Stack) -> None:
    _, secret_a = stack.new_workspace("A")
    _, secret_b = stack.new_workspace("B")
    event_id = post(stack, secret_a, EVENT).json["id"]
    response = get(stack, secret_b, f"/api/v1/events/{event_id}")
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
    assert get(stack, secret_a, "/api/v1/events/evt_nope").status_code == 404


@pytest.mark.parametrize("path", ["/api/v1/events/evt_%00", "/api/v1/exports/exp_a%00b",
                                  "/api/v1/api-keys/key_%00", "/api/v1/events/evt_%C3%A9",
                                  "/api/v1/exports/" + "x" * 300])
def test_ids_that_were_never_issued_are_not_found_without_a_lookup(stack: Stack,
                                                                   path: str) -> None:
    """NUL reached PostgreSQL, which refuses it in text: a 500 before the router checked."""
    _, secret = stack.new_workspace()
    response = get(stack, secret, path)
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"


def test_tampering_is_detected(stack: Stack) -> None:
    workspace_id, secret = stack.new_workspace()
    post(stack, secret, {"events": [EVENT] * 6}, "/api/v1/events/batch")
    stack.drain()
    assert get(stack, secret, "/api/v1/events/verify").json["valid"] is True

    # one changed byte in the stored body of event 3
    stack.sql("UPDATE events SET body = replace(body, 'Jane Roe', 'Jane Rod') "
              "WHERE workspace_id = :w AND sequence = 3", w=workspace_id)
    report = get(stack, secret, "/api/v1/events/verify").json
    assert report["valid"] is False
    assert (report["reason"], report["first_invalid_sequence"], report["checked"]) == \
        ("hash_mismatch", 3, 3)
    stack.sql("UPDATE events SET body = replace(body, 'Jane Rod', 'Jane Roe') "
              "WHERE workspace_id = :w AND sequence = 3", w=workspace_id)
    assert get(stack, secret, "/api/v1/events/verify").json["valid"] is True

    stack.sql("DELETE FROM events WHERE workspace_id = :w AND sequence = 4", w=workspace_id)
    report = get(stack, secret, "/api/v1/events/verify").json
    assert (report["reason"], report["first_invalid_sequence"]) == ("sequence_gap", 5)


def test_tampering_with_geo_or_timestamps_is_detected(stack: Stack) -> None:
    workspace_id, secret = stack.new_workspace()
    post(stack, secret, {"events": [EVENT] * 3}, "/api/v1/events/batch")
    stack.drain()
    stack.sql("UPDATE events SET action = 'user.login' WHERE workspace_id = :w "
              "AND sequence = 2", w=workspace_id)
    report = get(stack, secret, "/api/v1/events/verify").json
    assert (report["reason"], report["first_invalid_sequence"]) == ("hash_mismatch", 2)


SECOND = "SELECT id FROM events WHERE workspace_id = :w AND sequence = 2"


@pytest.mark.parametrize("tampering", [
    "UPDATE events SET actor_id = 'usr_7' WHERE workspace_id = :w AND sequence = 2",
    "UPDATE events SET actor_type = 'robot' WHERE workspace_id = :w AND sequence = 2",
    "UPDATE events SET ip_address = '198.51.100.1' WHERE workspace_id = :w AND sequence = 2",
    "UPDATE events SET country_code = 'ZZ' WHERE workspace_id = :w AND sequence = 2",
    "DELETE FROM event_terms WHERE term = 'target_id:doc_7' AND event_id = "
    "(SELECT id FROM events WHERE workspace_id = :w AND sequence = 2)",
    "INSERT INTO event_terms (workspace_id, term, occurred_at, event_id) SELECT "
    "workspace_id, 'target_id:doc_9', occurred_at, id FROM events "
    "WHERE workspace_id = :w AND sequence = 2",
    "UPDATE event_terms SET workspace_id = 'ws_elsewhere' WHERE event_id = "
    "(SELECT id FROM events WHERE workspace_id = :w AND sequence = 2)",
    "UPDATE event_terms SET occurred_at = (SELECT occurred_at FROM events WHERE "
    "workspace_id = :w AND sequence = 1) WHERE event_id = "
    "(SELECT id FROM events WHERE workspace_id = :w AND sequence = 2)",
], ids=["actor_id", "actor_type", "ip_address", "country_code", "term deleted",
        "term added", "term moved to another workspace", "term moved in time"])
def test_changed_search_entries_are_detected(stack: Stack, tampering: str) -> None:
    """The columns and terms searches use are derived, not hashed: changing one hides an
    event from a search (or files it under another) while every hash still matches."""
    workspace_id, secret = stack.new_workspace()
    earlier = {**EVENT, "occurred_at": "2026-11-26T13:30:00Z"}
    post(stack, secret, {"events": [earlier, EVENT, EVENT]}, "/api/v1/events/batch")
    stack.drain()
    assert verify(stack, secret) == (True, None, None)
    stack.sql(tampering, w=workspace_id)
    report = get(stack, secret, "/api/v1/events/verify").json
    second = stack.sql(SECOND, w=workspace_id)[0][0]
    assert report == {"valid": False, "checked": 2, "first_invalid_sequence": 2,
                      "event_id": second, "reason": "hash_mismatch",
                      "detail": "search_entries"}
    assert verify(stack, secret, "?to_sequence=1") == (True, None, None)


def test_terms_planted_for_events_the_chain_does_not_hold_are_detected(stack: Stack) -> None:
    """They put no event in a page, but term filters' totals count term rows alone."""
    workspace_id, secret = stack.new_workspace()
    post(stack, secret, {"events": [EVENT, EVENT]}, "/api/v1/events/batch")
    stack.drain()
    post(stack, secret, EVENT)  # pending (on PostgreSQL): its terms count too
    if stack.name == "embedded":  # its worker, started by the drain, links it meanwhile:
        stack.drain()             # settle it, or `checked` races the count below
    assert verify(stack, secret) == (True, None, None)
    linked = stack.sql("SELECT count(*) FROM events WHERE workspace_id = :w "
                       "AND status = 'processed'", w=workspace_id)[0][0]
    stack.sql("INSERT INTO event_terms (workspace_id, term, occurred_at, event_id) SELECT "
              "workspace_id, term, occurred_at, 'evt_01planted' FROM event_terms "
              "WHERE workspace_id = :w AND term = 'target_id:doc_7' LIMIT 1", w=workspace_id)
    page = get(stack, secret, "/api/v1/events?target_id=doc_7").json
    assert (len(page["data"]), page["total_count"]) == (3, 4)  # what the planting does
    report = get(stack, secret, "/api/v1/events/verify").json
    assert report == {"valid": False, "checked": linked, "first_invalid_sequence": None,
                      "event_id": None, "reason": "hash_mismatch", "detail": "search_entries"}
    assert verify(stack, secret, "?to_sequence=2") == (True, None, None)  # a slice cannot see


def test_an_address_column_in_the_older_spelling_is_no_tampering(stack: Stack) -> None:
    """A server of the release before migration 0007, still running beside a migrated
    database, writes IPv4-mapped addresses in hex; the address is the same."""
    workspace_id, secret = stack.new_workspace()
    mapped = {**EVENT, "context": {"ip_address": "::ffff:203.0.113.7"}}
    post(stack, secret, {"events": [mapped, mapped]}, "/api/v1/events/batch")
    stack.drain()
    stack.sql("UPDATE events SET ip_address = '::ffff:cb00:7107' "
              "WHERE workspace_id = :w AND sequence = 2", w=workspace_id)
    assert verify(stack, secret) == (True, None, None)
    stack.sql("UPDATE events SET ip_address = '::ffff:cb00:7108' "
              "WHERE workspace_id = :w AND sequence = 2", w=workspace_id)
    assert verify(stack, secret) == (False, "hash_mismatch", 2)


def test_deleting_the_last_event_is_detected(stack: Stack) -> None:
    workspace_id, secret = stack.new_workspace()
    post(stack, secret, {"events": [EVENT] * 3}, "/api/v1/events/batch")
    stack.drain()
    stack.sql("DELETE FROM events WHERE workspace_id = :w AND sequence = 3", w=workspace_id)
    report = get(stack, secret, "/api/v1/events/verify").json
    assert (report["valid"], report["reason"], report["first_invalid_sequence"]) == \
        (False, "sequence_gap", 3)


def verify(stack: Stack, secret: str, query: str = "") -> tuple[Any, ...]:
    report = get(stack, secret, f"/api/v1/events/verify{query}").json
    return report["valid"], report.get("reason"), report.get("first_invalid_sequence")


def test_an_event_past_the_stored_chain_head_is_detected(stack: Stack) -> None:
    """An event appended behind the service's back (or a head wound back to hide the last
    ones) is outside the recorded chain, however well it links to the event before."""
    workspace_id, secret = stack.new_workspace()
    post(stack, secret, {"events": [EVENT] * 3}, "/api/v1/events/batch")
    stack.drain()
    stack.sql("UPDATE chain_heads SET sequence = 2, hash = (SELECT hash FROM events "
              "WHERE workspace_id = :w AND sequence = 2) WHERE workspace_id = :w",
              w=workspace_id)
    third = stack.sql("SELECT id FROM events WHERE workspace_id = :w AND sequence = 3",
                      w=workspace_id)[0][0]
    report = get(stack, secret, "/api/v1/events/verify").json
    assert (report["valid"], report["reason"], report["first_invalid_sequence"],
            report["event_id"], report["checked"]) == (False, "sequence_gap", 3, third, 3)
    assert verify(stack, secret, "?from_sequence=3") == (False, "sequence_gap", 3)
    assert verify(stack, secret, "?to_sequence=2")[0] is True  # the slice it recorded
    stack.sql("DELETE FROM chain_heads WHERE workspace_id = :w", w=workspace_id)
    assert verify(stack, secret) == (False, "sequence_gap", 1)


def test_a_linked_event_marked_pending_again_is_out_of_the_chain(stack: Stack) -> None:
    """``status`` is not hashed, but it is stored: a linked event flipped back to pending
    (which the worker would then relink at the end) is missing from the chain at once."""
    workspace_id, secret = stack.new_workspace()
    post(stack, secret, {"events": [EVENT] * 3}, "/api/v1/events/batch")
    stack.drain()
    stack.sql("UPDATE events SET status = 'pending' WHERE workspace_id = :w AND sequence = 2",
              w=workspace_id)
    assert verify(stack, secret) == (False, "sequence_gap", 3)


def test_a_range_misses_no_deleted_event_at_its_ends(stack: Stack) -> None:
    """A range trusts its first event's prev_hash, not its first event's sequence: one
    deleted at either end, or all of it, is a gap too."""
    workspace_id, secret = stack.new_workspace()
    post(stack, secret, {"events": [EVENT] * 6}, "/api/v1/events/batch")
    stack.drain()
    stack.sql("DELETE FROM events WHERE workspace_id = :w AND sequence IN (2, 4)",
              w=workspace_id)
    assert verify(stack, secret, "?from_sequence=2&to_sequence=3") == \
        (False, "sequence_gap", 3)
    assert verify(stack, secret, "?from_sequence=3&to_sequence=4") == \
        (False, "sequence_gap", 4)
    assert verify(stack, secret, "?from_sequence=3&to_sequence=3")[0] is True
    stack.sql("DELETE FROM events WHERE workspace_id = :w AND sequence >= 5",
              w=workspace_id)
    assert verify(stack, secret, "?from_sequence=5") == (False, "sequence_gap", 5)
    assert verify(stack, secret, "?from_sequence=5&to_sequence=9") == \
        (False, "sequence_gap", 5)


def test_a_rewritten_last_event_with_a_recomputed_hash_is_detected(stack: Stack) -> None:
    """No later event links to the last one, and its own hash agrees with it: the Merkle
    tree, which holds what was linked at that position, is what tells."""
    workspace_id, secret = stack.new_workspace()
    ids = post(stack, secret, {"events": [EVENT] * 3}, "/api/v1/events/batch").json["ids"]
    stack.drain()
    forged = get(stack, secret, f"/api/v1/events/{ids[2]}").json
    forged["actor"]["name"] = "Jane Rod"
    forged_hash = event_hash(forged["prev_hash"], document_core(forged))
    stack.sql("UPDATE events SET body = replace(body, 'Jane Roe', 'Jane Rod'), hash = :h "
              "WHERE workspace_id = :w AND sequence = 3", w=workspace_id, h=forged_hash)
    assert get(stack, secret, f"/api/v1/events/{ids[2]}").json["hash"] == forged_hash
    report = get(stack, secret, "/api/v1/events/verify").json
    assert (report["valid"], report["reason"], report["first_invalid_sequence"],
            report["event_id"]) == (False, "tree_mismatch", 3, ids[2])


def test_verification_while_the_chain_grows_sees_one_consistent_chain(stack: Stack) -> None:
    """The head and the events are read in one snapshot: events linked meanwhile are neither
    past the head nor missing before it, so a check never reports a break that is not there."""
    workspace_id, secret = stack.new_workspace()
    for _ in range(6):
        post(stack, secret, {"events": [EVENT] * 500}, "/api/v1/events/batch")
    stack.container.process_pending_events.add_kwargs(chunk_size=100)  # 30 commits
    process = stack.container.process_pending_events()
    verify_chain = stack.container.verify_chain()
    reports = []
    with ThreadPoolExecutor(max_workers=1) as pool:
        linking = pool.submit(process.execute, workspace_id)
        while not linking.done():
            reports.append(verify_chain.execute(workspace_id))
        assert linking.result().linked == 3000
    reports.append(verify_chain.execute(workspace_id))
    assert [r for r in reports if not r.valid] == []
    assert len({r.checked for r in reports}) > 2 and reports[-1].checked == 3000


def test_verify_a_range_and_reject_bad_parameters(stack: Stack) -> None:
    workspace_id, secret = stack.new_workspace()
    post(stack, secret, {"events": [EVENT] * 5}, "/api/v1/events/batch")
    stack.drain()
    report = get(stack, secret, "/api/v1/events/verify?from_sequence=2&to_sequence=4").json
    assert (report["valid"], report["checked"], report["from_sequence"],
            report["to_sequence"]) == (True, 3, 2, 4)
    fourth = stack.sql("SELECT hash FROM events WHERE workspace_id = :w AND sequence = 4",
                       w=workspace_id)[0][0]
    assert report["head_hash"] == fourth  # what a checkpoint at 4 records
    for query in ("from_sequence=abc", "from_sequence=0", "colour=red",
                  "from_sequence=1&from_sequence=2", f"to_sequence={2**63}"):
        response = get(stack, secret, f"/api/v1/events/verify?{query}")
        assert response.status_code == 400, query
        assert response.json["error"]["code"] == "invalid_parameter"
    reversed_range = get(stack, secret, "/api/v1/events/verify?from_sequence=4&to_sequence=2")
    assert (reversed_range.status_code, reversed_range.json["error"]["code"]) == \
        (400, "invalid_parameter")
    assert reversed_range.json["error"]["message"] == \
        "Invalid query parameter 'to_sequence': Must not be less than from_sequence."
