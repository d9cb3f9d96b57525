"""The two configurations under test, behind one interface the tests use."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from redis.exceptions import RedisError
from sqlalchemy import Connection, CursorResult, bindparam, event, text

from adapters.sql.types import UtcDateTime
from entrypoints.container.folders import private_folder
from entrypoints.container.installation import Container, build_container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from entrypoints.worker.embedded import start_embedded_worker, stop_embedded_worker
from entrypoints.worker.rq_worker import run_worker
from tests.queues import forget_queue, throwaway_queue_name

TEST_SIGNING_KEY = "YXVkaXRyYWlsIHRlc3RzOiBub3QgYSByZWFsIGtleSE="
"""base64 of 32 bytes: every production stack and process of the tests signs with it."""


def execute(connection: Connection, sql: str, **params: Any) -> CursorResult[Any]:
    """``sql`` run with its times bound as the models bind them: on SQLite the fixed-width
    UTC text every stored time is. Python's own sqlite3 adapter (deprecated since 3.12)
    writes another width, which does not sort with it. A naive time is UTC."""
    times = {name: value if value.tzinfo else value.replace(tzinfo=UTC)
             for name, value in params.items() if isinstance(value, datetime)}
    clause = text(sql).bindparams(*(bindparam(name, type_=UtcDateTime()) for name in times))
    return connection.execute(clause, {**params, **times})


class Stack:
    """A container, its Flask app and a way to run the queue until it is empty."""

    def __init__(self, name: str, settings: Settings, owned_dir: Path | None = None) -> None:
        self.name = name
        self.settings = settings
        self._owned_dir = owned_dir  # made for this stack: removed when it closes
        self.container: Container = build_container(settings)
        if name == "embedded":
            self.container.upgrade_database()
        self.app = create_app(self.container)
        self.client: FlaskClient = self.app.test_client()
        self._worker_started = False

    def drain(self) -> None:
        """Process everything queued: the real in-process thread, or a real RQ worker."""
        if self.name == "embedded":
            if not self._worker_started:
                start_embedded_worker(self.container)
                self._worker_started = True
            assert self.container.job_queue().wait_idle(timeout=30)
        else:
            self.container.job_queue().flush()  # what requests noted, without the wait
            run_worker(self.container, burst=True)

    def deliver_until(self, condition: Callable[[], bool], timeout: float = 30.0) -> bool:
        """Run the queues - processing, deliveries, and retries as they come due - until
        ``condition()`` holds (True), or for ``timeout`` seconds (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.drain()  # a burst worker also queues scheduled jobs that are due
            if condition():
                return True
            time.sleep(0.05)
        return condition()

    @contextmanager
    def statements(self) -> Iterator[list[str]]:
        """The SQL statements this thread sends meanwhile (the embedded worker's are not)."""
        seen: list[str] = []
        thread = threading.get_ident()

        def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            if threading.get_ident() == thread and statement.strip() != "BEGIN":
                seen.append(" ".join(statement.split()))

        engine = self.container.engine()
        event.listen(engine, "before_cursor_execute", record)
        try:
            yield seen
        finally:
            event.remove(engine, "before_cursor_execute", record)

    def sql(self, sql: str, **params: Any) -> Any:
        with self.container.engine().begin() as connection:
            result = execute(connection, sql, **params)
            return result.all() if result.returns_rows else result.rowcount

    def new_workspace(self, name: str = "Acme", **plan: Any) -> tuple[str, str]:
        """A workspace and its admin key; unlimited unless a ``plan`` is given, so tests
        that are not about rate limits never meet one."""
        plan = plan or {"plan": "enterprise", "rate_limit": 1_000_000}
        workspace, issued = self.container.create_workspace().execute(name, **plan)
        return workspace.id, issued.secret

    def new_key(self, workspace_id: str, *scopes: str) -> str:
        return self.container.create_api_key().execute(workspace_id, "test", scopes).secret

    def close(self) -> None:
        if self._worker_started:
            stop_embedded_worker(self.container)
        if self.name == "production":
            self.container.job_queue().close()
            with suppress(RedisError):  # some tests point Redis nowhere
                for queue in self.container.job_queue().queues:
                    forget_queue(queue)
        self.container.engine().dispose()
        if self._owned_dir is not None:
            shutil.rmtree(self._owned_dir, ignore_errors=True)


def embedded_stack(data_dir: Path, *, from_nothing: bool = False, **overrides: Any) -> Stack:
    """``from_nothing``: the stack creates its folder and database itself, as a first
    start does, rather than starting from a copy of a migrated one."""
    settings = Settings(data_dir=data_dir, **overrides)
    database = data_dir / "auditrail.db"
    if not from_nothing and settings.database_url is None and not database.exists():
        shutil.copyfile(_migrated_template(), private_folder(data_dir) / database.name)
    return Stack("embedded", settings)


def admin_key_in(data_dir: Path) -> str:
    """A new workspace's admin key, made in the embedded installation at ``data_dir`` and
    closed there, for an ``auditrail serve`` started on that folder to open."""
    setup = embedded_stack(data_dir)
    try:
        return setup.new_workspace()[1]
    finally:
        setup.close()


@functools.cache
def _migrated_template() -> Path:
    """An embedded database migrated once a test run, copied into each embedded stack's
    folder: its own migration from nothing (0.2 s) then finds it at the head, hundreds of
    times a run. Migrating from nothing is tested on its own (test_migrations, test_cli)."""
    folder = Path(tempfile.mkdtemp(prefix="auditrail-test-template-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    container = build_container(Settings(data_dir=folder))
    container.upgrade_database()
    container.engine().dispose()
    return folder / "auditrail.db"


def production_stack(database_url: str, redis_url: str, **overrides: Any) -> Stack:
    overrides.setdefault("secret_key", "test-secret-key-not-for-production")
    overrides.setdefault("signing_key", TEST_SIGNING_KEY)
    owned_dir = None
    if "data_dir" not in overrides:
        owned_dir = overrides["data_dir"] = Path(tempfile.mkdtemp(prefix="auditrail-test-"))
    overrides.setdefault("queue_name", throwaway_queue_name())
    settings = Settings(database_url=database_url, redis_url=redis_url, **overrides)
    return Stack("production", settings, owned_dir)


def stack_of_its_own(request: pytest.FixtureRequest, data_dir: Path,
                     **overrides: Any) -> Stack:
    """A stack of ``request.param``'s kind whose database holds only what the test puts
    there, for what reads the whole database (the chains due first, the witness furthest
    behind): the session's shared PostgreSQL holds every other test's rows."""
    if request.param == "embedded":
        return embedded_stack(data_dir, **overrides)
    built = production_stack(request.getfixturevalue("empty_postgres"),
                             request.getfixturevalue("redis_url"), data_dir=data_dir,
                             **overrides)
    built.container.upgrade_database()
    return built


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def point_the_cli_at(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """Set the environment so that the command line (``CliRunner``) reads the stack's
    database and queue, as an operator's shell would."""
    settings = stack.settings
    monkeypatch.setenv("AUDITRAIL_DATA_DIR", str(settings.data_dir))
    for name in ("database_url", "redis_url", "queue_name", "secret_key", "signing_key"):
        value = getattr(settings, name)
        if value and stack.name == "production":
            monkeypatch.setenv(f"AUDITRAIL_{name.upper()}", value)
        else:
            monkeypatch.delenv(f"AUDITRAIL_{name.upper()}", raising=False)
