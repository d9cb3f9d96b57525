"""``metadata.<key>`` filters on both stacks: searched, counted, grouped, exported and
forced by viewer links alike, the values compared as JSON compares them."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.integration.stacks import Stack, bearer
from tests.integration.test_exports_api import create, fetch
from tests.integration.test_viewer_links import link

HELD = [  # each event's metadata, by its actor id
    {"order": 123, "plan": "pro"},
    {"order": 123.0, "plan": "free"},
    {"order": "123", "plan": "pro"},
    {"order": [123], "plan": "pro"},
    {"order": {"id": 123}, "plan": "pro"},
    {"plan": "pro"},
    {"order": None, "plan": "pro", "paid": True},
    {"order": "null", "paid": 1},
    {"order": 7, "paid": "true", "o'k \"key\"": "yes", "a.b": "dotted"},
    {"order": "ord_7", "paid": False, "città": "Zürich"},
]


def search(stack: Stack, secret: str, **query: str) -> Any:
    return stack.client.get(f"/api/v1/events?{urlencode(query)}", headers=bearer(secret))


def found(stack: Stack, secret: str, **query: str) -> list[int]:
    """The matching events, as their index in ``HELD``, paged two at a time; the count
    checked against them."""
    seen: list[int] = []
    cursor: dict[str, str] = {}
    while True:
        response = search(stack, secret, **query, **cursor, limit="2", order="asc")
        assert response.status_code == 200, response.json
        seen += [int(event["actor"]["id"]) for event in response.json["data"]]
        if not response.json["has_more"]:
            break
        cursor = {"cursor": response.json["next_cursor"]}
    assert search(stack, secret, **query).json["total_count"] == len(seen)
    return seen


@pytest.fixture
def held(stack: Stack) -> tuple[Stack, str]:
    _, secret = stack.new_workspace()
    events = [{"action": "order.paid" if n % 2 else "order.created",
               "occurred_at": f"2026-11-01T00:00:{n:02}Z",
               "actor": {"id": str(n), "type": "user"}, "metadata": metadata}
              for n, metadata in enumerate(HELD)]
    response = stack.client.post("/api/v1/events/batch", headers=bearer(secret),
                                 json={"events": events})
    assert response.status_code == 202, response.json
    stack.drain()
    return stack, secret


@pytest.mark.parametrize(("query", "expected"), [
    ({"metadata.order": "123"}, [0, 1, 2]),        # bare: the number (1 is 1.0) or the text
    ({"metadata.order": '"123"'}, [2]),            # quoted: the string only
    ({"metadata.order": "123.0"}, [0, 1]),
    ({"metadata.order": "null"}, [6, 7]),          # JSON null, and the text "null"
    ({"metadata.order": '"null"'}, [7]),
    ({"metadata.paid": "true"}, [6, 8]),           # true is not 1
    ({"metadata.paid": "1"}, [7]),
    ({"metadata.paid": "false"}, [9]),
    ({"metadata.order": "ord_7"}, [9]),            # not JSON: the text
    ({"metadata.plan": "pro"}, [0, 2, 3, 4, 5, 6]),
    ({"metadata.plan": "pro", "metadata.order": "123"}, [0, 2]),   # ANDed
    ({"metadata.plan": "pro", "action": "order.paid"}, [3, 5]),    # with the other filters
    ({"metadata.o'k \"key\"": "yes"}, [8]),
    ({"metadata.a.b": "dotted"}, [8]),             # a key with a dot is that key
    ({"metadata.città": "Zürich"}, [9]),
    ({"metadata.missing": "pro"}, []),
])
def test_metadata_filters_find_what_they_say(held: tuple[Stack, str], query: dict[str, str],
                                             expected: list[int]) -> None:
    stack, secret = held
    assert found(stack, secret, **query) == expected


def test_stats_count_within_metadata_filters(held: tuple[Stack, str]) -> None:
    stack, secret = held
    response = stack.client.get("/api/v1/events/stats?group_by=action&metadata.plan=pro",
                                headers=bearer(secret))
    assert response.status_code == 200, response.json
    assert response.json["total"] == 6
    assert response.json["groups"] == [{"value": "order.created", "count": 4},
                                       {"value": "order.paid", "count": 2}]


def groups(stack: Stack, secret: str, query: str) -> list[tuple[type, Any, int]]:
    response = stack.client.get(f"/api/v1/events/stats?{query}", headers=bearer(secret))
    assert response.status_code == 200, response.json
    listed = response.json["groups"]
    assert response.json["total"] == sum(group["count"] for group in listed) \
        + response.json["other"]
    return [(type(group["value"]), group["value"], group["count"]) for group in listed]


def test_stats_count_by_a_metadata_key_as_json_compares_values(
        held: tuple[Stack, str]) -> None:
    """123 and 123.0 one group, "123" another; objects, lists, null and no key: null."""
    stack, secret = held
    assert groups(stack, secret, "group_by=metadata.order") == [
        (type(None), None, 4), (int, 123, 2), (str, "123", 1), (str, "null", 1),
        (str, "ord_7", 1), (int, 7, 1)]
    assert groups(stack, secret, "group_by=metadata.paid") == [
        (type(None), None, 6), (str, "true", 1), (int, 1, 1), (bool, False, 1),
        (bool, True, 1)]
    assert groups(stack, secret, "group_by=metadata.plan&action=order.created&limit=1") == [
        (str, "pro", 4)]
    assert groups(stack, secret, "group_by=metadata.città") == [
        (type(None), None, 9), (str, "Zürich", 1)]


@pytest.mark.parametrize(("group_by", "message"), [
    ("metadata.", "Name a top-level key"),
    ("metadata." + "k" * 129, "at most 128"),
    ("colour", "or metadata.<key>"),
])
def test_stats_by_a_metadata_key_that_names_none_is_a_400(stack: Stack, group_by: str,
                                                          message: str) -> None:
    _, secret = stack.new_workspace()
    response = stack.client.get(f"/api/v1/events/stats?group_by={group_by}",
                                headers=bearer(secret))
    assert response.status_code == 400, response.json
    assert "'group_by'" in response.json["error"]["message"]
    assert message in response.json["error"]["message"]


def test_an_export_holds_the_events_its_metadata_filters_find(
        held: tuple[Stack, str]) -> None:
    stack, secret = held
    export = create(stack, secret, format="ndjson",
                    filters={"metadata.plan": "pro", "metadata.order": "123"})
    assert export["filters"] == {"metadata.order": "123", "metadata.plan": "pro"}
    stack.drain()
    data, _ = fetch(stack, secret, export["id"])
    rows = [json.loads(line) for line in data.decode().splitlines()]
    assert [row["actor"]["id"] for row in rows] == ["0", "2"]
    evidence = stack.client.get(f"/api/v1/exports/{export['id']}/evidence",
                                headers=bearer(secret))
    assert evidence.status_code == 200, evidence.json


@pytest.mark.parametrize(("filters", "field", "message"), [
    ({"metadata.order": 123}, "filters.metadata.order", "Must be a string"),
    ({"metadata.order": "[1]"}, "filters.metadata.order", "an object or a list"),
    ({"metadata.": "x"}, "filters.metadata.", "Name a top-level key"),
])
def test_an_export_with_a_metadata_filter_that_means_nothing_is_refused(
        stack: Stack, filters: dict, field: str, message: str) -> None:
    _, secret = stack.new_workspace()
    response = stack.client.post("/api/v1/exports", headers=bearer(secret),
                                 json={"format": "csv", "filters": filters})
    assert response.status_code == 422, response.json
    (error,) = response.json["error"]["details"]
    assert error["field"] == field and message in error["message"]


@pytest.mark.parametrize(("query", "parameter", "message"), [
    ({"metadata.order": '{"id": 123}'}, "metadata.order", "an object or a list"),
    ({"metadata.": "x"}, "metadata.", "Name a top-level key"),
    ({"metadata.n": "1e999"}, "metadata.n", "No event can hold"),
    ({f"metadata.k{n:02}": "x" for n in range(11)}, "metadata.k10", "At most 10"),
])
def test_a_search_with_a_metadata_filter_that_means_nothing_is_a_400(
        stack: Stack, query: dict, parameter: str, message: str) -> None:
    _, secret = stack.new_workspace()
    response = search(stack, secret, **query)
    assert response.status_code == 400, response.json
    assert response.json["error"]["code"] == "invalid_parameter"
    assert f"'{parameter}'" in response.json["error"]["message"]
    assert message in response.json["error"]["message"]


def test_metadata_alone_is_no_filter_and_says_how_to_write_one(stack: Stack) -> None:
    _, secret = stack.new_workspace()
    response = search(stack, secret, metadata="pro")
    assert response.status_code == 400
    assert "did you mean 'metadata.<key>'?" in response.json["error"]["message"]


def test_a_link_forcing_a_metadata_filter_shows_only_its_events(
        held: tuple[Stack, str]) -> None:
    """A host application keeping its own customers apart by a metadata key."""
    stack, secret = held
    created, token, _ = link(stack, secret, filters={"metadata.plan": "pro"},
                             expires_in_seconds=900)
    assert created["filters"] == {"metadata.plan": "pro"}
    assert found(stack, token) == [0, 2, 3, 4, 5, 6]
    assert found(stack, token, **{"metadata.order": "123"}) == [0, 2]
    refused = search(stack, token, **{"metadata.plan": "free"})
    assert refused.status_code == 400 and "'metadata.plan'" in refused.json["error"]["message"]
    free = json.loads(search(stack, secret, **{"metadata.plan": "free"}).data)["data"][0]
    assert stack.client.get(f"/api/v1/events/{free['id']}",
                            headers=bearer(token)).status_code == 404
    misspelt = stack.client.post("/api/v1/viewer-links", headers=bearer(secret), json={
        "filters": {"metadata.plan": 1}, "expires_in_seconds": 900})
    assert misspelt.status_code == 422
    assert misspelt.json["error"]["details"][0]["field"] == "filters.metadata.plan"


@pytest.mark.parametrize("filters", [["metadata.plan"], "metadata.plan=pro", 12])
def test_filters_that_are_no_object_are_a_422(stack: Stack, filters: Any) -> None:
    """Found by the API's fuzzing: gathering metadata names read any body as an object."""
    _, secret = stack.new_workspace()
    for path in ("/api/v1/exports", "/api/v1/viewer-links"):
        response = stack.client.post(path, headers=bearer(secret),
                                     json={"format": "csv", "filters": filters})
        assert response.status_code == 422, response.json
        assert response.json["error"]["details"][0]["field"] == "filters"


def test_an_event_holding_nul_neither_breaks_nor_escapes_a_metadata_search(
        stack: Stack) -> None:
    """PostgreSQL's jsonb cannot hold U+0000, which a JSON string may: such an event, read
    by a search, once made every metadata search over it fail."""
    _, secret = stack.new_workspace()
    bodies = [{"action": "user.login", "actor": {"id": str(n), "type": "user"},
               "metadata": {"plan": "pro", "note": note}}
              for n, note in enumerate(["a\u0000b", "\\u0000", "plain"])]
    assert stack.client.post("/api/v1/events/batch", headers=bearer(secret),
                             json={"events": bodies}).status_code == 202
    stack.drain()
    assert sorted(found(stack, secret, **{"metadata.plan": "pro"})) == [0, 1, 2]
    assert found(stack, secret, **{"metadata.note": '"\\\\u0000"'}) == [1]  # the text
    assert groups(stack, secret, "group_by=metadata.note")[0][2] == 1
    refused = search(stack, secret, **{"metadata.note": "a\u0000b"})
    assert refused.status_code == 400 and "U+0000" in refused.json["error"]["message"]
