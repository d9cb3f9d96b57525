"""Shared fixtures: which backing services are reachable, and the two stacks under test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import redis

from tests.queues import forget_test_run

REQUIRE_SERVICES = os.environ.get("AUDITRAIL_REQUIRE_SERVICES") == "1"
POSTGRES_ADMIN = os.environ.get("AUDITRAIL_TEST_POSTGRES",
                                "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("AUDITRAIL_TEST_REDIS", "redis://127.0.0.1:6379/0")


def unavailable(reason: str) -> None:
    """Skip with a reason, or fail when CI says the services must be there."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (AUDITRAIL_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated database for this test session, dropped at the end."""
    name = f"auditrail_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL unreachable at {POSTGRES_ADMIN}: {type(exc).__name__}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    url = f"{base}/{name}"
    from adapters.sql.engine import build_engine
    from adapters.sql.migrate import upgrade
    engine = build_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        unavailable(f"Redis unreachable at {REDIS_URL}: {type(exc).__name__}")
    yield REDIS_URL
    forget_test_run(client)
