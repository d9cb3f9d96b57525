"""Everything at once, under faults, then what must still hold: a soak of the production
profile on PostgreSQL + Redis.

    make bench-soak      # or: .venv/bin/python bench/soak.py --seconds 120

Runs one ``auditrail serve`` (two HTTP worker processes) and two ``auditrail worker``
processes on a scratch database, with three workspaces, each with a webhook stream and
two alert rules (every admin action; three failed logins of an actor within a minute,
then 30 s quiet), whose receivers answer 500 to one request in 20.

  * the limit: ingest alone (batch senders, nothing else, no faults) for ``--baseline``
    seconds;
  * then for ``--seconds``: the same senders (each batch retried with its Idempotency-Key
    until it is answered 202, half of them gzip-compressed) and a sender of single
    events, beside readers (searches paged by cursor, stats, reads by id,
    ``GET /events/verify``, ``POST /chain-check``), exports downloaded and proved offline
    against the signed log (``verify_export``), and ``auditrail log monitor --entries``
    every 30 s; while, every ``--fault-seconds`` in turn, a queue worker is SIGKILLed (and
    another started), an HTTP worker process is SIGKILLed (gunicorn starts another), every
    Redis client connection is killed, and every PostgreSQL connection of the database is
    terminated.

With ``--retention``, each workspace keeps events a day and what is sent alone first
occurred two days ago (actions no rule matches), so upkeep's retention removes it while
everything runs, and the monitor also holds retention to the day (``--retention-days``).

Then it waits for the backlog to drain and demands, per workspace: exactly the events
accepted, linked once each with sequences 1..N (retention having removed only events
sent as old, a prefix); the chain valid online; the log monitor passing over every
entry; its stream's receiver given every event, in sequence order (but for what
retention removed before the stream cut it into a delivery); the alerts one pass over
its chain triggers (the domain's evaluator run here), each notified; and no answer 500
from the service. Prints the accepted rate beside the limit,
latencies by kind of request, what was answered other than 2xx, the faults, the drain
time and the processes' memory.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import psutil
import psycopg
from redis import Redis

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from auditrail_client import verify_export  # noqa: E402
from ingest import _free_port, _wait_up  # noqa: E402
from scratch import add_server_options, forget_queues, production_env, scratch_database  # noqa: E402
from tests.receivers import Answer, Received, Receiver  # noqa: E402

from domain.alert_evaluation import RuleIndex, evaluate  # noqa: E402
from domain.timestamps import format_timestamp  # noqa: E402
from entrypoints.container.installation import build_container  # noqa: E402
from entrypoints.settings import Settings  # noqa: E402

ACTIONS = ["user.login"] * 60 + ["document.view"] * 29 + ["user.login_failed"] * 10 + \
    ["admin.user.delete"]
RULES = [
    {"name": "every admin action", "match": {"actions": ["admin.*"]}},
    {"name": "brute force", "match": {"actions": ["user.login_failed"]},
     "threshold": {"count": 3, "window_seconds": 60, "group_by": "actor_id"},
     "cooldown_seconds": 30},
]
"""As a workspace would have them: a rare action alerts at once, a frequent one by
threshold and cooldown (a rule alerting on every failed login would notify 10 % of the
traffic, one request each)."""
BATCH = 100
GIVE_UP_SECONDS = 120
"""A batch not answered 202 within this (retried all along) is counted as abandoned."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_options(parser)
    parser.add_argument("--seconds", type=int, default=120, help="length of the soak")
    parser.add_argument("--baseline", type=int, default=20, help="length of ingest alone")
    parser.add_argument("--fault-seconds", type=float, default=10, help="time between faults")
    parser.add_argument("--retention", action="store_true",
                        help="a day's retention, removing what is sent alone first meanwhile")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    options = parser.parse_args()
    options.reuse = None
    tmp = Path(tempfile.mkdtemp(prefix="auditrail-soak-"))
    with scratch_database(options, "auditrail_soak") as dsn:
        soak = Soak(options, dsn, tmp)
        try:
            failures = soak.run()
        finally:
            soak.close()
    print(f"(process logs in {tmp})")
    sys.exit(1 if failures else 0)


