"""A server process is ready before its first request: engine, first connection, script."""

from __future__ import annotations

import gc
import logging
import os
import weakref
from pathlib import Path

import pytest
import redis

from adapters.redis_store.rate_limiter import GCRA_SCRIPT
from entrypoints.container.installation import build_container
from entrypoints.settings import Settings
from entrypoints.warm_up import warm_up
from tests.integration.stacks import TEST_SIGNING_KEY


def test_production_process_is_connected_before_its_first_request(
        postgres_url: str, redis_url: str, tmp_path: Path) -> None:
    client = redis.Redis.from_url(redis_url)
    client.script_flush()  # as after a Redis restart: the script must be loaded again
    container = build_container(Settings(database_url=postgres_url, redis_url=redis_url,
                                         secret_key="test-secret-key-not-for-production",
                                         signing_key=TEST_SIGNING_KEY, data_dir=tmp_path))
    warm_up(container)
    try:
        assert container.engine().pool.checkedin() == 1
        assert client.script_exists(client.register_script(GCRA_SCRIPT).sha) == [True]
    finally:
        container.job_queue().close()
        container.engine().dispose()


def test_embedded_process_opens_its_database(tmp_path: Path) -> None:
    container = build_container(Settings(data_dir=tmp_path))
    container.upgrade_database()
    container.engine().dispose()
    warm_up(container)
    assert container.engine().pool.checkedin() == 1
    container.engine().dispose()


def test_unreachable_services_are_reported_not_fatal(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    container = build_container(Settings(
        database_url="postgresql+psycopg://nobody@127.0.0.1:1/none",
        redis_url="redis://127.0.0.1:1/0", secret_key="test-secret-key-not-for-production",
        signing_key=TEST_SIGNING_KEY, data_dir=tmp_path))
    with caplog.at_level(logging.WARNING):
        warm_up(container)
    warnings = [record.getMessage() for record in caplog.records]
    assert any(message.startswith("database not reachable at start") for message in warnings)
    assert any(message.startswith("rate limiter not reachable at start")
               for message in warnings)
    container.job_queue().close()


def test_a_forked_process_does_not_inherit_the_warm_connection(tmp_path: Path) -> None:
    """As under ``gunicorn --preload``: the parent warms up, then forks its workers."""
    container = build_container(Settings(data_dir=tmp_path))
    container.upgrade_database()
    warm_up(container)
    assert container.engine().pool.checkedin() == 1
    child = os.fork()
    if child == 0:  # the child reports through its exit status only
        os._exit(0 if container.engine().pool.checkedin() == 0 else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert container.engine().pool.checkedin() == 1  # the parent keeps its own
    container.engine().dispose()


def test_a_discarded_container_leaves_nothing_behind(tmp_path: Path) -> None:
    """The fork hook holds engines weakly: a process that builds several containers, as
    the tests do, does not keep every engine it warmed up alive."""
    container = build_container(Settings(data_dir=tmp_path))
    container.upgrade_database()
    warm_up(container)
    engine = weakref.ref(container.engine())
    container.engine().dispose()
    del container
    gc.collect()
    assert engine() is None
