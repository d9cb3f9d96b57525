"""What one ``POST /api/v1/events`` costs the server in CPU, and where it goes.

    .venv/bin/python bench/request_cost.py                 # CPU time (best of 10 slices)
    .venv/bin/python bench/request_cost.py --instructions  # exact counts, under valgrind

The single-event phase of ``bench/ingest.py`` is CPU-bound on a 2-core machine, so its
ratio to the bare endpoint follows what each request costs the CPU. Here each WSGI app is
called in this process, one request at a time, against real PostgreSQL and Redis: no HTTP
server, client or scheduler, only the code. Printed per request:
  * the bare one-INSERT app, the same INSERT behind Flask, and Auditrail's POST /events;
  * Auditrail's parts: admission (a cached key: one rate-limit round trip), that round
    trip alone, validation (building the event from its body), and the store (the unit of
    work and the one INSERT of the event and its search terms);
  * the rest of the request (Flask, body parsing, the response, request id, log line,
    metrics), beside what Flask alone adds to the bare app.
Configured as ``serve`` runs in production: the request log at INFO (formatted, then
written to /dev/null) and prometheus-client in multi-process mode.
Wake-ups for the workers, sent in the background and shared by all requests of an
interval, are left out. CPU time on this machine drifts by 10-15 % from run to run, and a
tight loop flatters small pure-Python parts (their code and data stay in the caches);
``--instructions`` counts user-space instructions with valgrind's callgrind instead,
the same figure on every run (about 20 s per line), but blind to time spent in the kernel.
"""

from __future__ import annotations

import argparse
import atexit
import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
from werkzeug.test import EnvironBuilder

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))  # tests.queues
# As ``serve`` runs in production: multi-process metrics (chosen when prometheus-client is
# imported, so before anything imports it) and a JSON log line per request at INFO.
METRICS_DIR = tempfile.mkdtemp(prefix="auditrail-cost-metrics-")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = METRICS_DIR
atexit.register(shutil.rmtree, METRICS_DIR, ignore_errors=True)  # imported or run

from dependency_injector import providers  # noqa: E402
from ingest import EVENT  # noqa: E402
from tests.queues import forget_queue  # noqa: E402

from adapters.rq_queue.job_queue import RqJobQueue  # noqa: E402
from domain.events import new_event  # noqa: E402
from entrypoints.container import EXPORT_JOB, PROCESS_JOB, build_container  # noqa: E402
from entrypoints.http.app import create_app  # noqa: E402
from entrypoints.logs import configure_logging  # noqa: E402
from entrypoints.settings import Settings  # noqa: E402