class Tally:
    """What each kind of request was answered, and how long it took, from every thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.answers: dict[str, Counter[str]] = defaultdict(Counter)
        self.seconds: dict[str, list[float]] = defaultdict(list)

    def record(self, kind: str, outcome: str, seconds: float) -> None:
        with self.lock:
            self.answers[kind][outcome] += 1
            self.seconds[kind].append(seconds)

    def call(self, kind: str, method: Callable[..., httpx.Response], *args: Any,
             **kwargs: Any) -> httpx.Response | None:
        """``method(*args, **kwargs)``, recorded; None when it failed without an answer."""
        started = time.perf_counter()
        try:
            response = method(*args, **kwargs)
        except httpx.HTTPError as error:
            self.record(kind, type(error).__name__, time.perf_counter() - started)
            return None
        self.record(kind, str(response.status_code), time.perf_counter() - started)
        return response


class Workspace:
    def __init__(self, workspace_id: str, key: str) -> None:
        self.id, self.key = workspace_id, key
        self.vkey = ""
        """Its log's verifier key, as an auditor pins it."""
        self.accepted: set[str] = set()
        self.old: set[str] = set()
        """Those sent as having occurred two days ago: retention may remove them."""
        self.latest = ""
        """The id of an event accepted last, for reads by id."""
        self.removed = 0
        """How many of them retention had removed when it was checked."""
        self.abandoned = 0
        self.lock = threading.Lock()

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


