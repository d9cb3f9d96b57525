"""Ingest and processing throughput on PostgreSQL + Redis, beside the raw limits.

    make bench            # or: .venv/bin/python bench/ingest.py --events 40000

Measures, in one run and on one machine:
  * the limits: inserting the same pending-event rows with psycopg ``executemany`` and with
    ``COPY``, and a bare gunicorn endpoint doing one INSERT per request;
  * events/s accepted through ``POST /api/v1/events/batch`` (1,000-event batches, a real
    ``auditrail serve`` process, several client threads);
  * events/s fully processed (geo, sequence, hash chain) by one and by two ``auditrail
    worker`` processes;
  * events/s accepted in batches with ``Prefer: receipt`` (a signed receipt each) against
    the same batches without, in interleaved rounds;
  * events/s accepted in gzip-compressed batches (``Content-Encoding: gzip``) against the
    same batches plain, in interleaved rounds, with the bytes each sends (``--gzip-only``:
    this alone);
  * events/s accepted into workspaces whose ``metadata_schemas`` every event is held to
    (and whose ``accepted_actions`` list it), against the same batches into workspaces
    without, in interleaved rounds (``--schemas-only``: this alone);
  * single ``POST /api/v1/events`` requests/s with p50/p99 latency, and the bare endpoint's,
    measured in interleaved rounds so that the machine's drift cancels out of the ratio,
    with the CPU each request cost the server, PostgreSQL, Redis and the client (``cpu``).
Then prints each figure with its ratio to the limit it is judged against.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import redis
from cpu import GROUPS, CpuMeter, per_request
from scratch import SIGNING_KEY, add_server_options

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
EVENT = {
    "action": "user.login_failed",
    "actor": {"id": "usr_42", "type": "user", "name": "Jane Roe", "metadata": {"role": "admin"}},
    "targets": [{"id": "doc_7", "type": "document", "name": "Q4 plan"}],
    "context": {"ip_address": "81.2.69.160", "user_agent": "Mozilla/5.0 (bench)"},
    "metadata": {"reason": "bad_password", "attempt": 3},
}
SCHEMAS = {"user.*": {"type": "object", "required": ["reason"], "additionalProperties": False,
                     "properties": {"reason": {"enum": ["bad_password", "locked", "expired"]},
                                    "attempt": {"type": "integer", "minimum": 1}}},
           "billing.*": {"required": ["amount", "currency"]}}
"""A schema the bench's events meet, as an application would give its login failures."""
ACCEPTED = [*(f"user.{name}" for name in ("login", "logout", "login_failed", "mfa_failed")),
            "billing.*", "document.*"]
LABELS = {"single": "auditrail  POST /events", "bare": "limit  bare one-INSERT"}
Target = tuple[str, str, str, CpuMeter]
"""Where single events go: base URL, path, API key, and the meter of its server's CPU."""
COLUMNS = ("id", "workspace_id", "status", "action", "occurred_at", "received_at", "actor_id",
           "actor_type", "ip_address", "body")


def main() -> None:
    options = parse_args()
    bench = Bench(options)
    try:
        bench.run()
    finally:
        bench.close()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_options(parser)
    parser.add_argument("--events", type=int, default=40_000,
                        help="events per measured phase (a multiple of 4,000)")
    parser.add_argument("--clients", type=int, default=4, help="client threads")
    parser.add_argument("--singles", type=int, default=2_000,
                        help="single-event requests per endpoint and round")
    parser.add_argument("--rounds", type=int, default=5,
                        help="interleaved rounds of single requests (the median is reported)")
    parser.add_argument("--server-workers", type=int, default=2)
    parser.add_argument("--singles-only", action="store_true",
                        help="measure only single POST /events against the bare endpoint")
    parser.add_argument("--gzip-only", action="store_true",
                        help="measure only gzip-compressed batches against plain ones")
    parser.add_argument("--schemas-only", action="store_true",
                        help="measure only batches held to metadata schemas against plain ones")
    return parser.parse_args()


