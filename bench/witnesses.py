"""Submitting checkpoints to the logs' witnesses, on PostgreSQL + Redis + RQ, beside the
witness's own limit.

    make bench-witnesses    # or: .venv/bin/python bench/witnesses.py --workspaces 300

Sets up ``--workspaces`` workspaces, each with processed events, a signed checkpoint and
one witness: a real ``auditrail witness serve`` process that follows every one of their
logs. Then measures, in one run:
  * the limit: one client POSTing each workspace's checkpoint to a second, identical
    witness, one after another (the body built beforehand, consistency proofs included):
    what the witness answers per second, with no Auditrail in the way;
  * Auditrail: the sweep that wakes every witness behind its log (one query), then one RQ
    burst worker running the submissions - claiming each witness under a lease, reading
    the checkpoint and the consistency proof, the request, and recording the cosignature
    - until every witness holds its log's latest: submissions per second, first from
    nothing, then, after every log grew and was signed again, with consistency proofs;
  * the sweep's cost when nothing is due: what every worker pays every second.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from scratch import SIGNING_KEY, add_server_options, forget_queues  # noqa: E402

from domain.witnessing import add_checkpoint_body  # noqa: E402
from entrypoints.container.installation import build_container  # noqa: E402
from entrypoints.settings import Settings  # noqa: E402
from entrypoints.worker.rq_worker import run_worker  # noqa: E402

EVENT = {"action": "user.login", "actor": {"id": "usr_1", "type": "user"}}
AUDITRAIL = str(Path(sys.executable).parent / "auditrail")


def main() -> None:
    logging.getLogger("rq.worker").setLevel(logging.WARNING)  # a line a job otherwise
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_options(parser)
    parser.add_argument("--workspaces", type=int, default=300)
    parser.add_argument("--events", type=int, default=20, help="events a workspace a round")
    options = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="auditrail-bench-"))
    database = f"auditrail_bench_{uuid.uuid4().hex[:8]}"
    dsn = f"{options.postgres.rsplit('/', 1)[0]}/{database}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITRAIL_")}
    env.update({"AUDITRAIL_DATABASE_URL": dsn.replace("postgresql://", "postgresql+psycopg://"),
                "AUDITRAIL_REDIS_URL": options.redis, "AUDITRAIL_SIGNING_KEY": SIGNING_KEY,
                "AUDITRAIL_SECRET_KEY": "bench-secret-key-0123456789abcdef",
                "AUDITRAIL_QUEUE_NAME": f"auditrail-bench-{uuid.uuid4().hex[:8]}",
                "AUDITRAIL_DATA_DIR": str(tmp), "AUDITRAIL_LOG_LEVEL": "WARNING",
                "AUDITRAIL_ALLOW_PRIVATE_DESTINATIONS": "1"})
    with psycopg.connect(options.postgres, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    container = build_container(Settings.from_env(env))
    witnesses: list[subprocess.Popen] = []
    try:
        container.upgrade_database()
        Bench(container, options, tmp, witnesses).run()
    finally:
        for process in witnesses:
            process.terminate()
            process.wait(30)
        container.job_queue().close()
        container.engine().dispose()
        forget_queues(env)
        with psycopg.connect(options.postgres, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


class Bench:
    def __init__(self, container, options: argparse.Namespace, tmp: Path,  # type: ignore[no-untyped-def]
                 witnesses: list[subprocess.Popen]) -> None:
        self.container = container
        self.options = options
        self.tmp = tmp
        self.processes = witnesses
        self.workspaces: list[str] = []

    def run(self) -> None:
        count = self.options.workspaces
        print(f"machine: {os.cpu_count()} cores; {count} workspaces, a witness each "
              f"(one witness process following every log)\n", flush=True)
        started = time.perf_counter()
        for _ in range(count):
            workspace, _ = self.container.create_workspace().execute(
                "bench", plan="enterprise", rate_limit=1_000_000)
            self.workspaces.append(workspace.id)
        self.grow()
        keys = [self.container.transparency_log().key(w).verifier_key
                for w in self.workspaces]
        served, raw = (self.witness(name, keys) for name in ("served", "raw"))
        for workspace_id in self.workspaces:
            self.container.add_log_witness().execute(
                workspace_id, {"url": served[0], "verifier_key": served[1]})
        self.container.job_queue().flush()
        print(f"set-up: {time.perf_counter() - started:.1f} s\n", flush=True)

        rounds = (("from nothing, RQ worker", self.submit),
                  ("with proofs, RQ worker", self.submit),
                  ("with proofs, use case alone", self.submit_in_process))
        for round_, (label, submit) in enumerate(rounds):
            if round_:
                self.grow()
            limit = self.raw(raw[0], round_)
            rate = submit()
            print(f"{label:<28} limit {limit:>5,.0f} cosignatures/s (one client -> the "
                  f"witness); Auditrail {rate:>5,.0f} submissions/s "
                  f"({100 * rate / limit:.0f} %)", flush=True)
        self.sweep_when_idle()

    def grow(self) -> None:
        """``--events`` more processed events in every workspace, and a checkpoint of them."""
        ingest, process = self.container.ingest_events(), self.container.process_pending_events()
        for workspace_id in self.workspaces:
            ingest.execute(workspace_id, [EVENT] * self.options.events, batch=True)
            process.execute(workspace_id)
            self.container.transparency_log().sign(workspace_id)

    def witness(self, name: str, keys: list[str]) -> tuple[str, str]:
        """A witness process following every log: its URL and cosigner key."""
        state = self.tmp / name / "state.sqlite3"
        env = {**os.environ, "AUDITRAIL_WITNESS_NAME": f"witness.bench/{name}",
               "AUDITRAIL_WITNESS_STATE": str(state), "AUDITRAIL_WITNESS_LOGS": " ".join(keys),
               "AUDITRAIL_LOG_LEVEL": "WARNING"}
        key = subprocess.run([AUDITRAIL, "witness", "verifier-key"], env=env, check=True,
                             capture_output=True, text=True).stdout.strip()
        with socket_port() as port:
            pass
        self.processes.append(subprocess.Popen(
            [AUDITRAIL, "witness", "serve", "--port", str(port)], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/healthz", timeout=1).raise_for_status()
                return url, key
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the witness did not come up"
                time.sleep(0.2)

    def raw(self, url: str, round_: int) -> float:
        """What the witness answers a second to one client, bodies built beforehand."""
        reader = self.container.log_reader()
        bodies = []
        for workspace_id in self.workspaces:
            latest = reader.latest(workspace_id)
            old = round_ * self.options.events
            proof = reader.consistency(workspace_id, old, latest.tree_size).proof if old else []
            bodies.append(add_checkpoint_body(old, proof, latest.note).encode())
        with httpx.Client(base_url=url) as client:
            started = time.perf_counter()
            for body in bodies:
                answer = client.post("/add-checkpoint", content=body)
                assert answer.status_code == 200, answer.text
            return len(bodies) / (time.perf_counter() - started)

    def submit(self) -> float:
        """The sweep, then one burst worker, until every witness holds its log's latest."""
        started = time.perf_counter()
        woken = self.container.wake_witnesses().execute()
        assert woken == len(self.workspaces), woken
        run_worker(self.container, burst=True)
        elapsed = time.perf_counter() - started
        health = self.container.witness_health().execute().counts
        assert health["ok"] == len(self.workspaces), health
        assert self.container.wake_witnesses().execute() == 0  # none left behind
        return woken / elapsed

    def submit_in_process(self) -> float:
        """The submissions' own cost: the use case called for each witness in turn, with
        no queue, no job and no worker around it."""
        with self.container.uow() as uow:
            due = uow.log_witnesses.due(self.container.clock().now(), len(self.workspaces))
        submit = self.container.submit_to_witness()
        started = time.perf_counter()
        outcomes = [submit.execute(witness_id) for witness_id in due]
        elapsed = time.perf_counter() - started
        assert outcomes == ["cosigned"] * len(self.workspaces), set(outcomes)
        return len(due) / elapsed

    def sweep_when_idle(self) -> None:
        sweep = self.container.wake_witnesses()
        timings = []
        for _ in range(200):
            started = time.perf_counter()
            assert sweep.execute() == 0
            timings.append(1000 * (time.perf_counter() - started))
        timings.sort()
        print(f"\nsweep with nothing due ({len(self.workspaces)} witnesses): p50 "
              f"{statistics.median(timings):.2f} ms, p99 {timings[197]:.2f} ms, every second "
              f"in every worker", flush=True)


class socket_port:
    """A free port on 127.0.0.1 (closed again before the witness binds it)."""

    def __enter__(self) -> int:
        import socket
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        return self._sock.getsockname()[1]

    def __exit__(self, *_: object) -> None:
        self._sock.close()


if __name__ == "__main__":
    main()
