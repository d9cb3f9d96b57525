"""GET /events: filters, both orders, exact keyset paging, errors and tenant isolation."""

from __future__ import annotations

import base64
import hashlib
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.fakes import FakeClock
from tests.integration.stacks import Stack, bearer

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def ts(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def event(n: int, **fields: Any) -> dict[str, Any]:
    return {"action": fields.pop("action", "user.login"), "occurred_at": ts(n),
            "actor": {"id": fields.pop("actor_id", f"usr_{n % 3}"),
                      "type": fields.pop("actor_type", "user")}, **fields}


def ingest(stack: Stack, secret: str, bodies: list[dict[str, Any]]) -> list[str]:
    ids: list[str] = []
    for start in range(0, len(bodies), 1000):
        response = stack.client.post("/api/v1/events/batch", headers=bearer(secret),
                                     json={"events": bodies[start:start + 1000]})
        assert response.status_code == 202, response.json
        ids += response.json["ids"]
    return ids


def page(stack: Stack, secret: str, **query: Any) -> Any:
    return stack.client.get(f"/api/v1/events?{urlencode(query)}", headers=bearer(secret))


def walk(stack: Stack, secret: str, between_pages: Any = None, **query: Any) -> list[dict]:
    seen: list[dict] = []
    cursor = None
    for _ in range(10_000):
        response = page(stack, secret, **query, **({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.json
        body = response.json
        seen += body["data"]
        if not body["has_more"]:
            assert "next_cursor" not in body
            return seen
        cursor = body["next_cursor"]
        if between_pages:
            between_pages()
    raise AssertionError("did not finish")


@pytest.fixture
def corpus(stack: Stack) -> tuple[Stack, str, list[dict]]:
    """30 events with varied attributes, processed, in one workspace."""
    _workspace_id, secret = stack.new_workspace()
    actions = itertools.cycle(["user.login", "user.logout", "admin.user.delete", "user_x.login",
                               "userAx.login"])
    bodies = []
    for n in range(30):
        body = event(n, action=next(actions), actor_type="service" if n % 5 == 0 else "user",
                     targets=[{"id": f"doc_{n % 4}", "type": "document"}] if n % 2 else [],
                     context={"ip_address": "81.2.69.160" if n % 3 else "2001:db8::7"})
        bodies.append(body)
    ingest(stack, secret, bodies)
    stack.drain()
    documents = walk(stack, secret, limit=100)
    assert len(documents) == 30
    return stack, secret, documents


def test_page_shape_and_default_order(corpus) -> None:  # type: ignore[no-untyped-def]
    stack, secret, documents = corpus
    body = page(stack, secret, limit=10).json
    assert list(body) == ["data", "has_more", "next_cursor", "total_count"]
    assert body["has_more"] is True and body["total_count"] == 30 and len(body["data"]) == 10
    assert [d["occurred_at"] for d in documents] == sorted(
        (d["occurred_at"] for d in documents), reverse=True)
    assert page(stack, secret).json["data"][0]["occurred_at"] == ts(29).replace("Z", ".000000Z")
    ascending = walk(stack, secret, order="asc", limit=7)
    assert [d["id"] for d in ascending] == [d["id"] for d in reversed(documents)]


MATCHERS = {
    "action": ("user.login", lambda d: d["action"] == "user.login"),
    "actor_id": ("usr_1", lambda d: d["actor"]["id"] == "usr_1"),
    "actor_type": ("service", lambda d: d["actor"]["type"] == "service"),
    "target_id": ("doc_3", lambda d: any(t["id"] == "doc_3" for t in d["targets"])),
    "target_type": ("document", lambda d: bool(d["targets"])),
    "ip_address": ("2001:DB8:0::7", lambda d: d["context"]["ip_address"] == "2001:db8::7"),
    "since": (ts(10), lambda d: d["occurred_at"] >= ts(10).replace("Z", ".000000Z")),
    "until": (ts(10), lambda d: d["occurred_at"] < ts(10).replace("Z", ".000000Z")),
    "status": ("processed", lambda d: True),
}


@pytest.mark.parametrize("name", sorted(MATCHERS))
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_each_filter_alone(corpus, name: str, order: str) -> None:  # type: ignore[no-untyped-def]
    stack, secret, documents = corpus
    value, matches = MATCHERS[name]
    expected = [d["id"] for d in documents if matches(d)]
    if order == "asc":
        expected.reverse()
    found = walk(stack, secret, **{name: value}, order=order, limit=4)
    assert [d["id"] for d in found] == expected
    assert page(stack, secret, **{name: value}).json["total_count"] == len(expected)


def test_action_prefix_is_a_prefix_not_a_pattern(corpus) -> None:  # type: ignore[no-untyped-def]
    stack, secret, _documents = corpus
    found = {d["action"] for d in walk(stack, secret, action="user.*")}
    assert found == {"user.login", "user.logout"}
    underscored = {d["action"] for d in walk(stack, secret, action="user_x.*")}
    assert underscored == {"user_x.login"}  # '_' is not a wildcard: userAx.login stays out
    assert {d["action"] for d in walk(stack, secret, action="admin.*")} == {"admin.user.delete"}


def test_filters_combine_with_and(corpus) -> None:  # type: ignore[no-untyped-def]
    stack, secret, documents = corpus
    expected = [d["id"] for d in documents
                if d["action"].startswith("user.") and d["targets"]
                and d["actor"]["id"] == "usr_1" and d["occurred_at"] >= ts(5)]
    found = walk(stack, secret, action="user.*", target_type="document", actor_id="usr_1",
                 since=ts(5), limit=2)
    assert [d["id"] for d in found] == expected and expected
    assert page(stack, secret, action="user.*", target_type="document", actor_id="usr_1",
                since=ts(5)).json["total_count"] == len(expected)


TERM_COMBINATIONS = [  # filters counted on event_terms alone, without events
    {"target_id": "doc_1", "since": ts(5), "until": ts(25)},
    {"target_type": "document", "action": "user.*"},
    {"target_id": "doc_3", "target_type": "document", "since": ts(3)},
    {"action": "user.*", "until": ts(12)},
]


@pytest.mark.parametrize("query", TERM_COMBINATIONS)
def test_term_filters_combined_page_and_count_alike(  # type: ignore[no-untyped-def]
        corpus, query: dict[str, str]) -> None:
    stack, secret, documents = corpus

    def matches(d: dict[str, Any]) -> bool:
        at = d["occurred_at"]
        return all((
            "target_id" not in query or any(t["id"] == query["target_id"]
                                            for t in d["targets"]),
            "target_type" not in query or any(t["type"] == query["target_type"]
                                              for t in d["targets"]),
            "action" not in query or d["action"].startswith("user."),
            "since" not in query or at >= query["since"].replace("Z", ".000000Z"),
            "until" not in query or at < query["until"].replace("Z", ".000000Z")))

    expected = [d["id"] for d in documents if matches(d)]
    assert expected and len(expected) < len(documents)
    assert [d["id"] for d in walk(stack, secret, **query, limit=3)] == expected
    assert page(stack, secret, **query).json["total_count"] == len(expected)


def test_country_code_filter(stack_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.geo_db import LONDON_V4, SYDNEY_V6, build_city_database
    stack = stack_factory("embedded", geoip_db=str(build_city_database(tmp_path / "c.mmdb")))
    _, secret = stack.new_workspace()
    ingest(stack, secret, [event(n, context={"ip_address": ip})
                           for n, ip in enumerate([LONDON_V4, SYDNEY_V6, LONDON_V4])])
    stack.drain()
    assert len(walk(stack, secret, country_code="gb")) == 2
    assert len(walk(stack, secret, country_code="AU")) == 1


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_a_thousand_events_in_one_microsecond_page_exactly(stack: Stack, order: str) -> None:
    _, secret = stack.new_workspace()
    ids = ingest(stack, secret, [{**event(0), "occurred_at": "2026-11-01T00:00:00.123456Z"}
                                 for _ in range(1000)])
    found = [d["id"] for d in walk(stack, secret, order=order, limit=7)]
    assert len(found) == len(set(found)) == 1000
    assert found == sorted(ids, reverse=order == "desc")


def test_paging_while_events_arrive(stack: Stack) -> None:
    _, secret = stack.new_workspace()
    before = set(ingest(stack, secret, [event(n) for n in range(60)]))
    arrivals = itertools.count(1000)

    def arrive() -> None:  # new events land both inside and after the range being walked
        ingest(stack, secret, [event(next(arrivals)), event(-next(arrivals))])

    for order in ("desc", "asc"):
        found = [d["id"] for d in walk(stack, secret, between_pages=arrive, order=order,
                                       limit=9)]
        assert len(found) == len(set(found))
        assert before <= set(found)


BAD_QUERIES = [
    ({"colour": "red"}, "colour"), ({"since": "yesterday"}, "since"),
    ({"until": "2026-11-01T00:00:00.1234567Z"}, "until"), ({"limit": "0"}, "limit"),
    ({"limit": "101"}, "limit"), ({"limit": "ten"}, "limit"), ({"order": "sideways"}, "order"),
    ({"status": "done"}, "status"), ({"country_code": "GBR"}, "country_code"),
    ({"ip_address": "1.2.3"}, "ip_address"), ({"action": "user*"}, "action"),
    ({"action": "%"}, "action"),
    ({"since": "2026-11-02T00:00:00Z", "until": "2026-11-01T00:00:00Z"}, "until"),
    # no event holds a control character; NUL reached PostgreSQL, which refuses it (a 500)
    ({"actor_id": "u\u0000"}, "actor_id"), ({"target_type": "\u0000"}, "target_type"),
]


@pytest.mark.parametrize(("query", "name"), BAD_QUERIES)
def test_invalid_parameters_are_named(stack: Stack, query: dict, name: str) -> None:
    _, secret = stack.new_workspace()
    response = page(stack, secret, **query)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_parameter"
    message = response.json["error"]["message"]  # the name leads, whatever the problem
    assert message.startswith((f"Invalid query parameter '{name}': ",
                               f"Unknown query parameter '{name}';")), message


@pytest.mark.parametrize(("query", "meant"), [
    ({"from": "2026-11-01T00:00:00Z"}, "since"), ({"page": "2"}, "cursor"),
    ({"per_page": "10"}, "limit"), ({"actor": "usr_1"}, "actor_id"),
    ({"Country_Code": "GB"}, "country_code"), ({"targte_id": "doc_7"}, "target_id"),
    ({"occurred_after": "2026-11-01T00:00:00Z"}, "since"), ({"before": "x"}, "until")])
def test_an_unknown_parameter_names_the_one_probably_meant(stack: Stack, query: dict,
                                                           meant: str) -> None:
    _, secret = stack.new_workspace()
    [name] = query
    assert page(stack, secret, **query).json["error"]["message"] == \
        f"Unknown query parameter '{name}'; did you mean '{meant}'?"


def test_an_unknown_parameter_with_nothing_close_lists_those_taken(stack: Stack) -> None:
    _, secret = stack.new_workspace()
    message = page(stack, secret, colour="red").json["error"]["message"]
    assert message.startswith("Unknown query parameter 'colour'; this endpoint takes ")
    taken = message.removeprefix("Unknown query parameter 'colour'; this endpoint takes ")
    assert set(taken.rstrip(".").split(", ")) == {
        "action", "actor_id", "actor_type", "target_id", "target_type", "ip_address",
        "country_code", "since", "until", "status", "metadata.<key>", "order", "limit",
        "cursor"}


def test_an_unencoded_plus_in_an_offset_gets_a_hint(stack: Stack) -> None:
    """``+`` in a query string means a space: the classic first mistake with offsets."""
    _, secret = stack.new_workspace()
    raw = stack.client.get("/api/v1/events?since=2026-11-01T10:00:00+02:00",
                           headers=bearer(secret))
    assert raw.status_code == 400
    assert raw.json["error"]["message"].endswith("write the offset's '+' as %2B.")
    assert stack.client.get("/api/v1/events?since=2026-11-01T10:00:00%2B02:00",
                            headers=bearer(secret)).status_code == 200
    assert "%2B" not in page(stack, secret, since="yesterday").json["error"]["message"]


def test_invalid_cursors(stack: Stack) -> None:
    _, secret = stack.new_workspace()
    ingest(stack, secret, [event(n) for n in range(5)])
    cursor = page(stack, secret, limit=2).json["next_cursor"]
    body = "desc:999999999999999999:evt_1"
    far = base64.urlsafe_b64encode(
        f"{body}:{hashlib.sha256(body.encode()).hexdigest()[:8]}".encode()).rstrip(b"=").decode()
    for bad, order in [("garbage!", "desc"), (cursor[:-3], "desc"), (cursor, "asc"),
                       (far, "desc"), ("", "desc")]:
        response = page(stack, secret, cursor=bad, order=order)
        assert response.status_code == 400, bad
        assert response.json["error"]["code"] == "invalid_cursor"


def test_no_filter_cursor_or_id_crosses_workspaces(stack: Stack) -> None:
    _, secret_a = stack.new_workspace("A")
    _, secret_b = stack.new_workspace("B")
    shared = event(1, targets=[{"id": "doc_1", "type": "document"}],
                   context={"ip_address": "81.2.69.160"})
    ids_a = set(ingest(stack, secret_a, [shared] * 5))
    ids_b = set(ingest(stack, secret_b, [shared] * 3))
    stack.drain()
    cursor_a = page(stack, secret_a, limit=2).json["next_cursor"]
    for query in [{}, {"action": "user.*"}, {"target_id": "doc_1"}, {"actor_id": "usr_1"},
                  {"ip_address": "81.2.69.160"}, {"status": "processed"},
                  {"cursor": cursor_a}, {"target_type": "document", "action": "user.login"}]:
        found = {d["id"] for d in walk(stack, secret_b, **query)}
        assert not found & ids_a, query
        assert found <= ids_b
        assert page(stack, secret_b, **query).json["total_count"] <= 3
    for event_id in ids_a:
        assert stack.client.get(f"/api/v1/events/{event_id}",
                                headers=bearer(secret_b)).status_code == 404


def test_pending_events_are_listed_and_counted(stack: Stack) -> None:
    _, secret = stack.new_workspace()
    ingest(stack, secret, [event(n) for n in range(4)])
    assert page(stack, secret, status="pending").json["total_count"] == 4
    assert page(stack, secret).json["total_count"] == 4
    stack.drain()
    assert page(stack, secret, status="pending").json["total_count"] == 0
    assert page(stack, secret, status="processed").json["total_count"] == 4


def test_received_clock_does_not_matter_to_order(stack: Stack) -> None:
    with stack.container.clock.override(FakeClock(datetime(2026, 11, 26, tzinfo=UTC))):
        _, secret = stack.new_workspace()
        ingest(stack, secret, [event(5), event(1), event(3)])
    assert [d["occurred_at"][:19] for d in page(stack, secret, order="asc").json["data"]] == \
        [ts(1)[:19], ts(3)[:19], ts(5)[:19]]


def test_a_page_costs_a_few_statements_whatever_its_size(stack: Stack) -> None:
    """No statement per event, and the chain's anchor and head in one read."""
    _, secret = stack.new_workspace()
    ingest(stack, secret, [event(n) for n in range(120)])
    stack.drain()
    counts = []
    for limit in (5, 100):
        with stack.statements() as seen:
            assert len(page(stack, secret, limit=limit).json["data"]) == limit
        limits = [s for s in seen if s.startswith("SET LOCAL statement_timeout")]
        assert len(limits) == (stack.name == "production"), seen  # the query time limit
        reads = [s for s in seen if "FROM api_keys" not in s  # embedded: keys not cached
                 and s not in limits]
        assert sum("FROM chain_heads" in s for s in reads) == 1, seen
        counts.append(len(reads))
    assert counts[0] == counts[1] == 3, counts  # the page, the chain's ends, pending count
    with stack.statements() as seen:
        assert get_verify(stack, secret)["checked"] == 120
    assert sum("FROM chain_heads" in s for s in seen) == 1, seen


def get_verify(stack: Stack, secret: str) -> dict[str, Any]:
    return stack.client.get("/api/v1/events/verify", headers=bearer(secret)).json
