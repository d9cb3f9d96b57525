"""``GET /events/stats`` on both stacks: counts by each attribute over the search's own
filters, the total beside the groups, days in UTC, and a viewer link's forced filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from domain.timestamps import format_timestamp
from tests.geo_db import build_city_database
from tests.integration.stacks import Stack, bearer
from tests.integration.test_viewer_links import link

LONDON = "81.2.69.160"
FIRST = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def city_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_city_database(tmp_path_factory.mktemp("geo") / "City.mmdb")


@pytest.fixture(params=["embedded", "production"])
def stack(request: pytest.FixtureRequest, stack_factory: Any, city_db: Path) -> Stack:
    return stack_factory(request.param, geoip_db=str(city_db))


def stats(stack: Stack, key: str, query: str) -> dict[str, Any]:
    response = stack.client.get(f"/api/v1/events/stats?{query}", headers=bearer(key))
    assert response.status_code == 200, response.json
    return response.json


def groups(answer: dict[str, Any]) -> list[tuple[str | None, int]]:
    return [(group["value"], group["count"]) for group in answer["groups"]]


def seeded(stack: Stack) -> tuple[str, str]:
    workspace_id, admin = stack.new_workspace()
    events = []
    for n in range(12):  # usr_0: 6 events, usr_1: 4, usr_2: 2, over three days
        actor = "usr_0" if n < 6 else "usr_1" if n < 10 else "usr_2"
        events.append({
            "action": "user.login_failed" if n % 3 else "admin.user.delete",
            "actor": {"id": actor, "type": "user"},
            "targets": [{"id": f"doc_{n % 2}", "type": "document"}],
            "context": {"ip_address": LONDON} if n % 2 else {},
            "occurred_at": format_timestamp(FIRST + timedelta(hours=20 * n))})
    response = stack.client.post("/api/v1/events/batch", headers=bearer(admin),
                                 json={"events": events})
    assert response.status_code == 202
    stack.drain()
    return workspace_id, admin


def test_counts_by_each_attribute_with_the_total_beside_them(stack: Stack) -> None:
    _, admin = seeded(stack)
    by_actor = stats(stack, admin, "group_by=actor_id&limit=2")
    assert groups(by_actor) == [("usr_0", 6), ("usr_1", 4)]
    assert (by_actor["total"], by_actor["other"]) == (12, 2)
    assert groups(stats(stack, admin, "group_by=action")) == [
        ("user.login_failed", 8), ("admin.user.delete", 4)]
    assert groups(stats(stack, admin, "group_by=country_code")) == [("GB", 6), (None, 6)]
    assert groups(stats(stack, admin, "group_by=ip_address")) == [(LONDON, 6), (None, 6)]
    assert groups(stats(stack, admin, "group_by=status")) == [("processed", 12)]
    days = stats(stack, admin, "group_by=day&limit=3")  # 20 h apart: UTC days, latest first
    assert groups(days) == [("2026-11-29", 1), ("2026-11-28", 1), ("2026-11-27", 2)]
    assert days["other"] == 8  # the 27th: 00:00 and 20:00


def test_the_search_filters_narrow_what_is_counted(stack: Stack) -> None:
    _, admin = seeded(stack)
    assert groups(stats(stack, admin, "group_by=actor_id&action=user.*")) == [
        ("usr_0", 4), ("usr_1", 2), ("usr_2", 2)]
    on_doc = stats(stack, admin, "group_by=action&target_id=doc_1&country_code=gb")
    assert groups(on_doc) == [("user.login_failed", 4), ("admin.user.delete", 2)]
    since = format_timestamp(FIRST + timedelta(days=5)).replace("+", "%2B")
    assert stats(stack, admin, f"group_by=actor_id&since={since}")["total"] == 6
    nothing = stats(stack, admin, "group_by=actor_id&actor_id=usr_9")
    assert (nothing["total"], nothing["groups"], nothing["other"]) == (0, [], 0)


def test_every_action_a_workspace_receives_fits_one_answer(stack: Stack) -> None:
    """What an admin reads before listing the workspace's ``accepted_actions``."""
    workspace_id, admin = stack.new_workspace()
    stack.container.ingest_events().execute(workspace_id, [
        {"action": f"app.action_{n:03}", "actor": {"id": "usr_1", "type": "user"}}
        for n in range(150)] * 2, batch=True)
    answer = stats(stack, admin, "group_by=action&limit=1000&status=pending")
    assert (answer["total"], answer["other"], len(answer["groups"])) == (300, 0, 150)
    assert groups(answer)[:2] == [("app.action_000", 2), ("app.action_001", 2)]


def test_bad_parameters_are_named(stack: Stack) -> None:
    _, admin = stack.new_workspace()
    for query, parameter in (("", "group_by"), ("group_by=target_id", "group_by"),
                             ("group_by=action&limit=1001", "limit"),
                             ("group_by=action&action=user.log*", "action")):
        response = stack.client.get(f"/api/v1/events/stats?{query}", headers=bearer(admin))
        assert response.status_code == 400, query
        assert response.json["error"]["code"] == "invalid_parameter"
        assert f"'{parameter}'" in response.json["error"]["message"]
    reader = stack.new_key(stack.new_workspace("other")[0], "events:write")
    assert stack.client.get("/api/v1/events/stats?group_by=action",
                            headers=bearer(reader)).status_code == 403


def test_a_viewer_link_counts_only_what_it_may_read(stack: Stack) -> None:
    _, admin = seeded(stack)
    _, token, _ = link(stack, admin, filters={"actor_id": "usr_1"})
    seen = stats(stack, token, "group_by=actor_id")
    assert groups(seen) == [("usr_1", 4)] and seen["total"] == 4
    assert groups(stats(stack, token, "group_by=action")) == [
        ("admin.user.delete", 2), ("user.login_failed", 2)]  # a tie: by value
    widened = stack.client.get("/api/v1/events/stats?group_by=action&actor_id=usr_0",
                               headers=bearer(token))
    assert widened.status_code == 400  # narrowed, never widened
    assert "This link shows only actor_id 'usr_1'" in widened.json["error"]["message"]
