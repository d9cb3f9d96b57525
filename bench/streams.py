"""Log-stream delivery on PostgreSQL + Redis, beside processing without streams.

    make bench-streams     # or: .venv/bin/python bench/streams.py --events 20000

Measures, in one run and on one machine, with local webhook receivers that answer at once:
  * the limit: events/s one HTTP client POSTs to a receiver in 500-event webhook bodies
    (built in advance: the transport and the receiver alone);
  * the processing step's own cost of fan-out: events linked per second by the processing
    use case with 0 and with 10 active streams whose deliveries do not run (only what
    processing itself does for them: reading the workspace's streams, waking them through
    Redis), in alternating rounds so that the machine's drift cancels out of the ratio;
  * end to end, with two ``auditrail worker`` processes and deliveries running: events/s
    processed and delivered to 1 and to 10 streams, from a backlog; and, with events
    arriving at a steady rate, the delivery lag (202 -> receiver) p50/p99;
  * 10 streams of which one answers 500: the nine healthy ones' delivery rate beside the
    rate of 10 healthy ones;
  * saturated: three workspaces with a stream each, events sent by three threads as fast
    as the ingest use case takes them for ``--seconds``, two workers: how many of them were
    linked and how many delivered before the sending stopped (workers must not leave
    streams waiting until ingest eases).

``--s3`` measures an S3 stream instead, against moto's S3 server checking every
signature: a backlog written by two workers as 500-event objects, beside one client
PUTting the same objects, signed in advance, to the same server (its limit);
``--s3-compression gzip`` gzips the objects, on both sides, and says what they weigh.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from scratch import SIGNING_KEY, add_server_options  # noqa: E402
from tests.receivers import Answer, Receiver  # noqa: E402

from entrypoints.container.installation import build_container  # noqa: E402
from entrypoints.settings import Settings  # noqa: E402

EVENT = {"action": "user.login_failed",
         "actor": {"id": "usr_42", "type": "user", "name": "Jane Roe"},
         "targets": [{"id": "doc_7", "type": "document"}],
         "context": {"ip_address": "81.2.69.160", "user_agent": "bench"},
         "metadata": {"reason": "bad_password"}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_options(parser)
    parser.add_argument("--events", type=int, default=20_000, help="events per phase")
    parser.add_argument("--rounds", type=int, default=6, help="alternating fan-out rounds")
    parser.add_argument("--rate", type=int, default=1_000,
                        help="events/s arriving in the lag phase")
    parser.add_argument("--seconds", type=int, default=15,
                        help="length of the lag and saturated phases")
    parser.add_argument("--s3", action="store_true", help="an S3 stream, against moto")
    parser.add_argument("--s3-compression", choices=("none", "gzip"), default="none",
                        help="the S3 stream's objects: plain NDJSON or gzipped")
    parser.add_argument("--saturated-only", action="store_true",
                        help="run only the saturated phase")
    bench = Bench(parser.parse_args())
    try:
        bench.run()
    finally:
        bench.close()


class Bench:
    def __init__(self, options: argparse.Namespace) -> None:
        self.options = options
        self.tmp = Path(tempfile.mkdtemp(prefix="auditrail-bench-"))
        self.database = f"auditrail_bench_{uuid.uuid4().hex[:8]}"
        self.dsn = f"{options.postgres.rsplit('/', 1)[0]}/{self.database}"
        self.queue = f"auditrail-bench-{uuid.uuid4().hex[:8]}"
        settings = {"database_url": self.dsn.replace("postgresql://", "postgresql+psycopg://"),
                    "redis_url": options.redis, "queue_name": self.queue,
                    "secret_key": "bench-secret-key-0123456789abcdef",
                    "signing_key": SIGNING_KEY,
                    "data_dir": str(self.tmp), "allow_private_destinations": "1",
                    "requeue_after_seconds": "3600"}
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITRAIL_")}
        self.env.update({f"AUDITRAIL_{k.upper()}": v for k, v in settings.items()})
        self.container = build_container(Settings.from_env(self.env))
        self.receivers: list[Receiver] = []
        self.workers: list[subprocess.Popen] = []

    def run(self) -> None:
        with psycopg.connect(self.options.postgres, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.database}"')
        self.container.upgrade_database()
        print(f"machine: {os.cpu_count()} cores; {self.options.events:,} events per phase\n",
              flush=True)
        if self.options.saturated_only:
            self.measure_saturated()
            return
        if self.options.s3:
            self.measure_s3()
            return
        limit = self.measure_transport()
        print(f"limit      one client -> receiver, 500-event bodies   {limit:>9,.0f} events/s")
        self.measure_fanout()
        processed = self.measure_end_to_end(streams=0)
        for count in (1, 10):
            rate, delivered = self.measure_end_to_end(streams=count)
            print(f"end to end {count:>2} stream{'s' if count > 1 else ' '}: processed "
                  f"{rate:>7,.0f} events/s ({100 * rate / processed[0]:.0f} % of no streams), "
                  f"delivered {delivered:>7,.0f} events/s a stream "
                  f"({count * delivered:,.0f} in all)", flush=True)
        self.measure_failing_neighbour()
        self.measure_lag()
        self.measure_saturated()

    # -- the limit --------------------------------------------------------------------------

    def measure_transport(self) -> float:
        receiver = self._receiver()
        body = json.dumps({"stream_id": "lst_x", "delivery_id": "dlv_x", "sequence": 1,
                           "events": [{**EVENT, "sequence": n} for n in range(500)]}).encode()
        with httpx.Client() as client:
            started = time.perf_counter()
            for _ in range(self.options.events // 500):
                client.post(receiver.url, content=body,
                            headers={"Content-Type": "application/json"})
            elapsed = time.perf_counter() - started
        return self.options.events / elapsed

    # -- an S3 stream ------------------------------------------------------------------------

    def measure_s3(self) -> None:
        from adapters.webhooks.object_storage import s3_put
        from application.ports.delivery import Destination, Parcel
        bucket = _S3Bucket()
        try:
            compression = self.options.s3_compression
            destination = Destination("s3", bucket.url, bucket.secret,
                                      {"region": "us-east-1", "access_key_id": bucket.key_id,
                                       "compression": compression})
            events = [{**EVENT, "sequence": n} for n in range(500)]
            puts = [s3_put(destination, Parcel("lst_limit", f"dlv_{n}", n, events))
                    for n in range(1, self.options.events // 500 + 1)]
            with httpx.Client() as client:
                started = time.perf_counter()
                for url, body, headers in puts:
                    client.put(url, content=body, headers=headers).raise_for_status()
                limit = self.options.events / (time.perf_counter() - started)
            print(f"limit      one client -> moto S3, 500-event objects ({compression}) "
                  f"signed in advance {limit:>7,.0f} events/s; an object "
                  f"{len(puts[0][1]):,} bytes", flush=True)
            workspace_id = self._workspace("s3")
            self.container.create_stream().execute(workspace_id, {
                "name": "archive", "type": "s3", "config": {
                    "url": bucket.url, "region": "us-east-1", "access_key_id": bucket.key_id,
                    "secret_access_key": bucket.secret, "compression": compression}})
            self._pending(workspace_id, self.options.events)
            self._start_workers(2)
            started = time.perf_counter()
            self.container.job_queue().enqueue_processing([workspace_id], force=True)
            processed = None
            with psycopg.connect(self.dsn, autocommit=True) as connection:
                while (connection.execute(
                        "SELECT coalesce(sum(event_count), 0) FROM deliveries WHERE "
                        "workspace_id = %s AND status = 'delivered'",
                        (workspace_id,)).fetchone()[0] < self.options.events):
                    if processed is None and not connection.execute(
                            "SELECT count(*) FROM events WHERE workspace_id = %s AND "
                            "status = 'pending'", (workspace_id,)).fetchone()[0]:
                        processed = time.perf_counter() - started
                    time.sleep(0.02)
            written = time.perf_counter() - started
            self._stop_workers()
            events = self.options.events
            print(f"end to end  1 S3 stream, 2 workers, from a backlog of {events:,}: "
                  f"processed {events / (processed or written):>7,.0f} events/s, written "
                  f"{events / written:>7,.0f} events/s ({100 * events / written / limit:.0f} % "
                  f"of the limit; the last object {written - (processed or written):.2f} s "
                  f"after the last event was linked)", flush=True)
        finally:
            bucket.close()

    # -- processing's own cost --------------------------------------------------------------

    def measure_fanout(self) -> None:
        """The processing use case in this process, draining a backlog of pending events,
        with nobody consuming the delivery jobs it queues. One workspace serves both sides,
        its ten streams paused for the one and active for the other: two workspaces
        measured alike differed by some 15 % on their own (an A/A run)."""
        workspace_id = self._workspace("fanout")
        for _ in range(10):
            self._stream(workspace_id, self._receiver().url)
        rates: dict[str, list[float]] = {"0": [], "10": []}
        per_round = self.options.events // self.options.rounds
        for number in range(self.options.rounds + 1):  # the first warms up: not counted
            for label in ("0", "10") if number % 2 else ("10", "0"):
                self._set_streams("active" if label == "10" else "paused")
                self._pending(workspace_id, per_round)
                started = time.perf_counter()
                linked = self.container.process_pending_events().execute(workspace_id).linked
                if number:
                    rates[label].append(linked / (time.perf_counter() - started))
        ratios = [with_ / without for with_, without in zip(rates["10"], rates["0"],
                                                             strict=True)]
        print(f"processing, streams paused               {statistics.median(rates['0']):>9,.0f} "
              f"events/s  (rounds: {', '.join(f'{r:,.0f}' for r in rates['0'])})")
        print(f"processing, 10 streams (not delivering) {statistics.median(rates['10']):>9,.0f} "
              f"events/s  (rounds: {', '.join(f'{r:,.0f}' for r in rates['10'])})")
        self._drop_streams()
        rounds = ", ".join(f"{100 * ratio:.1f}" for ratio in ratios)
        print(f"  -> {100 * statistics.median(ratios):.1f} % of the rate with them paused "
              f"(median round; rounds {rounds} %; target >= 80 %)\n", flush=True)

    # -- end to end -------------------------------------------------------------------------

    def measure_end_to_end(self, streams: int, failing: int = 0) -> tuple[float, float]:
        """A backlog of ``--events`` processed and delivered by two workers: events/s
        processed, and events/s delivered to each healthy stream (first event processed
        to last event received)."""
        workspace_id = self._workspace(f"e2e-{streams}-{failing}")
        healthy = [self._receiver() for _ in range(streams - failing)]
        for receiver in healthy:
            self._stream(workspace_id, receiver.url)
        for _ in range(failing):
            self._stream(workspace_id, self._receiver(lambda _: Answer(500)).url)
        self._pending(workspace_id, self.options.events)
        self._start_workers(2)
        started = time.perf_counter()
        self.container.job_queue().enqueue_processing([workspace_id], force=True)
        with psycopg.connect(self.dsn, autocommit=True) as connection:
            while connection.execute("SELECT count(*) FROM events WHERE workspace_id = %s "
                                     "AND status = 'pending'", (workspace_id,)).fetchone()[0]:
                time.sleep(0.02)
        processed = time.perf_counter() - started
        events = self.options.events
        while any(_received(r) < events for r in healthy):
            time.sleep(0.02)
        delivered = time.perf_counter() - started
        self._stop_workers()
        self._drop_streams()
        if not streams:
            print(f"end to end  0 streams: processed {events / processed:>7,.0f} events/s "
                  f"(2 workers)", flush=True)
        return events / processed, events / delivered if healthy else 0.0

    def measure_failing_neighbour(self) -> None:
        _, healthy = self.measure_end_to_end(streams=10)
        _, beside = self.measure_end_to_end(streams=10, failing=1)
        print(f"9 healthy streams beside one answering 500: {beside:,.0f} events/s a stream, "
              f"10 healthy: {healthy:,.0f} -> {100 * beside / healthy:.0f} % "
              f"(target: within 10 %)\n", flush=True)

    def measure_lag(self) -> None:
        """Events arriving at ``--rate`` for ``--seconds``; each event's lag is when the
        receiver got it minus its ``received_at`` (the 202)."""
        for batch_seconds in ("1", "0"):
            self.env["AUDITRAIL_STREAM_BATCH_SECONDS"] = batch_seconds
            workspace_id = self._workspace(f"lag-{batch_seconds}")
            receiver = self._receiver()
            self._stream(workspace_id, receiver.url)
            self._start_workers(2)
            ingest = self.container.ingest_events()
            per_tick, tick = self.options.rate // 10, 0.1
            total = per_tick * 10 * self.options.seconds
            started = time.perf_counter()
            for n in range(total // per_tick):
                ingest.execute(workspace_id, [EVENT] * per_tick, batch=True)
                time.sleep(max(0.0, started + (n + 1) * tick - time.perf_counter()))
            while _received(receiver) < total:
                time.sleep(0.02)
            self._stop_workers()
            self._drop_streams()
            lags = sorted(
                request.at - datetime.fromisoformat(event["received_at"]).timestamp()
                for request in receiver.requests for event in request.json()["events"])
            sizes = [len(request.json()["events"]) for request in receiver.requests]
            print(f"lag, {self.options.rate:,} events/s arriving, batch wait {batch_seconds} s: "
                  f"p50 {1000 * lags[len(lags) // 2]:,.0f} ms, "
                  f"p99 {1000 * lags[int(len(lags) * 0.99)]:,.0f} ms, "
                  f"{len(sizes)} deliveries of {statistics.mean(sizes):,.0f} events on average",
                  flush=True)
        self.env.pop("AUDITRAIL_STREAM_BATCH_SECONDS")

    def measure_saturated(self) -> None:
        workspaces = [self._workspace(f"saturated-{n}") for n in range(3)]
        receivers = [self._receiver() for _ in workspaces]
        for workspace_id, receiver in zip(workspaces, receivers, strict=True):
            self._stream(workspace_id, receiver.url)
        self._start_workers(2)
        stop, sent = threading.Event(), [0, 0, 0]

        def send(n: int) -> None:
            ingest = self.container.ingest_events()
            while not stop.is_set():
                ingest.execute(workspaces[n], [EVENT] * 1000, batch=True)
                sent[n] += 1000
        threads = [threading.Thread(target=send, args=(n,)) for n in range(3)]
        for thread in threads:
            thread.start()
        time.sleep(self.options.seconds)
        stop.set()
        for thread in threads:
            thread.join()
        delivered = sum(_received(r) for r in receivers)
        with psycopg.connect(self.dsn, autocommit=True) as connection:
            linked = connection.execute(
                "SELECT count(*) FROM events WHERE workspace_id = ANY(%s) "
                "AND status = 'processed'", (workspaces,)).fetchone()[0]
        while sum(_received(r) for r in receivers) < sum(sent):
            time.sleep(0.05)
        self._stop_workers()
        self._drop_streams()
        print(f"saturated, {self.options.seconds} s of 3 threads sending 1,000-event batches "
              f"({sum(sent) / self.options.seconds:,.0f} events/s), 2 workers: "
              f"{linked:,} linked and {delivered:,} delivered before the sending stopped, "
              f"of {sum(sent):,}", flush=True)

    # -- helpers ----------------------------------------------------------------------------

    def _workspace(self, name: str) -> str:
        workspace, _ = self.container.create_workspace().execute(
            name, plan="enterprise", rate_limit=1_000_000)
        return workspace.id

    def _stream(self, workspace_id: str, url: str) -> None:
        self.container.create_stream().execute(workspace_id, {
            "name": "bench", "type": "webhook", "config": {"url": url}})

    def _pending(self, workspace_id: str, count: int) -> None:
        ingest = self.container.ingest_events()
        for start in range(0, count, 1000):
            ingest.execute(workspace_id, [EVENT] * min(1000, count - start), batch=True)
        self.container.job_queue().flush()
        self._forget_jobs()

    def _receiver(self, answer=None) -> Receiver:  # type: ignore[no-untyped-def]
        receiver = Receiver(answer)
        self.receivers.append(receiver)
        return receiver

    def _start_workers(self, count: int) -> None:
        self.workers = [subprocess.Popen([str(BIN / "auditrail"), "worker"], env=self.env,
                                         stdout=(self.tmp / f"worker{i}.log").open("ab"),
                                         stderr=subprocess.STDOUT) for i in range(count)]
        from redis import Redis
        from rq import Queue, Worker
        queue = Queue(self.queue, connection=Redis.from_url(self.options.redis))
        pids = {worker.pid for worker in self.workers}
        while not pids <= {w.pid for w in Worker.all(queue=queue)}:
            time.sleep(0.05)

    def _stop_workers(self) -> None:
        for worker in self.workers:
            worker.terminate()
        for worker in self.workers:
            worker.wait(60)
        self.workers = []
        self._forget_jobs()

    def _set_streams(self, status: str) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as connection:
            connection.execute("UPDATE streams SET status = %s", (status,))

    def _drop_streams(self) -> None:
        """A phase's streams go with it: a later phase's workers would deliver their
        backlog (upkeep wakes every stream with one) beside what they measure."""
        with psycopg.connect(self.dsn, autocommit=True) as connection:
            connection.execute("DELETE FROM deliveries")
            connection.execute("DELETE FROM streams")

    def _forget_jobs(self) -> None:
        """The wake-ups the ingest sent: each phase starts its own workers on purpose."""
        from tests.queues import forget_queue
        for queue in self.container.job_queue().queues:
            forget_queue(queue)

    def close(self) -> None:
        for worker in self.workers:
            worker.kill()
        for receiver in self.receivers:
            receiver.close()
        self._forget_jobs()
        self.container.engine().dispose()
        try:
            with psycopg.connect(self.options.postgres, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        except psycopg.Error:
            pass
        shutil.rmtree(self.tmp, ignore_errors=True)


def _received(receiver: Receiver) -> int:
    return receiver.events_accepted


class _S3Bucket:
    """moto's S3 server in this process, checking signatures, with a user and a bucket."""

    def __init__(self) -> None:
        import logging

        import boto3
        from moto import settings
        from moto.server import ThreadedMotoServer
        logging.getLogger("werkzeug").disabled = True  # a line a request
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        settings.INITIAL_NO_AUTH_ACTION_COUNT = 3  # a user, its key and policy; then signed
        iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                           aws_access_key_id="AKIASETUPEXAMPLE0000", aws_secret_access_key="x")
        iam.create_user(UserName="bench")
        key = iam.create_access_key(UserName="bench")["AccessKey"]
        iam.put_user_policy(UserName="bench", PolicyName="all", PolicyDocument=json.dumps(
            {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
        self.key_id, self.secret = key["AccessKeyId"], key["SecretAccessKey"]
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                     aws_access_key_id=self.key_id,
                     aws_secret_access_key=self.secret).create_bucket(Bucket="bench")
        self.url = f"{endpoint}/bench/auditrail/"

    def close(self) -> None:
        self._server.stop()


if __name__ == "__main__":
    threading.excepthook = lambda args: None  # receivers closed under a client: not news
    main()
