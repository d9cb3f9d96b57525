from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from adapters.sql import engine as engine_module
from adapters.sql.engine import build_engine
from adapters.sql.migrate import upgrade
from tests.conftest import POSTGRES_ADMIN
from tests.integration.stacks import Stack, bearer, embedded_stack, production_stack


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


def restart_answers(empty_postgres: str, redis_url: str, idle: float) -> list[int]:
    """The statuses of six single events sent one by one after the database's connections
    were terminated, as a restart does, ``idle`` seconds after the pool's last use."""
    engine = build_engine(empty_postgres)
    upgrade(engine)
    engine.dispose()
    stack = production_stack(empty_postgres, redis_url)
    try:
        _, key = stack.new_workspace()
        event = {"action": "user.login", "actor": {"id": "u", "type": "user"}}

        def post() -> int:
            return stack.app.test_client().post("/api/v1/events", headers=bearer(key),
                                                json=event).status_code
        with ThreadPoolExecutor(6) as pool:  # several connections in the pool
            assert set(pool.map(lambda _: post(), range(60))) == {202}
        assert stack.container.engine().pool.checkedin() >= 2
        time.sleep(idle)
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:  # as a restart does
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = %s AND pid <> pg_backend_pid()",
                          (empty_postgres.rsplit("/", 1)[1],))
        return [post() for _ in range(6)]
    finally:
        stack.close()


def test_a_database_restart_costs_one_request_not_one_per_pooled_connection(
        empty_postgres: str, redis_url: str) -> None:
    """The single-event INSERT goes to the driver directly; a dead connection found there
    used to be dropped alone, so each of the pool's dead connections failed a request."""
    assert restart_answers(empty_postgres, redis_url, idle=0) == [503, 202, 202, 202, 202,
                                                                  202]


def test_a_database_restarted_while_the_server_was_idle_costs_no_request(
        empty_postgres: str, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Idle connections are pinged before use, so a night's maintenance is not the first
    morning request's 503 in every server process."""
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_SECONDS", 0.3)
    assert restart_answers(empty_postgres, redis_url, idle=0.4) == [202] * 6


def test_a_database_taking_no_writes_is_unavailable_not_an_internal_error(
        empty_postgres: str, redis_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """A failover can leave the address or the pooler pointing at a standby for a moment:
    each write is refused there (read_only_sql_transaction), which clients must retry, as
    when the database is down - a 500 said the server had failed, and the Python client
    does not retry those. Reads go on."""
    engine = build_engine(empty_postgres)
    upgrade(engine)
    engine.dispose()
    stack = production_stack(empty_postgres, redis_url)
    name = empty_postgres.rsplit("/", 1)[1]
    event = {"action": "user.login", "actor": {"id": "u", "type": "user"}}
    try:
        _, key = stack.new_workspace()
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
        stack.container.engine().dispose()  # new sessions take the setting
        single = stack.client.post("/api/v1/events", headers=bearer(key), json=event)
        batch = stack.client.post("/api/v1/events/batch", headers=bearer(key),
                                  json={"events": [event] * 3})
        for answer in (single, batch):
            assert answer.status_code == 503, answer.json
            assert answer.json["error"] == {
                "code": "unavailable", "message": "The database is unavailable; retry shortly.",
                "request_id": answer.json["error"]["request_id"]}
            assert answer.headers["Retry-After"] == "5"
        assert "database unavailable (takes no writes: a standby?)" in caplog.text
        assert stack.client.get("/api/v1/events", headers=bearer(key)).status_code == 200
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
        stack.container.engine().dispose()
        assert stack.client.post("/api/v1/events", headers=bearer(key),
                                 json=event).status_code == 202
    finally:
        stack.close()


def test_embedded_database_lives_in_the_data_dir(tmp_path: Path) -> None:
    stack = embedded_stack(tmp_path / "data", from_nothing=True)
    try:
        stack.new_workspace()
        assert (tmp_path / "data" / "auditrail.db").exists()
    finally:
        stack.close()