class Soak:
    def __init__(self, options: argparse.Namespace, dsn: str, tmp: Path) -> None:
        self.options, self.dsn, self.tmp = options, dsn, tmp
        self.env = {**production_env(dsn, options.redis, tmp),
                    "AUDITRAIL_ALLOW_PRIVATE_DESTINATIONS": "1",
                    "AUDITRAIL_CHECKPOINT_SECONDS": "1",
                    "AUDITRAIL_CHAIN_CHECK_REQUEST_MINUTES": "1",
                    "AUDITRAIL_LOG_LEVEL": "INFO"}
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.tally = Tally()
        self.stop = threading.Event()
        self.faults: Counter[str] = Counter()
        self.monitor_runs: Counter[int] = Counter()
        self.exports_proved = 0
        self.problems: list[str] = []
        """What went wrong while the soak ran, beside the invariants checked after it."""
        self.server: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        rng = random.Random(7)
        self.streams = Receiver(_flaky(rng))
        self.alerts = Receiver(_flaky(rng))
        self.workspaces: list[Workspace] = []
        self.sending_old = False
        """Whether the senders send events that occurred two days ago."""

    # -- the run ----------------------------------------------------------------------------

    def run(self) -> list[str]:
        self._auditrail("db", "upgrade").check_returncode()
        self.workspaces = [self._workspace(f"soak {n}") for n in range(3)]
        self.server = self._start("serve", "--port", str(self.port), "--workers", "2",
                                  log="serve.log")
        _wait_up(self.base, self.server)
        self.workers = [self._start("worker", log=f"worker{n}.log") for n in range(2)]
        for n, workspace in enumerate(self.workspaces):
            self._configure(workspace, n)
        print(f"machine: {os.cpu_count()} cores; soak {self.options.seconds} s, a fault "
              f"every {self.options.fault_seconds:g} s\n", flush=True)
        limit = self._ingest_alone()
        memory_before = self._memory()
        accepted_before = self._accepted()
        started = time.perf_counter()
        self._threads([self._send_batches, self._send_batches, self._send_singles,
                       self._read, self._export, self._monitor, self._inject_faults],
                      self.options.seconds)
        rate = (self._accepted() - accepted_before) / (time.perf_counter() - started)
        drained = self._drain()
        failures = self._check()
        self._report(limit, rate, drained, memory_before, self._memory())
        for failure in failures:
            print(f"FAILED: {failure}")
        print("every invariant held" if not failures else f"{len(failures)} failed", flush=True)
        return failures

    def _ingest_alone(self) -> float:
        before = self._accepted()
        started = time.perf_counter()
        self.sending_old = self.options.retention
        self._threads([self._send_batches, self._send_batches], self.options.baseline)
        self.sending_old = False
        rate = (self._accepted() - before) / (time.perf_counter() - started)
        print(f"limit: ingest alone, two batch senders, no faults   {rate:>8,.0f} events/s",
              flush=True)
        return rate

    def _threads(self, bodies: list[Callable[[], None]], seconds: float) -> None:
        self.stop.clear()
        threads = [threading.Thread(target=body, daemon=True) for body in bodies]
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        self.stop.set()
        for thread in threads:
            thread.join(GIVE_UP_SECONDS + 60)

    # -- set-up -----------------------------------------------------------------------------

    def _auditrail(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / "auditrail"), *args], env=self.env,
                              capture_output=True, text=True)

    def _start(self, *args: str, log: str) -> subprocess.Popen:
        output = (self.tmp / log).open("ab")
        return subprocess.Popen([str(BIN / "auditrail"), *args], env=self.env, stdout=output,
                                stderr=subprocess.STDOUT)

    def _workspace(self, name: str) -> Workspace:
        made = self._auditrail("workspaces", "create", "--name", name, "--plan", "enterprise",
                               "--rate-limit", "100000", "--json")
        made.check_returncode()
        created = json.loads(made.stdout)
        return Workspace(created["workspace_id"], created["api_key"])

    def _configure(self, workspace: Workspace, n: int) -> None:
        with httpx.Client(base_url=f"{self.base}/api/v1", headers=workspace.headers) as client:
            workspace.vkey = client.get("/log/key").json()["verifier_key"]
            if self.options.retention:
                client.patch("/workspace", json={"retention_days": 1}).raise_for_status()
            client.post("/streams", json={
                "name": "soak", "type": "webhook",
                "config": {"url": f"{self.streams.url}/{n}"}}).raise_for_status()
            for rule in RULES:
                client.post("/alert-rules", json={
                    **rule, "notify": {"webhook_url": f"{self.alerts.url}/{n}"}
                }).raise_for_status()

    # -- traffic ----------------------------------------------------------------------------

    def _send_batches(self) -> None:
        self._send("batch", "/events/batch", lambda rng, old: {"events": [
            _event(rng, old) for _ in range(BATCH)]}, lambda answer: answer["ids"])

    def _send_singles(self) -> None:
        self._send("single", "/events", _event, lambda answer: [answer["id"]])

    def _send(self, kind: str, path: str, body: Callable[[random.Random, bool], Any],
              ids: Callable[[Any], list[str]]) -> None:
        """Each request retried with its Idempotency-Key, as a client should, until it is
        answered 202: the ids it names are then what the workspace must hold."""
        rng = random.Random()
        with httpx.Client(base_url=f"{self.base}/api/v1", timeout=30) as client:
            while not self.stop.is_set():
                workspace = rng.choice(self.workspaces)
                old = self.sending_old
                content, key = body(rng, old), uuid.uuid4().hex
                sent = _as_sent(content, gzipped=kind == "batch" and rng.random() < 0.5)
                deadline = time.monotonic() + GIVE_UP_SECONDS
                while True:
                    answer = self.tally.call(kind, client.post, path, content=sent.body,
                                             headers={**workspace.headers, **sent.headers,
                                                      "Idempotency-Key": key})
                    if answer is not None and answer.status_code == 202:
                        with workspace.lock:
                            workspace.accepted.update(ids(answer.json()))
                            workspace.latest = ids(answer.json())[-1]
                            if old:
                                workspace.old.update(ids(answer.json()))
                        break
                    if time.monotonic() > deadline:
                        with workspace.lock:
                            workspace.abandoned += 1
                        break
                    time.sleep(0.2)

    def _read(self) -> None:
        rng = random.Random()
        with httpx.Client(base_url=f"{self.base}/api/v1", timeout=60) as client:
            while not self.stop.is_set():
                workspace = rng.choice(self.workspaces)
                headers = workspace.headers
                cursor = None
                for _ in range(3):
                    page = self.tally.call("search", client.get, "/events", headers=headers,
                                           params={"limit": 100, "action": "user.*",
                                                   **({"cursor": cursor} if cursor else {})})
                    cursor = page.json().get("next_cursor") if page is not None and \
                        page.status_code == 200 else None
                    if not cursor:
                        break
                self.tally.call("stats", client.get, "/events/stats", headers=headers,
                                params={"group_by": "action"})
                if some := workspace.latest:
                    self.tally.call("get", client.get, f"/events/{some}", headers=headers)
                if rng.random() < 0.2:
                    self.tally.call("verify", client.get, "/events/verify", headers=headers)
                    self.tally.call("chain-check", client.post, "/chain-check",
                                    headers=headers)
                self.stop.wait(0.2)

    def _export(self) -> None:
        """An export every few seconds, downloaded and proved against the signed log."""
        rng = random.Random()
        with httpx.Client(base_url=f"{self.base}/api/v1", timeout=60) as client:
            while not self.stop.wait(5):
                workspace = rng.choice(self.workspaces)
                made = self.tally.call("export", client.post, "/exports",
                                       headers=workspace.headers, json={"format": "ndjson"})
                if made is None or made.status_code != 202:
                    continue
                export_id = made.json()["id"]
                try:
                    if self._exported(client, workspace, export_id):
                        self.exports_proved += 1
                except Exception as error:  # what failed is the finding
                    self.problems.append(f"export {export_id}: {error!r}")

    def _exported(self, client: httpx.Client, workspace: Workspace, export_id: str) -> bool:
        deadline = time.monotonic() + GIVE_UP_SECONDS
        while time.monotonic() < deadline:
            shown = self.tally.call("export", client.get, f"/exports/{export_id}",
                                    headers=workspace.headers)
            status = shown.json().get("status") if shown is not None and \
                shown.status_code == 200 else None
            if status == "failed":
                raise RuntimeError(f"failed: {shown.json()}")
            if status == "completed":
                break
            time.sleep(0.5)
        else:
            return False
        file = self.tmp / f"{export_id}.ndjson"
        with client.stream("GET", f"/exports/{export_id}/download", headers=workspace.headers,
                           follow_redirects=True) as download:
            download.raise_for_status()
            with file.open("wb") as out:
                for chunk in download.iter_bytes():
                    out.write(chunk)
        evidence = client.get(f"/exports/{export_id}/evidence", headers=workspace.headers)
        evidence.raise_for_status()
        verify_export(file, evidence.json(), workspace.vkey)
        file.unlink()
        return True

    def _monitor(self) -> None:
        while not self.stop.wait(30):
            self.monitor_runs[self._monitor_once(self.workspaces[0]).returncode] += 1

    def _monitor_once(self, workspace: Workspace) -> subprocess.CompletedProcess:
        ran = subprocess.run([str(BIN / "auditrail"), "log", "monitor", "--url", self.base,
                              "--key", workspace.key, "--verifier-key", workspace.vkey,
                              "--state", str(self.tmp / f"monitor-{workspace.id}.json"),
                              "--entries", *(["--retention-days", "1"]
                                             if self.options.retention else [])],
                             capture_output=True, text=True,
                             env={k: v for k, v in os.environ.items()
                                  if not k.startswith("AUDITRAIL_")})
        with (self.tmp / "monitor.log").open("a") as log:
            log.write(f"exit {ran.returncode}: {ran.stdout}{ran.stderr}")
        return ran

    # -- faults -----------------------------------------------------------------------------

    def _inject_faults(self) -> None:
        faults = [self._kill_worker, self._kill_http_worker, self._kill_redis_clients,
                  self._kill_database_connections]
        turn = 0
        while not self.stop.wait(self.options.fault_seconds):
            fault = faults[turn % len(faults)]
            fault()
            self.faults[fault.__name__.removeprefix("_")] += 1
            turn += 1

    def _kill_worker(self) -> None:
        victim = self.workers.pop(0)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        self.workers.append(self._start("worker", log=f"worker-{victim.pid}-after.log"))

    def _kill_http_worker(self) -> None:
        assert self.server is not None
        children = psutil.Process(self.server.pid).children()
        if children:
            random.choice(children).send_signal(signal.SIGKILL)

    def _kill_redis_clients(self) -> None:
        with Redis.from_url(self.options.redis) as redis:
            redis.execute_command("CLIENT", "KILL", "TYPE", "normal")

    def _kill_database_connections(self) -> None:
        with psycopg.connect(self.options.postgres, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                          "datname = %s AND pid <> pg_backend_pid()",
                          (self.dsn.rsplit("/", 1)[1],))

    # -- afterwards -------------------------------------------------------------------------

    def _drain(self) -> float:
        """Seconds until every accepted event is linked, every stream has delivered it and
        every alert is notified."""
        started = time.perf_counter()
        deadline = started + 600
        while time.perf_counter() < deadline:
            with self._database() as db:
                pending = db.execute("SELECT count(*) FROM events WHERE status <> 'processed'"
                                     ).fetchone()[0]
                heads = [db.execute("SELECT coalesce(max(sequence), 0) FROM events WHERE "
                                    "workspace_id = %s", (workspace.id,)).fetchone()[0]
                         for workspace in self.workspaces]
                notifying = db.execute(
                    "SELECT (SELECT count(*) FROM deliveries WHERE status = 'pending') + "
                    "(SELECT count(*) FROM alerts WHERE status = 'pending')").fetchone()[0]
            delivered = all(max(_sequences(self.streams, n), default=0) >= head
                            for n, head in enumerate(heads))
            if not pending and not notifying and delivered:
                return time.perf_counter() - started
            time.sleep(0.5)
        return float("nan")

    def _check(self) -> list[str]:
        failures = list(self.problems)
        for n, workspace in enumerate(self.workspaces):
            failures += [f"{workspace.id}: {failure}"
                         for failure in self._check_workspace(workspace, n)]
        if any(answers.get("500") for answers in self.tally.answers.values()):
            failures.append("the service answered 500")
        if self.monitor_runs.get(1):
            failures.append("the log monitor raised an alarm during the soak")
        return failures

    def _check_workspace(self, workspace: Workspace, n: int) -> Iterator[str]:
        with self._database() as db:
            rows = db.execute("SELECT id, sequence, action FROM events WHERE workspace_id = %s "
                              "ORDER BY sequence", (workspace.id,)).fetchall()
            alerts = db.execute("SELECT id, rule_id, group_key, event_ids, status FROM alerts "
                                "WHERE workspace_id = %s", (workspace.id,)).fetchall()
        stored = {row[0] for row in rows}
        removed = workspace.accepted - stored
        anchor = rows[0][1] - 1 if rows else 0
        workspace.removed = len(removed)
        if not workspace.abandoned and not stored <= workspace.accepted:
            yield f"holds {len(stored - workspace.accepted)} events never accepted"
        if not workspace.abandoned and not removed <= workspace.old:
            yield f"lacks {len(removed - workspace.old)} accepted events retention must keep"
        if len(removed) != anchor or [row[1] for row in rows] != list(
                range(anchor + 1, anchor + len(rows) + 1)):
            yield f"its sequences are not {anchor + 1}..N after {len(removed)} removed"
        headers = workspace.headers
        verified = httpx.get(f"{self.base}/api/v1/events/verify", headers=headers,
                             timeout=300).json()
        if not verified.get("valid") or verified.get("checked") != len(rows):
            yield f"GET /events/verify: {verified}"
        monitored = self._monitor_once(workspace)
        if monitored.returncode:
            yield f"the log monitor: {monitored.stdout.strip()} {monitored.stderr.strip()}"
        firsts = list(dict.fromkeys(_sequences(self.streams, n)))
        last = anchor + len(rows)
        # Retention may remove what a stream behind had not cut into a delivery yet (the
        # stream records the range skipped); everything after the anchor must arrive.
        if firsts != sorted(firsts) or not set(range(anchor + 1, last + 1)) <= set(firsts):
            yield (f"its stream delivered {len(firsts)} of {last} events, "
                   f"{'not ' if firsts != sorted(firsts) else ''}in sequence order")
        expected = self._single_pass(workspace.id)
        triggered = Counter((rule, group, tuple(ids)) for _, rule, group, ids, _ in alerts)
        if triggered != expected:
            yield (f"{len(alerts)} alerts stored where one pass over the chain triggers "
                   f"{expected.total()} ({(triggered - expected).total()} not among them)")
        notified = {request.json()["alert"]["id"] for request in list(self.alerts.requests)
                    if request.path.endswith(f"/{n}") and request.status == 200}
        if {row[0] for row in alerts} != notified or any(row[4] != "delivered"
                                                         for row in alerts):
            yield (f"{len(notified)} of {len(alerts)} alerts notified "
                   f"({Counter(row[4] for row in alerts)})")

    def _single_pass(self, workspace_id: str) -> Counter[tuple[str, str, tuple[str, ...]]]:
        """The alerts the domain's evaluator triggers in one pass over the stored chain,
        in sequence order: what any number of workers, crashes and retries must give."""
        container = build_container(Settings.from_env(self.env))
        with container.uow(read_only=True) as uow:
            rules = uow.alert_rules.enabled(workspace_id)
            chain = list(uow.events.iter_chain(workspace_id, 1, None, 5000))
        outcome = evaluate(RuleIndex(rules).matches(chain), {})
        return Counter((trigger.rule.id, trigger.group_key,
                        tuple(event_id for _, event_id, _ in trigger.events))
                       for trigger in outcome.triggers)

    def _report(self, limit: float, rate: float, drained: float, before: dict[str, int],
                after: dict[str, int]) -> None:
        print(f"soak:  accepted while everything ran, under faults {rate:>8,.0f} events/s "
              f"({100 * rate / limit:.0f} % of ingest alone)")
        print(f"       drained {drained:.1f} s after it stopped; faults: "
              + ", ".join(f"{name} {count}" for name, count in sorted(self.faults.items())))
        total = sum(len(w.accepted) for w in self.workspaces)
        print(f"       {total:,} events accepted, {sum(w.abandoned for w in self.workspaces)} "
              f"batches abandoned, {sum(w.removed for w in self.workspaces):,} removed by "
              f"retention; {self.exports_proved} exports proved offline; log monitor "
              f"runs by exit code {dict(self.monitor_runs)}\n")
        print(f"{'request':<12} {'count':>7} {'p50 ms':>8} {'p99 ms':>8}  answers other than 2xx")
        for kind, seconds in sorted(self.tally.seconds.items()):
            others = {outcome: count for outcome, count in self.tally.answers[kind].items()
                      if not outcome.startswith("2")}
            print(f"{kind:<12} {len(seconds):>7,} {_ms(seconds, 50):>8.1f} "
                  f"{_ms(seconds, 99):>8.1f}  {others or '-'}")
        print("\nmemory (RSS, MB)  " + ", ".join(
            f"{name} {before.get(name, 0) // 2**20} -> {after.get(name, 0) // 2**20}"
            for name in sorted(after)), flush=True)

    # -- helpers ----------------------------------------------------------------------------

    def _accepted(self) -> int:
        return sum(len(workspace.accepted) for workspace in self.workspaces)

    def _memory(self) -> dict[str, int]:
        """RSS of the HTTP server (its master and workers) and of the queue workers."""
        memory: dict[str, int] = {}
        if self.server is not None:
            server = psutil.Process(self.server.pid)
            memory["serve"] = sum(p.memory_info().rss for p in [server, *server.children()])
        memory["workers"] = sum(psutil.Process(w.pid).memory_info().rss for w in self.workers)
        return memory

    @contextmanager
    def _database(self) -> Iterator[psycopg.Connection]:
        with psycopg.connect(self.dsn, autocommit=True) as connection:
            yield connection

    def close(self) -> None:
        self.stop.set()
        for process in [*self.workers, *([self.server] if self.server else [])]:
            process.terminate()
        for process in [*self.workers, *([self.server] if self.server else [])]:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        self.streams.close()
        self.alerts.close()
        forget_queues(self.env)


