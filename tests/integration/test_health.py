from __future__ import annotations

from pathlib import Path

from tests.integration.stacks import Stack, embedded_stack, production_stack


def test_healthz_and_readyz(stack: Stack) -> None:
    assert stack.client.get("/healthz").json == {"status": "ok"}
    ready = stack.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json["checks"] == {"database": True, "queue": True}


def test_readyz_is_503_when_redis_is_down(postgres_url: str) -> None:
    stack = production_stack(postgres_url, "redis://127.0.0.1:1/0")
    try:
        response = stack.client.get("/readyz")
        assert response.status_code == 503
        assert response.json["error"]["code"] == "unavailable"
        assert "queue" in response.json["error"]["message"]
        assert int(response.headers["Retry-After"]) >= 1
    finally:
        stack.close()


def test_readyz_and_api_are_503_when_the_database_is_down(redis_url: str) -> None:
    stack = production_stack("postgresql+psycopg://postgres@127.0.0.1:1/none", redis_url)
    try:
        response = stack.client.get("/readyz")
        assert response.status_code == 503
        assert "database" in response.json["error"]["message"]
        api = stack.client.get("/api/v1/events/evt_x",
                               headers={"Authorization": "Bearer ak_" + "x" * 43})
        assert api.status_code == 503 and api.json["error"]["code"] == "unavailable"
    finally:
        stack.close()


def test_embedded_database_lives_in_the_data_dir(tmp_path: Path) -> None:
    stack = embedded_stack(tmp_path / "data")
    try:
        stack.new_workspace()
        assert (tmp_path / "data" / "auditrail.db").exists()
    finally:
        stack.close()