class Bench:
    def __init__(self, options: argparse.Namespace) -> None:
        self.options = options
        self.tmp = Path(tempfile.mkdtemp(prefix="auditrail-bench-"))
        self.database = f"auditrail_bench_{uuid.uuid4().hex[:8]}"
        base = options.postgres.rsplit("/", 1)[0]
        self.dsn = f"{base}/{self.database}"
        self.url = self.dsn.replace("postgresql://", "postgresql+psycopg://")
        self.queue = f"auditrail-bench-{uuid.uuid4().hex[:8]}"
        self.processes: list[subprocess.Popen] = []
        self.results: dict[str, float] = {}
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITRAIL_")}
        self.env.update({
            "AUDITRAIL_DATABASE_URL": self.url, "AUDITRAIL_REDIS_URL": options.redis,
            "AUDITRAIL_QUEUE_NAME": self.queue,  # logs at the default level, INFO
            "AUDITRAIL_SECRET_KEY": "bench-secret-key-0123456789abcdef",
            "AUDITRAIL_SIGNING_KEY": SIGNING_KEY,
            "AUDITRAIL_REQUEUE_AFTER_SECONDS": "3600", "AUDITRAIL_DATA_DIR": str(self.tmp),
            "AUDITRAIL_GEOIP_DB": str(self._geo_database()),
        })

    # -- set-up ---------------------------------------------------------------------------

    def _geo_database(self) -> Path:
        sys.path.insert(0, str(ROOT))
        from tests.geo_db import build_city_database
        return build_city_database(self.tmp / "City.mmdb")

    def _cli(self, *args: str) -> str:
        return subprocess.run([str(BIN / "auditrail"), *args], env=self.env, check=True,
                              capture_output=True, text=True).stdout

    def _workspace(self, name: str) -> tuple[str, str]:
        created = json.loads(self._cli("workspaces", "create", "--name", name, "--plan",
                                       "enterprise", "--rate-limit", "1000000", "--json"))
        return created["workspace_id"], created["api_key"]

    def run(self) -> None:
        self.prepare()
        print(f"machine: {os.cpu_count()} cores; {self.options.events:,} events per phase, "
              f"{self.options.clients} client threads\n", flush=True)
        if self.options.gzip_only or self.options.schemas_only:
            self.start_batches()
            if self.options.gzip_only:
                self.measure_gzip()
            else:
                self.measure_schemas()
            return
        if not self.options.singles_only:
            self.measure_raw_inserts()
            self.measure_accepted_and_processed()
            self.measure_receipts()
            self.measure_gzip()
            self.measure_schemas()
        self.measure_singles()
        self.report()

    def prepare(self) -> None:
        """The run's database, created and migrated."""
        with psycopg.connect(self.options.postgres, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.database}"')
        self._cli("db", "upgrade")

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                process.wait(30)
        try:
            with psycopg.connect(self.options.postgres, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        except psycopg.Error:
            pass
        self._forget_queue()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _forget_queue(self) -> None:
        """Its jobs (a job nobody ran outlives its queue's list), wake-ups, rate limits."""
        from tests.queues import forget_queue  # ROOT is on the path since __init__
        forget_queue(_queue(redis.Redis.from_url(self.options.redis), self.queue))

    # -- limits ---------------------------------------------------------------------------

    def _rows(self, workspace_id: str, count: int) -> list[tuple]:
        now = datetime.now(UTC)
        body = json.dumps({key: EVENT.get(key, {}) for key in
                           ("actor", "targets", "context", "metadata")},
                          separators=(",", ":"))
        return [(f"evt_{uuid.uuid4().hex[:26]}", workspace_id, "pending", EVENT["action"], now,
                 now, "usr_42", "user", "81.2.69.160", body) for _ in range(count)]

    def measure_raw_inserts(self) -> None:
        workspace_id, _ = self._workspace("raw")
        rows = self._rows(workspace_id, self.options.events)
        placeholders = ", ".join(["%s"] * len(COLUMNS))
        insert = f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ({placeholders})"
        with psycopg.connect(self.dsn) as connection:
            started = time.perf_counter()
            for start in range(0, len(rows), 1000):  # committed per 1,000, like a batch
                with connection.cursor() as cursor:
                    cursor.executemany(insert, rows[start:start + 1000])
                connection.commit()
            self.results["executemany"] = len(rows) / (time.perf_counter() - started)
            connection.execute("DELETE FROM events WHERE workspace_id = %s", (workspace_id,))
            connection.commit()
            rows = self._rows(workspace_id, self.options.events)
            started = time.perf_counter()
            for start in range(0, len(rows), 1000):
                with connection.cursor() as cursor, cursor.copy(
                        f"COPY events ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                    for row in rows[start:start + 1000]:
                        copy.write_row(row)
                connection.commit()
            self.results["copy"] = len(rows) / (time.perf_counter() - started)
            connection.execute("DELETE FROM events WHERE workspace_id = %s", (workspace_id,))
            connection.commit()
        print(f"limit  executemany insert        {self.results['executemany']:>9,.0f} rows/s")
        print(f"limit  COPY                      {self.results['copy']:>9,.0f} rows/s",
              flush=True)

    # -- Auditrail --------------------------------------------------------------------------

    def _start(self, *args: str, log: str) -> subprocess.Popen:
        process = subprocess.Popen([str(BIN / "auditrail"), *args], env=self.env,
                                   stdout=(self.tmp / log).open("wb"),
                                   stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def _serve(self, command: list[str], port: int, env: dict[str, str],
               log: str) -> tuple[subprocess.Popen, str]:
        process = subprocess.Popen(command, env=env, stdout=(self.tmp / log).open("wb"),
                                   stderr=subprocess.STDOUT, cwd=ROOT / "bench")
        self.processes.append(process)
        base = f"http://127.0.0.1:{port}"
        _wait_up(base, process)
        return process, base

    def _auditrail_server(self) -> tuple[subprocess.Popen, str]:
        port = _free_port()
        return self._serve([str(BIN / "auditrail"), "serve", "--port", str(port), "--workers",
                            str(self.options.server_workers)], port, self.env, "serve.log")

    def start_batches(self) -> list[tuple[str, str]]:
        """The server, four workspaces and the batch every batch phase sends, warmed up."""
        workspaces = [self._workspace(f"bench-{i}") for i in range(4)]
        server, base = self._auditrail_server()
        batch = json.dumps({"events": [  # 256 addresses, so the geo cache does not hide lookups
            {**EVENT, "context": {**EVENT["context"], "ip_address": f"81.2.69.{i % 256}"}}
            for i in range(1000)]}).encode()
        _load(base, "/api/v1/events/batch",  # warm-up: workers, pools, prepared statements
              [(workspaces[i % 4][1], batch) for i in range(8)], self.options.clients)
        self.server = (server, base)
        self.single_key = workspaces[0][1]
        self.batch_keys, self.batch = [key for _, key in workspaces], batch
        return workspaces

    def measure_accepted_and_processed(self) -> None:
        workspaces = self.start_batches()
        base = self.server[1]
        for workers in (1, 2):
            requests = [(workspaces[i % 4][1], self.batch)
                        for i in range(self.options.events // 1000)]
            elapsed, _ = _load(base, "/api/v1/events/batch", requests, self.options.clients)
            self.results[f"accepted_{workers}"] = self.options.events / elapsed
            print(f"auditrail  accepted (batch)      {self.options.events / elapsed:>9,.0f} "
                  f"events/s", flush=True)
            self.results[f"processed_{workers}"] = self._process([w for w, _ in workspaces],
                                                                 workers)
            print(f"auditrail  processed, {workers} worker{'s' if workers > 1 else ' '}   "
                  f"{self.results[f'processed_{workers}']:>9,.0f} events/s", flush=True)

    def measure_receipts(self) -> None:
        """What a receipt costs a batch: one canonical form and SHA-256 an event, one
        signature a request."""
        self.results["receipt_ratios"] = self._against_plain_batches(
            "with receipts", self.batch, {"Prefer": "receipt"})

    def measure_gzip(self) -> None:
        """What reading gzip bodies costs the server (inflating each before parsing), and
        what it saves the wire."""
        packed = gzip.compress(self.batch, compresslevel=6)
        ratios = self._against_plain_batches("gzipped", packed, {"Content-Encoding": "gzip"})
        print(f"a 1,000-event batch: {len(self.batch):,} bytes plain, {len(packed):,} gzipped "
              f"({100 * len(packed) / len(self.batch):.1f} %); accepted gzipped / plain, "
              f"median {100 * statistics.median(ratios):.1f} % (rounds "
              f"{100 * ratios[0]:.1f}-{100 * ratios[-1]:.1f} %)", flush=True)
        self.results["gzip_ratios"] = ratios

    def measure_schemas(self) -> None:
        """What holding every event to its action's metadata schema (the jsonschema
        library's validation) and to a list of accepted actions costs a batch."""
        held = [self._workspace(f"bench-schemas-{i}")[1] for i in range(4)]
        for key in held:
            body = json.dumps({"metadata_schemas": SCHEMAS, "accepted_actions": ACCEPTED})
            request = urllib.request.Request(
                f"{self.server[1]}/api/v1/workspace", data=body.encode(), method="PATCH",
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
            urllib.request.urlopen(request, timeout=30).close()
        ratios = self._against_plain_batches("held to schemas", self.batch, {}, keys=held)
        print(f"accepted held to schemas / plain: median {100 * statistics.median(ratios):.1f} "
              f"% (rounds {100 * ratios[0]:.1f}-{100 * ratios[-1]:.1f} %)", flush=True)
        self.results["schema_ratios"] = ratios

    def _against_plain_batches(self, label: str, body: bytes, headers: dict[str, str],
                               keys: list[str] | None = None) -> list[float]:
        """Plain batches and these (into the workspaces of ``keys``, when given) back to
        back, in rounds, so that the machine's drift cancels out of each round's ratio;
        the ratios, sorted."""
        base, per_round = self.server[1], self.options.events // 4_000
        ratios = []
        for number in range(1, self.options.rounds + 1):
            rates = []
            for sent, extra, into in ((self.batch, {}, self.batch_keys),
                                      (body, headers, keys or self.batch_keys)):
                requests = [(into[i % 4], sent) for i in range(per_round)]
                elapsed, _ = _load(base, "/api/v1/events/batch", requests,
                                   self.options.clients, extra)
                rates.append(per_round * 1000 / elapsed)
            ratios.append(rates[1] / rates[0])
            print(f"round {number}: batches {rates[0]:>7,.0f} events/s, {label} "
                  f"{rates[1]:>7,.0f}  ->  {100 * ratios[-1]:.1f} %", flush=True)
        return sorted(ratios)

    def _process(self, workspace_ids: list[str], workers: int) -> float:
        """Time workers draining the backlog, from their first job to the last commit."""
        self._forget_queue()  # drop the wake-ups sent at ingest
        client = redis.Redis.from_url(self.options.redis)
        started = [self._start("worker", log=f"worker{workers}-{i}.log")
                   for i in range(workers)]
        from rq import Worker
        while len(Worker.all(connection=client, queue=_queue(client, self.queue))) < workers:
            time.sleep(0.05)
        time.sleep(0.5)
        with psycopg.connect(self.dsn, autocommit=True) as connection:
            pending = _pending(connection)
            begin = time.perf_counter()
            self._enqueue(workspace_ids)
            while _pending(connection):
                time.sleep(0.02)
            elapsed = time.perf_counter() - begin
        for process in started:
            process.terminate()
            process.wait(30)
        return pending / elapsed

    def _enqueue(self, workspace_ids: list[str]) -> None:
        sys.path.insert(0, str(ROOT / "src"))
        from entrypoints.container.installation import build_container
        from entrypoints.settings import Settings
        container = build_container(Settings(database_url=self.url,
                                             redis_url=self.options.redis,
                                             queue_name=self.queue))
        # force: a wake-up marker the server's sender set after the clean-up above would
        # otherwise stand for a job that clean-up deleted (upkeep re-queues only after an hour)
        container.job_queue().enqueue_processing(workspace_ids, force=True)

    def _settle(self) -> None:
        """Vacuum, analyze and checkpoint first, so autovacuum after the bulk phases does not
        land on one single-request measurement and not the other (after the warm-up, so the
        statistics never describe an empty table)."""
        with psycopg.connect(self.dsn, autocommit=True) as connection:
            connection.execute("VACUUM (ANALYZE) events")
            connection.execute("CHECKPOINT")

    def measure_singles(self) -> None:
        """Auditrail and the bare endpoint, in interleaved rounds.

        This machine's speed drifts by 10-15 % over tens of seconds, so each round measures
        the two back to back and the ratios are taken within a round; the median round
        is reported, and every round printed.
        """
        if not hasattr(self, "server"):
            self.single_key = self._workspace("single")[1]
            self.server = self._auditrail_server()
        targets = {"single": (self.server[1], "/api/v1/events", self.single_key,
                              CpuMeter(self.server[0].pid))}
        targets["bare"] = self._bare_endpoint("bare", "bare_app:app")

        def progress(number: int, rounds: dict[str, list[float]]) -> None:
            print(f"round {number}: POST /events {rounds['single'][-1]:>6,.0f} req/s, bare "
                  f"{rounds['bare'][-1]:>6,.0f}  ->  "
                  f"{100 * rounds['single'][-1] / rounds['bare'][-1]:.1f} % of bare",
                  flush=True)

        rounds, latencies, cpu = self.interleaved_rounds(targets, progress)
        for name in targets:
            self._record_singles(name, rounds[name], latencies[name])
        _print_cpu(cpu)
        self.results["single_ratios"] = sorted(
            single / bare for single, bare in zip(rounds["single"], rounds["bare"],
                                                  strict=True))

    def interleaved_rounds(
            self, targets: dict[str, Target],
            progress: Callable[[int, dict[str, list[float]]], None]) -> tuple[
                dict[str, list[float]], dict[str, list[float]], dict[str, list[dict[str, float]]]]:
        """Single events POSTed to every target back to back, ``--rounds`` times, after a
        warm-up (pools, prepared statements): each target's req/s a round, latencies, and
        CPU a request by process group a round."""
        body = json.dumps(EVENT).encode()
        for base, path, key, _ in targets.values():
            _load(base, path, [(key, body)] * 200, self.options.clients)
        self._settle()
        rounds: dict[str, list[float]] = {name: [] for name in targets}
        latencies: dict[str, list[float]] = {name: [] for name in targets}
        cpu: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
        for number in range(1, self.options.rounds + 1):
            for name, (base, path, key, meter) in targets.items():
                before = meter.read()
                elapsed, taken = _load(base, path, [(key, body)] * self.options.singles,
                                       self.options.clients)
                cpu[name].append(per_request(before, meter.read(), len(taken)))
                rounds[name].append(len(taken) / elapsed)
                latencies[name].extend(taken)
            progress(number, rounds)
        return rounds, latencies, cpu

    def _bare_endpoint(self, name: str, app: str) -> Target:
        """The limit: a bare WSGI app doing one INSERT per request."""
        workspace_id, _ = self._workspace(name)
        port = _free_port()
        key = f"ak_{uuid.uuid4().hex}{uuid.uuid4().hex}"
        env = {**self.env, "BARE_DSN": self.dsn, "BARE_WORKSPACE": workspace_id,
               "BARE_KEY": key, "BARE_REDIS": self.options.redis,
               "BARE_RATE_PREFIX": f"{self.queue}:ratelimit:"}
        command = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers",
                   str(self.options.server_workers), "--worker-class", "gthread",
                   "--threads", "8", "--no-control-socket", app]
        process, base = self._serve(command, port, env, f"{name}.log")
        return base, "/", key, CpuMeter(process.pid)

    def _record_singles(self, name: str, rates: list[float], latencies: list[float]) -> None:
        quantiles = statistics.quantiles(latencies, n=100)
        self.results[f"{name}_rps"] = statistics.median(rates)
        self.results[f"{name}_p50"] = quantiles[49] * 1000
        self.results[f"{name}_p99"] = quantiles[98] * 1000
        label = LABELS[name]
        print(f"{label:<33} {self.results[f'{name}_rps']:>9,.0f} req/s   p50 "
              f"{self.results[f'{name}_p50']:.2f} ms   p99 {self.results[f'{name}_p99']:.2f} ms"
              f"   (median of {len(rates)} rounds)", flush=True)

    def report(self) -> None:
        r = self.results
        rows: list[tuple[str, float, float, str]] = [] if self.options.singles_only else [
            ("accepted, batch (1 worker phase) / executemany", r["accepted_1"],
             r["executemany"], ">= 50%"),
            ("accepted, batch (2 worker phase) / executemany", r["accepted_2"],
             r["executemany"], ">= 50%"),
            ("accepted, batch / COPY", max(r["accepted_1"], r["accepted_2"]), r["copy"],
             "aim"),
            ("processed, 1 worker / executemany", r["processed_1"], r["executemany"], ">= 25%"),
            ("processed, 2 workers / executemany", r["processed_2"], r["executemany"],
             ">= 25%"),
        ]
        print("\nratio                                               value     target")
        for label, value, limit, target in rows:
            print(f"{label:<50} {100 * value / limit:>6.1f}%   {target}")
        ratios = r["single_ratios"]
        if "receipt_ratios" in r:
            receipts = r["receipt_ratios"]
            print(f"{'accepted with receipts / without':<50} "
                  f"{100 * statistics.median(receipts):>6.1f}%   (figure)   "
                  f"(rounds {100 * receipts[0]:.1f}-{100 * receipts[-1]:.1f} %)")
        if "schema_ratios" in r:
            held = r["schema_ratios"]
            print(f"{'accepted held to metadata schemas / without':<50} "
                  f"{100 * statistics.median(held):>6.1f}%   (figure)   "
                  f"(rounds {100 * held[0]:.1f}-{100 * held[-1]:.1f} %)")
        if "gzip_ratios" in r:
            packed = r["gzip_ratios"]
            print(f"{'accepted gzipped / plain':<50} "
                  f"{100 * statistics.median(packed):>6.1f}%   (figure)   "
                  f"(rounds {100 * packed[0]:.1f}-{100 * packed[-1]:.1f} %)")
        print(f"{'single POST req/s / bare one-INSERT':<50} "
              f"{100 * statistics.median(ratios):>6.1f}%   (figure; target retired)   "
              f"(rounds {100 * ratios[0]:.1f}-{100 * ratios[-1]:.1f} %)")


def _print_cpu(cpu: dict[str, list[dict[str, float]]]) -> None:
    """Each group's median over the rounds: where the single-request gap comes from."""
    print(f"\nCPU per request, µs (median)      {'  '.join(f'{g:>8}' for g in GROUPS)}"
          f"     total", flush=True)
    for name, rounds in cpu.items():
        medians = [statistics.median(r[group] for r in rounds) for group in GROUPS]
        print(f"{LABELS[name]:<33} {'  '.join(f'{m:>8,.0f}' for m in medians)}"
              f"  {sum(medians):>8,.0f}", flush=True)


def _queue(client: redis.Redis, name: str):  # type: ignore[no-untyped-def]
    from rq import Queue
    return Queue(name, connection=client)


def _pending(connection: psycopg.Connection) -> int:
    return connection.execute("SELECT count(*) FROM events WHERE status = 'pending'").fetchone()[0]


def _free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_up(base: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    parsed = urllib.parse.urlparse(base)
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited early: {process.args}")
        try:
            connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=1)
            connection.request("GET", "/healthz")
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("server did not come up")


def _load(base: str, path: str, requests: list[tuple[str, bytes]],
          clients: int, headers: dict[str, str] | None = None) -> tuple[float, list[float]]:
    """POST every request from ``clients`` keep-alive connections; (seconds, latencies)."""
    parsed = urllib.parse.urlparse(base)
    lock = threading.Lock()
    queue = list(reversed(requests))
    latencies: list[float] = []

    def client(_: int) -> None:
        connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
        while True:
            with lock:
                if not queue:
                    return
                key, body = queue.pop()
            began = time.perf_counter()
            connection.request("POST", path, body=body, headers={
                "Authorization": f"Bearer {key}", "Content-Type": "application/json",
                **(headers or {})})
            response = connection.getresponse()
            response.read()
            if response.status != 202:
                raise SystemExit(f"{path} answered {response.status}")
            with lock:
                latencies.append(time.perf_counter() - began)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(client, range(clients)))
    return time.perf_counter() - started, latencies


if __name__ == "__main__":
    main()