class Sent(NamedTuple):
    body: bytes
    headers: dict[str, str]


def _as_sent(content: Any, gzipped: bool) -> Sent:
    """A request's body as sent, the same bytes on every retry; half the batches gzipped,
    so that compressed bodies meet the faults too."""
    body = json.dumps(content).encode()
    headers = {"Content-Type": "application/json"}
    if gzipped:
        return Sent(gzip.compress(body, mtime=0), {**headers, "Content-Encoding": "gzip"})
    return Sent(body, headers)


def _event(rng: random.Random, old: bool = False) -> dict:
    """An event as an application sends it; ``old``: one that occurred two days ago, of
    an action no rule matches (a rule's windows then depend on none retention removes)."""
    actor = f"usr_{rng.randrange(50)}"
    event = {"action": "document.view" if old else rng.choice(ACTIONS),
             "actor": {"id": actor, "type": "user"},
             "targets": [{"id": f"doc_{rng.randrange(1000)}", "type": "document"}],
             "context": {"ip_address": f"203.0.113.{rng.randrange(1, 255)}"},
             "metadata": {"soak": True}}
    if old:
        event["occurred_at"] = format_timestamp(datetime.now(UTC) - timedelta(
            days=2, seconds=rng.randrange(3600)))
    return event


def _flaky(rng: random.Random) -> Callable[[Received], Answer]:
    lock = threading.Lock()

    def answer(_: Received) -> Answer:
        with lock:
            failing = rng.random() < 0.05
        return Answer(500, body=b'{"error": "flaky"}') if failing else Answer()
    return answer


def _sequences(receiver: Receiver, n: int) -> list[int]:
    """The sequences of the events the stream of workspace ``n`` got answered 2xx, in order."""
    return [event["sequence"] for request in list(receiver.requests)
            if request.path.endswith(f"/{n}") and request.status == 200
            for event in request.json().get("events", ())]


def _ms(seconds: list[float], percentile: int) -> float:
    if len(seconds) < 2:
        return 1000 * (seconds[0] if seconds else 0.0)
    return 1000 * statistics.quantiles(seconds, n=100)[percentile - 1]


if __name__ == "__main__":
    main()
