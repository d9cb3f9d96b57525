"""A throw-away PostgreSQL database for a benchmark, or the one an earlier run kept, and
what its processes leave in Redis."""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from redis import Redis
from rq import Queue

SIGNING_KEY = "YmVuY2ggc2lnbmluZyBrZXksIG5vdCBhIHNlY3JldCE="
"""base64 of 32 bytes: the benchmarks' production processes must sign checkpoints."""


def production_env(dsn: str, redis_url: str, data_dir: Path) -> dict[str, str]:
    """The environment of an ``auditrail serve`` or ``worker`` on a benchmark's database:
    this process's, without its AUDITRAIL_ settings, plus the production profile's."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("AUDITRAIL_")},
            "AUDITRAIL_DATABASE_URL": dsn.replace("postgresql://", "postgresql+psycopg://"),
            "AUDITRAIL_REDIS_URL": redis_url, "AUDITRAIL_SIGNING_KEY": SIGNING_KEY,
            "AUDITRAIL_SECRET_KEY": "bench-secret-key-0123456789abcdef",
            "AUDITRAIL_QUEUE_NAME": f"auditrail-bench-{uuid.uuid4().hex[:8]}",
            "AUDITRAIL_DATA_DIR": str(data_dir), "AUDITRAIL_LOG_LEVEL": "WARNING"}


def bench_container(dsn: str, data_dir: Path, **settings: object):  # type: ignore[no-untyped-def]
    """The service's container on a benchmark's database, with the benchmarks' keys (what
    signing checkpoints and sealing credentials need), for its use cases in-process."""
    from entrypoints.container.installation import build_container
    from entrypoints.settings import Settings

    return build_container(Settings(
        database_url=dsn.replace("postgresql://", "postgresql+psycopg://"),
        secret_key="bench-secret-key-0123456789abcdef", signing_key=SIGNING_KEY,
        data_dir=data_dir, **settings))


def forget_queues(env: dict[str, str]) -> None:
    """What the processes of a run on ``production_env(...)`` left in Redis: the jobs,
    wake-ups and rate limits of its queue and of the exports' and deliveries' beside it.
    Left there, they slow every later test's clean-up, which reads every job's origin."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.queues import forget_queue

    name = env["AUDITRAIL_QUEUE_NAME"]
    with Redis.from_url(env["AUDITRAIL_REDIS_URL"]) as connection:
        for each in (name, f"{name}-exports", f"{name}-deliveries"):
            forget_queue(Queue(each, connection=connection))


def add_server_options(parser: argparse.ArgumentParser, redis: bool = True) -> None:
    """``--postgres`` and ``--redis``: the servers, those of the test suite by default."""
    parser.add_argument("--postgres", default=os.environ.get(
        "AUDITRAIL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"))
    if redis:
        parser.add_argument("--redis", default=os.environ.get("AUDITRAIL_TEST_REDIS",
                                                              "redis://127.0.0.1:6379/0"))


def add_database_options(parser: argparse.ArgumentParser, events: int = 1_000_000) -> None:
    """``--postgres`` (the server), ``--events`` (how many to load), ``--keep``, ``--reuse``."""
    add_server_options(parser, redis=False)
    parser.add_argument("--events", type=int, default=events)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", metavar="DATABASE",
                        help="measure a database kept by an earlier --keep run")


@contextmanager
def scratch_database(options: argparse.Namespace, prefix: str) -> Iterator[str]:
    """The DSN of a new, empty database, dropped afterwards unless ``--keep``; with
    ``--reuse``, the DSN of that database, left as it is."""
    database = options.reuse or f"{prefix}_{uuid.uuid4().hex[:8]}"
    if not options.reuse:
        with psycopg.connect(options.postgres, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{database}"')
    try:
        yield f"{options.postgres.rsplit('/', 1)[0]}/{database}"
    finally:
        if not options.reuse and not options.keep:
            print(f"(dropping {database}; --keep keeps it for --reuse)")
            with psycopg.connect(options.postgres, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
