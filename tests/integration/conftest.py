from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.conftest import POSTGRES_ADMIN
from tests.integration.stacks import Stack, embedded_stack, production_stack


def make_stack(request: pytest.FixtureRequest, kind: str, tmp_path: Any,
               **overrides: Any) -> Stack:
    if kind == "embedded":
        return embedded_stack(tmp_path / "var", **overrides)
    overrides.setdefault("data_dir", tmp_path / "var")
    return production_stack(request.getfixturevalue("postgres_url"),
                            request.getfixturevalue("redis_url"), **overrides)


@pytest.fixture(params=["embedded", "production"])
def stack(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Stack]:
    """Every test using this runs on SQLite + in-process queue and PostgreSQL + Redis + RQ."""
    built = make_stack(request, request.param, tmp_path)
    yield built
    built.close()


@pytest.fixture
def stack_factory(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Any]:
    """Build a stack of a given kind with custom settings (e.g. trusted proxies)."""
    built: list[Stack] = []

    def factory(kind: str, **overrides: Any) -> Stack:
        stack = make_stack(request, kind, tmp_path / str(len(built)), **overrides)
        built.append(stack)
        return stack

    yield factory
    for stack in built:
        stack.close()


@pytest.fixture
def empty_postgres(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL database of the test's own, which no release has migrated (for tests
    that must not disturb the session's shared one)."""
    name = f"auditrail_empty_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    yield f"{base}/{name}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
