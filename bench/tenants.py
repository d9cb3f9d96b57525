"""Processing with many tenants: workspace drains per second, beside RQ's own job rate.

    make bench-tenants   # or: .venv/bin/python bench/tenants.py --workspaces 1000 --each 5

``bench/ingest.py`` measures processing with four workspaces holding long backlogs, where
one job links thousands of events. Many tenants each sending a trickle make the other
extreme: every job drains one workspace of a few events, so what bounds processing is
what a job costs. In one run, with one and with two workers:
  * the limit: the worker class ``auditrail worker`` runs (RQ's ``SimpleWorker``, made to
    stop within a second) working through jobs that do nothing, enqueued with the same
    options as processing jobs;
  * ``auditrail worker`` processes draining ``--workspaces`` workspaces holding ``--each``
    pending events apiece (one job each): workspaces/s and events/s;
  * the same jobs' function called in this process, one workspace after another: what a
    drain costs without RQ around it;
  * what an idle worker costs with ``--idle-workspaces`` workspaces: the scan of the
    workspaces' logs its checkpoint sweep makes every second, the one a metrics scrape
    makes and upkeep's retention run (every 15 s), beside a bare count of the chain heads
    (one row a workspace) in the database; and with a witness a workspace, each holding
    its log's latest checkpoint, the witnesses' sweep (every second) and a scrape's count
    and lag of them, beside a bare count of the witnesses; and a whole scrape, with a log
    stream a workspace, one in a hundred behind (``--idle-only`` measures just this part).
A steady trickle from many workspaces is processed about (active workspaces) / (drains
per second) seconds after it arrives: events arriving meanwhile join the next drain.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from redis import Redis
from rq import Queue, Worker
from rq.registry import StartedJobRegistry
from scratch import SIGNING_KEY, add_server_options, scratch_database

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))  # tests.queues

from ingest import EVENT  # noqa: E402
from tests.queues import forget_queue  # noqa: E402

from adapters.sql.log_witnesses import SqlLogWitnessRepository  # noqa: E402
from adapters.sql.tree import SqlCheckpointRepository  # noqa: E402
from entrypoints.container.installation import build_container  # noqa: E402
from entrypoints.settings import Settings  # noqa: E402

SECRET = "bench-secret-key-0123456789abcdef"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_options(parser)
    parser.add_argument("--workspaces", type=int, default=1_000)
    parser.add_argument("--each", type=int, default=5, help="pending events per workspace")
    parser.add_argument("--idle-workspaces", type=int, default=20_000,
                        help="workspaces for the idle cost (made by SQL, each signed)")
    parser.add_argument("--idle-only", action="store_true",
                        help="measure only the idle cost (no worker processes)")
    parser.set_defaults(keep=False, reuse=None)
    options = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; {options.workspaces:,} workspaces x "
          f"{options.each} events\n", flush=True)
    with scratch_database(options, "auditrail_tenants") as dsn, \
            tempfile.TemporaryDirectory(prefix="auditrail-tenants-") as data_dir:
        bench = Bench(options, dsn, Path(data_dir))
        try:
            bench.run()
        finally:
            bench.close()


class Bench:
    def __init__(self, options: argparse.Namespace, dsn: str, data_dir: Path) -> None:
        self.options = options
        self.dsn = dsn
        self.redis = Redis.from_url(options.redis)
        self.queue = Queue(f"auditrail-tenants-{uuid.uuid4().hex[:8]}", connection=self.redis)
        url = dsn.replace("postgresql://", "postgresql+psycopg://")
        self.container = build_container(Settings(
            database_url=url, redis_url=options.redis, queue_name=self.queue.name,
            data_dir=data_dir, secret_key=SECRET, signing_key=SIGNING_KEY,
            requeue_after_seconds=3600))
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITRAIL_")}
        self.env.update({"AUDITRAIL_DATABASE_URL": url, "AUDITRAIL_REDIS_URL": options.redis,
                         "AUDITRAIL_QUEUE_NAME": self.queue.name,
                         "AUDITRAIL_SECRET_KEY": SECRET,
                         "AUDITRAIL_SIGNING_KEY": SIGNING_KEY, "AUDITRAIL_DATA_DIR": str(data_dir),
                         "AUDITRAIL_REQUEUE_AFTER_SECONDS": "3600"})

    def run(self) -> None:
        self.container.upgrade_database()
        if not self.options.idle_only:
            self.busy()
        self.idle()

    def busy(self) -> None:
        jobs, drains = {}, {}
        for workers in (1, 2):
            jobs[workers] = self.empty_jobs(workers)
            print(f"limit  RQ worker, no-op jobs, {_label(workers)}"
                  f"         {jobs[workers]:>9,.0f} jobs/s", flush=True)
        for workers in (1, 2):
            drains[workers] = self.drains(workers)
            print(f"auditrail  workspace drains, {_label(workers)}"
                  f"       {drains[workers]:>9,.0f} workspaces/s"
                  f"   {drains[workers] * self.options.each:>9,.0f} events/s", flush=True)
        alone = self.drains_in_process()
        print(f"auditrail  the same jobs in this process, no RQ   {alone:>9,.0f} workspaces/s"
              f"   ({1000 / alone:.1f} ms a drain)", flush=True)
        print("\nratio                                               value")
        for workers in (1, 2):
            print(f"{f'workspace drains / no-op jobs, {workers} worker(s)':<50} "
                  f"{100 * drains[workers] / jobs[workers]:>6.1f}%")

    def idle(self) -> None:
        cost = self.idle_cost()
        count = f"{self.options.idle_workspaces:,} workspaces"
        print(f"\nlimit  a scan of the chain heads, {count:<20} {cost['floor']:>9.1f} ms")
        print(f"auditrail  the sweep's scan, {count:<21} {cost['sweep']:>9.1f} ms a second, "
              f"in every worker")
        print(f"auditrail  a scrape's signing backlog, {count:<11} {cost['scrape']:>9.1f} ms")
        print(f"auditrail  upkeep's retention run, {count:<15} {cost['retention']:>9.1f} ms "
              f"every 15 s, in every worker")
        print(f"auditrail  a scrape's retention status, {count:<10} "
              f"{cost['retention_scrape']:>9.1f} ms")
        print(f"limit  a count of the witnesses, {count:<21} {cost['witnesses']:>9.1f} ms")
        print(f"auditrail  the witnesses' sweep, {count:<17} {cost['witness_sweep']:>9.1f} ms "
              f"a second, in every worker")
        print(f"auditrail  a scrape's witnesses (by status, lag) {cost['witness_scrape']:>9.1f} "
              f"ms")
        print(f"auditrail  a whole scrape (every gauge), {count:<9} "
              f"{cost['whole_scrape']:>9.1f} ms")
        print(f"\n{'chain-head scan / sweep scan':<50} "
              f"{100 * cost['floor'] / cost['sweep']:>6.1f}%")

    def close(self) -> None:
        self.container.job_queue().close()
        self.container.engine().dispose()
        for queue in (*self.container.job_queue().queues, self.queue):
            forget_queue(queue)

    def empty_jobs(self, workers: int) -> float:
        """RQ alone: jobs that return at once, with processing jobs' options."""
        count = self.options.workspaces
        with self._running(["rq", "worker", "--url", self.options.redis, "--worker-class",
                            "entrypoints.worker.rq_worker.Worker", self.queue.name], workers):
            started = time.perf_counter()
            self.queue.enqueue_many([Queue.prepare_data("builtins.len", args=("x",),
                                                        result_ttl=0, failure_ttl=86_400)
                                     for _ in range(count)])
            registry = StartedJobRegistry(queue=self.queue)
            _wait(lambda: self.queue.count == 0 and registry.count == 0)
            return count / (time.perf_counter() - started)

    def drains(self, workers: int) -> float:
        """Fresh workspaces, each with its pending events, one processing job each."""
        ids = self._workspaces_with_pending_events()
        with self._running(["auditrail", "worker"], workers), \
                psycopg.connect(self.dsn, autocommit=True) as connection:
            started = time.perf_counter()
            self.container.job_queue().enqueue_processing(ids, force=True)
            _wait(lambda: not connection.execute(
                "SELECT count(*) FROM events WHERE status = 'pending'").fetchone()[0])
            return len(ids) / (time.perf_counter() - started)

    def drains_in_process(self) -> float:
        """What a drain costs without RQ around it: the processing job's own function."""
        from entrypoints.worker import jobs
        ids = self._workspaces_with_pending_events()
        jobs.bind(self.container)
        started = time.perf_counter()
        for workspace_id in ids:
            jobs.process_workspace(workspace_id)
        return len(ids) / (time.perf_counter() - started)

    def idle_cost(self) -> dict[str, float]:
        """Median ms of the sweep's scan (``due``), of the scrape's (the signing backlog),
        of upkeep's retention run and a scrape's retention status, and of a bare
        chain-head scan, over
        ``--idle-workspaces`` workspaces that are all signed up to their heads, none with
        an event to remove: nothing to do, as in a quiet hour; then of the witnesses'
        sweep and a scrape's witness health, all of them holding their log's latest, beside
        a bare count of them."""
        self._signed_workspaces(self.options.idle_workspaces)
        engine = self.container.engine()
        signed_by = datetime.now(UTC) - timedelta(seconds=4)
        health = self.container.witness_health()
        with engine.connect() as connection:
            repository = SqlCheckpointRepository(connection)
            witnesses = SqlLogWitnessRepository(connection)
            now = datetime.now(UTC)
            cost = {
                "sweep": _median_ms(lambda: repository.due(signed_by, now, 1_000)),
                "scrape": _median_ms(lambda: repository.unsigned_backlog(now)),
                "retention": _median_ms(self.container.apply_retention().execute),
                "retention_scrape": _median_ms(self.container.retention_status().execute),
                "floor": _median_ms(lambda: connection.exec_driver_sql(
                    "SELECT count(*) FROM chain_heads WHERE sequence > 0").all()),
                "witness_sweep": _median_ms(lambda: witnesses.due(now, 500)),
                "witness_scrape": _median_ms(health.execute),
                "witnesses": _median_ms(lambda: connection.exec_driver_sql(
                    "SELECT count(*) FROM log_witnesses").all()),
                "whole_scrape": _median_ms(self._scrape),
            }
        assert health.execute().lag_seconds == 0.0  # every witness holds its log's latest
        return cost

    def _scrape(self) -> bytes:
        """``GET /metrics``'s body: this process's counters and every live gauge."""
        from entrypoints.http.metrics import exposition
        c = self.container
        body, _ = exposition(c.processing_status(), c.delivery_status(), c.witness_health(),
                             c.chain_health(), c.retention_status())
        return body

    def _signed_workspaces(self, total: int) -> None:
        """Workspaces up to ``total``, made by SQL as the service would leave them: a head
        of 100 events, checkpoints of 50 and 100, the latest an hour old, a witness that
        holds and cosigned it, and a log stream, one in a hundred ten events behind."""
        with psycopg.connect(self.dsn, autocommit=True) as connection:
            have = connection.execute("SELECT count(*) FROM workspaces").fetchone()[0]
            add = {"start": have + 1, "stop": max(have, total)}
            connection.execute(
                "INSERT INTO workspaces (id, name, plan, ip_allowlist, created_at) "
                "SELECT 'ws_idle' || g, 'idle', 'free', '[]', now() "
                "FROM generate_series(%(start)s::int, %(stop)s::int) g", add)
            connection.execute(
                "INSERT INTO chain_heads (workspace_id, sequence, hash) "
                "SELECT 'ws_idle' || g, 100, repeat('0', 64) "
                "FROM generate_series(%(start)s::int, %(stop)s::int) g", add)
            connection.execute(
                "INSERT INTO checkpoints (workspace_id, tree_size, root_hash, note, "
                "created_at) SELECT 'ws_idle' || g, size, 'root', 'note', "
                "now() - interval '1 hour' FROM generate_series(%(start)s::int, %(stop)s::int) g, "
                "(VALUES (50), (100)) sizes (size)", add)
            connection.execute(
                "INSERT INTO latest_checkpoints (workspace_id, tree_size, created_at) "
                "SELECT 'ws_idle' || g, 100, now() - interval '1 hour' "
                "FROM generate_series(%(start)s::int, %(stop)s::int) g", add)
            connection.execute(
                "INSERT INTO log_witnesses (id, workspace_id, url, verifier_key, created_at, "
                "held_size, cosigned_size, cosigned_at, refused, failures) "
                "SELECT 'wit_idle' || g, 'ws_idle' || g, 'https://witness.example', 'key', "
                "now() - interval '2 hours', 100, 100, now() - interval '1 hour', false, 0 "
                "FROM generate_series(%(start)s::int, %(stop)s::int) g", add)
            connection.execute(  # one stream in a hundred ten events behind
                "INSERT INTO streams (id, workspace_id, name, type, url, credential, "
                "credential_hint, status, created_at, updated_at, position, deliveries_made, "
                "failures, options) SELECT 'lst_idle' || g, 'ws_idle' || g, 'siem', 'webhook', "
                "'https://receiver.example', 'sealed', '…', 'active', now(), now(), "
                "CASE WHEN g %% 100 = 0 THEN 90 ELSE 100 END, 0, 0, '{}' "
                "FROM generate_series(%(start)s::int, %(stop)s::int) g", add)
            connection.execute("ANALYZE")

    def _workspaces_with_pending_events(self) -> list[str]:
        create, ingest = self.container.create_workspace(), self.container.ingest_events()
        ids = [create.execute(f"tenant-{i}", plan="enterprise", rate_limit=1_000_000)[0].id
               for i in range(self.options.workspaces)]
        for workspace_id in ids:
            ingest.execute(workspace_id, [dict(EVENT) for _ in range(self.options.each)],
                           batch=True)
        queue = self.container.job_queue()
        queue.flush()  # the wake-ups ingest sent, dropped below: timing starts at enqueue
        for each in queue.queues:
            forget_queue(each)
        return ids

    def _running(self, command: list[str], count: int) -> _Workers:
        return _Workers(self, command, count)


class _Workers:
    """``count`` worker processes, started and registered on entry, stopped on exit."""

    def __init__(self, bench: Bench, command: list[str], count: int) -> None:
        self.bench, self.command, self.count = bench, command, count
        self.processes: list[subprocess.Popen] = []

    def __enter__(self) -> None:
        executable = [str(BIN / self.command[0]), *self.command[1:]]
        self.processes = [subprocess.Popen(executable, env=self.bench.env,
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                          for _ in range(self.count)]
        _wait(lambda: len(Worker.all(queue=self.bench.queue)) >= self.count)
        time.sleep(0.5)  # past their start-up: connections, warm-up

    def __exit__(self, *_: object) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(30)


def _median_ms(call: Callable[[], object], rounds: int = 15) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        times.append(1000 * (time.perf_counter() - started))
    return statistics.median(times)


def _label(count: int) -> str:
    return f"{count} worker{'s' if count > 1 else ' '}"


def _wait(done: Callable[[], bool], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        time.sleep(0.01)


if __name__ == "__main__":
    main()