POSTGRES = os.environ.get("AUDITRAIL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("AUDITRAIL_TEST_REDIS", "redis://127.0.0.1:6379/0")
LINES = {
    "bare": "limit      bare one-INSERT app",
    "flask": "reference  the same behind Flask",
    "auditrail": "auditrail  POST /api/v1/events",
    "admission": "  admission (cached key)",
    "round_trip": "    of which the rate-limit round trip",
    "validation": "  validation, building the event",
    "store": "  store: unit of work + INSERT",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instructions", action="store_true",
                        help="count instructions under valgrind instead of timing")
    parser.add_argument("--requests", type=int, default=5_000)
    parser.add_argument("--only", choices=list(LINES), default="auditrail",
                        help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.instructions:
        count_instructions()
        return
    with Setup(options.requests) as setup:
        if os.environ.get("CALLGRIND"):
            run_counted(setup.operation(options.only), options.requests)
            return
        costs = {name: 1000 * cpu_per_call(setup.operation(name), options.requests)
                 for name in LINES}
        report(costs, "ms CPU", "{:.3f}")


def report(costs: dict[str, float], unit: str, number: str) -> None:
    """Each line, then what is left of the request: Flask and the HTTP layer."""
    for name, label in LINES.items():
        print(f"{label:<40} {number.format(costs[name])} {unit}")
    rest = costs["auditrail"] - costs["admission"] - costs["validation"] - costs["store"]
    print(f"{'  the rest: Flask and the HTTP layer':<40} {number.format(rest)} {unit}   "
          f"(Flask alone: {number.format(costs['flask'] - costs['bare'])})")


class Setup:
    """A migrated database with one unlimited workspace, and the three apps."""

    def __init__(self, requests: int) -> None:
        self.requests = requests

    def __enter__(self) -> Setup:
        configure_logging("INFO")
        self.log_sink = open(os.devnull, "w")
        logging.getLogger().handlers[0].setStream(self.log_sink)  # formatted, then dropped
        self.tmp = Path(tempfile.mkdtemp(prefix="auditrail-cost-"))
        self.database = f"auditrail_cost_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.database}"')
        dsn = f"{POSTGRES.rsplit('/', 1)[0]}/{self.database}"
        self.queue = queue = f"auditrail-cost-{uuid.uuid4().hex[:8]}"
        self.container = build_container(Settings(
            database_url=dsn.replace("postgresql://", "postgresql+psycopg://"),
            redis_url=REDIS, queue_name=queue, data_dir=self.tmp,
            secret_key="bench-secret-key-0123456789abcdef"))
        self.container.job_queue.override(providers.Singleton(  # wake-ups: left out
            RqJobQueue, redis=self.container.redis, job_path=PROCESS_JOB,
            export_job_path=EXPORT_JOB, queue_name=queue, send_interval=3600))
        self.container.upgrade_database()
        workspace, issued = self.container.create_workspace().execute(
            "cost", plan="enterprise", rate_limit=1_000_000)
        self.workspace_id, self.secret = workspace.id, issued.secret
        os.environ.update(BARE_DSN=dsn, BARE_WORKSPACE=workspace.id)
        return self

    def __exit__(self, *_: object) -> None:
        self.container.job_queue().close()
        self.container.engine().dispose()
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        for queue in self.container.job_queue().queues:  # jobs, wake-ups, rate limits
            forget_queue(queue)
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.log_sink.close()

    def operation(self, name: str) -> Callable[[], object]:
        if name in ("bare", "flask", "auditrail"):
            return self._request(name)
        container, workspace_id = self.container, self.workspace_id
        if name == "admission":
            admit = container.admit_request()
            return lambda: admit.execute(self.secret, "127.0.0.1")
        if name == "round_trip":
            limiter = container.rate_limiter()
            return lambda: limiter.hit_if_current(f"cost:{workspace_id}", 1_000_000, None)
        if name == "validation":
            return lambda: self._event()
        events = iter([self._event() for _ in range(self.requests + 200)])
        return lambda: self._store(next(events))

    def _request(self, name: str) -> Callable[[], object]:
        if name == "auditrail":
            app, path = create_app(self.container), "/api/v1/events"
        else:
            app = __import__("bare_app" if name == "bare" else "flask_floor").app
            path = "/"
        body = json.dumps(EVENT).encode()
        headers = {"Authorization": f"Bearer {self.secret}",
                   "Content-Type": "application/json"}

        def start_response(status: str, _headers: object, _exc: object = None) -> None:
            if not status.startswith("202"):
                raise SystemExit(f"{name} answered {status}")

        template = EnvironBuilder(path=path, method="POST", data=body,
                                  headers=headers).get_environ()

        def call() -> bytes:
            environ = {**template, "wsgi.input": io.BytesIO(body)}
            return b"".join(app(environ, start_response))
        return call

    def _event(self):  # type: ignore[no-untyped-def]
        return new_event(dict(EVENT), event_id=self.container.ids().new("evt"),
                         workspace_id=self.workspace_id,
                         received_at=self.container.clock().now())

    def _store(self, event) -> None:  # type: ignore[no-untyped-def]
        with self.container.uow(single_write=True) as uow:
            uow.events.add_many([event])
            uow.commit()


def cpu_per_call(operation: Callable[[], object], count: int, slice_size: int = 500) -> float:
    """The best slice: interruptions only ever add time."""
    for _ in range(200):  # warm-up: pools, prepared statements, caches
        operation()
    best = float("inf")
    for _ in range(max(1, count // slice_size)):
        started = time.process_time()
        for _ in range(slice_size):
            operation()
        best = min(best, (time.process_time() - started) / slice_size)
    return best


def run_counted(operation: Callable[[], object], count: int) -> None:
    for _ in range(200):
        operation()
    subprocess.run(["callgrind_control", "--instr=on", str(os.getpid())], check=True,
                   capture_output=True)
    for _ in range(count):
        operation()
    subprocess.run(["callgrind_control", "--instr=off", str(os.getpid())], check=True,
                   capture_output=True)


def count_instructions(count: int = 200) -> None:
    if not shutil.which("valgrind"):
        raise SystemExit("--instructions needs valgrind (apt install valgrind)")
    costs = {}
    for name in LINES:
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "callgrind.out"
            subprocess.run(["valgrind", "--tool=callgrind", "--instr-atstart=no",
                            f"--callgrind-out-file={out}", sys.executable, __file__,
                            "--only", name, "--requests", str(count)],
                           env={**os.environ, "CALLGRIND": "1", "PYTHONHASHSEED": "0"},
                           check=True, capture_output=True)
            total = int(re.search(r"^totals: (\d+)", out.read_text(), re.MULTILINE).group(1))
        costs[name] = total / count / 1e6
    report(costs, "M instructions", "{:.2f}")


if __name__ == "__main__":
    main()
