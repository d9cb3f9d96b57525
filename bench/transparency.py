"""The transparency log's costs at 1,000,000 events, on PostgreSQL + Redis.

    make bench-transparency    # or: .venv/bin/python bench/transparency.py --events 1000000

Measures, in one run:
  * processing: events linked per second by the processing use case, in this process, in
    jobs as a worker runs them (geo enrichment from a real .mmdb), with the Merkle tree
    appended in each chunk's transaction and checkpoints signed as a worker signs them
    (by the chunk's transaction when one is due, and by a sweep every second) - against
    the same processing with the chain alone (``link`` instead of ``link_with_leaves``,
    no tree, no signing). Two
    workspaces of ``--events`` each, in alternating rounds, so drift cancels out;
  * proofs: inclusion proofs of random events of the 1,000,000-leaf tree and consistency
    proofs from random sizes, p50/p99, through the use case and through the whole HTTP
    app (authentication, rate limit, JSON); beside the raw limit: one primary-key read of
    a tile by psycopg;
  * storage: the tree's bytes per event (heap, TOAST and index of ``tree_tiles``), as the
    processing left them and after VACUUM, and the checkpoints' bytes;
  * offline verification: an unfiltered NDJSON export of the 1,000,000 events, verified by
    ``auditrail verify FILE`` (the chain alone) and with ``--evidence`` and
    ``--verifier-key`` (also rebuilding the signed root), each in a fresh process: seconds
    and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from unittest import mock

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from cpu import in_fresh_process, peak_rss_kb  # noqa: E402
from scratch import add_server_options, bench_container, scratch_database  # noqa: E402
from tests.geo_db import build_city_database  # noqa: E402
from tests.queues import forget_queue  # noqa: E402

from application.use_cases import process_pending_events  # noqa: E402
from domain.hash_chain import link  # noqa: E402
from entrypoints.http.app import create_app  # noqa: E402
from entrypoints.worker.jobs import MAX_CHUNKS_PER_JOB  # noqa: E402

SIDES = ("chain + tree + checkpoints", "chain alone")
PROOFS = 1_000


def events(count: int, rng: random.Random) -> list[dict]:
    return [{"action": rng.choice(["user.login", "document.update", "admin.user.delete"]),
             "actor": {"id": f"usr_{rng.randrange(10_000)}", "type": "user",
                       "name": f"User {rng.randrange(10_000)}"},
             "targets": [{"id": f"doc_{rng.randrange(50_000)}", "type": "document"}],
             "context": {"ip_address": f"81.2.69.{rng.randrange(256)}",
                         "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"},
             "metadata": {"request": f"req_{rng.randrange(10**9)}"}}
            for _ in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_options(parser)
    parser.add_argument("--events", type=int, default=1_000_000, help="events per side")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        print(json.dumps(offline(*options.child)))
        return
    tmp = Path(tempfile.mkdtemp(prefix="auditrail-bench-"))
    geo = build_city_database(tmp / "City.mmdb")
    with ExitStack() as stack:  # a database a side: a sweep sees its own side's log only
        containers = {side: stack.enter_context(scratch(options, geo, tmp / str(n)))
                      for n, side in enumerate(SIDES)}
        container, dsn = containers[SIDES[0]]
        print(f"machine: {os.cpu_count()} cores; {options.events:,} events a side in "
              f"{options.rounds} rounds; database {dsn.rsplit('/', 1)[1]}\n", flush=True)
        workspace_id, key = processing(containers, options)
        proofs(container, dsn, workspace_id, key)
        storage(dsn, workspace_id, options.events)
        verification(container, workspace_id, key, tmp)
    shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def scratch(options: argparse.Namespace, geo: Path, data_dir: Path
            ) -> Iterator[tuple[object, str]]:
    """A container on a new, migrated database (dropped afterwards), and its DSN."""
    throwaway = argparse.Namespace(postgres=options.postgres, reuse=None, keep=False)
    with scratch_database(throwaway, "auditrail_tlog") as dsn:
        container = bench_container(
            dsn, data_dir, redis_url=options.redis,
            queue_name=f"auditrail-bench-{uuid.uuid4().hex[:8]}", geoip_db=str(geo))
        try:
            container.upgrade_database()
            yield container, dsn
        finally:
            for queue in container.job_queue().queues:
                forget_queue(queue)
            container.engine().dispose()


# -- processing ------------------------------------------------------------------------------

def processing(containers: dict, options: argparse.Namespace) -> tuple[str, str]:
    """Rates of the two sides, round by round; the tree side's workspace and admin key."""
    made = {side: containers[side][0].create_workspace().execute(
        side, plan="enterprise", rate_limit=1_000_000) for side in SIDES}
    rng = random.Random(1)
    per_round = options.events // options.rounds
    rates: dict[str, list[float]] = {side: [] for side in SIDES}
    for number in range(options.rounds):
        for side in SIDES if number % 2 else SIDES[::-1]:
            container, workspace = containers[side][0], made[side][0]
            ingest = container.ingest_events()
            for start in range(0, per_round, 1000):
                ingest.execute(workspace.id, events(min(1000, per_round - start), rng),
                               batch=True)
            container.job_queue().flush()
            started = time.perf_counter()
            with (chain_alone() if side == SIDES[1] else signing(container, workspace.id)):
                linked = drain(container, workspace.id, sign=side == SIDES[0])
            rates[side].append(linked / (time.perf_counter() - started))
        print(f"round {number + 1}: " + ", ".join(
            f"{side} {rates[side][-1]:,.0f}/s" for side in SIDES), flush=True)
    ratios = [tree / alone for tree, alone in zip(*rates.values(), strict=True)]
    base = statistics.median(rates[SIDES[1]])
    print(f"\n{'processing':<28} {'events/s':>10} {'of the chain alone':>19}")
    for side in SIDES:
        median = statistics.median(rates[side])
        print(f"{side:<28} {median:>10,.0f} {100 * median / base:>18.1f}%")
    print(f"  (round by round: {', '.join(f'{100 * r:.0f}' for r in ratios)} %; "
          f"target >= 85 %)\n", flush=True)
    workspace, admin = made[SIDES[0]]
    return workspace.id, admin.secret


def drain(container, workspace_id: str, *, sign: bool) -> int:  # type: ignore[no-untyped-def]
    """As ``entrypoints.worker.jobs.process_workspace`` runs: bounded jobs, whose chunks
    sign a checkpoint when one is due (``sign``) or not at all (the chain alone)."""
    use_case = container.process_pending_events(
        chunk_handlers=[container.alert_evaluation(), container.stream_fanout()]
        + ([container.transparency_log().sign_linked] if sign else []))
    linked = 0
    while True:
        outcome = use_case.execute(workspace_id, max_chunks=MAX_CHUNKS_PER_JOB)
        linked += outcome.linked
        if outcome.drained:
            return linked


@contextmanager
def chain_alone() -> Iterator[None]:
    """The processing step as it was before the tree: ``link``, and no leaves."""
    def without_leaves(head, located):  # type: ignore[no-untyped-def]
        linked, new_head = link(head, located)
        return linked, new_head, []

    with mock.patch.object(process_pending_events, "link_with_leaves", without_leaves):
        yield


@contextmanager
def signing(container, workspace_id: str) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """A worker's scheduler thread: a sweep every second beside the processing; at the end
    the checkpoint that covers the round, as the next sweep would sign it."""
    stop = threading.Event()
    log = container.transparency_log()

    def sweep() -> None:
        while not stop.wait(1.0):
            log.sweep()

    thread = threading.Thread(target=sweep, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        log.sign(workspace_id)


# -- proofs ----------------------------------------------------------------------------------

def proofs(container, dsn: str, workspace_id: str, key: str) -> None:  # type: ignore[no-untyped-def]
    """p50/p99 of a proof at random positions, by the use case and over HTTP."""
    reader, client = container.log_reader(), create_app(container).test_client()
    headers = {"Authorization": f"Bearer {key}"}
    rng = random.Random(3)
    with psycopg.connect(dsn, autocommit=True) as connection:
        size = connection.execute("SELECT max(tree_size) FROM checkpoints WHERE "
                                  "workspace_id = %s", (workspace_id,)).fetchone()[0]
        ids = [connection.execute("SELECT id FROM events WHERE workspace_id = %s AND "
                                  "sequence = %s", (workspace_id, rng.randrange(1, size + 1))
                                  ).fetchone()[0] for _ in range(PROOFS)]
        tiles = connection.execute("SELECT level, tile FROM tree_tiles WHERE "
                                   "workspace_id = %s", (workspace_id,)).fetchall()
        raw = timings(lambda n: connection.execute(
            "SELECT hashes FROM tree_tiles WHERE workspace_id = %s AND level = %s AND "
            "tile = %s", (workspace_id, *tiles[n % len(tiles)])).fetchone())
    olds = [rng.randrange(0, size + 1) for _ in range(PROOFS)]

    def over_http(path: str) -> Callable[[int], object]:
        def get(n: int) -> object:
            response = client.get(path.format(id=ids[n], old=olds[n]), headers=headers)
            assert response.status_code == 200, response.data[:300]
            return response
        return get

    rows = [
        ("limit  one tile by primary key (psycopg)", raw),
        ("inclusion proof  use case", timings(lambda n: reader.inclusion(workspace_id,
                                                                          ids[n]))),
        ("inclusion proof  GET /events/{id}/proof",
         timings(over_http("/api/v1/events/{id}/proof"))),
        ("consistency proof  use case", timings(lambda n: reader.consistency(workspace_id,
                                                                              olds[n]))),
        ("consistency proof  GET /log/consistency",
         timings(over_http("/api/v1/log/consistency?from_size={old}"))),
    ]
    print(f"{f'proofs in a tree of {size:,} leaves':<44} {'p50':>8} {'p99':>8}")
    for label, (p50, p99) in rows:
        print(f"{label:<44} {p50:>6.2f}ms {p99:>6.2f}ms")
    print("  (target: p50 < 10 ms at any position)\n", flush=True)


def timings(call: Callable[[int], object]) -> tuple[float, float]:
    """p50 and p99 in milliseconds of ``call(n)`` for n below PROOFS (after a warm-up)."""
    for n in range(20):
        call(n)
    spent = []
    for n in range(PROOFS):
        started = time.perf_counter()
        call(n)
        spent.append((time.perf_counter() - started) * 1000)
    percentiles = statistics.quantiles(spent, n=100)
    return percentiles[49], percentiles[98]


# -- storage ---------------------------------------------------------------------------------

def storage(dsn: str, workspace_id: str, leaves: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as connection:
        def sizes() -> tuple[int, int]:
            return connection.execute(
                "SELECT pg_total_relation_size('tree_tiles'), "
                "pg_total_relation_size('checkpoints')").fetchone()

        left, checkpoints = sizes()
        connection.execute("VACUUM (ANALYZE) tree_tiles")
        vacuumed, _ = sizes()
        count = connection.execute("SELECT count(*) FROM checkpoints WHERE "
                                   "workspace_id = %s", (workspace_id,)).fetchone()[0]
    print(f"{'storage':<44} {'bytes':>12} {'per event':>10}")
    for label, size in (("tree_tiles as processing left it", left),
                        ("tree_tiles after VACUUM", vacuumed),
                        (f"checkpoints ({count} signed)", checkpoints)):
        print(f"{label:<44} {size:>12,} {size / leaves:>9.1f}B")
    print("  (target: the tree <= 100 bytes an event; the raw hashes are 32)\n", flush=True)


# -- offline verification --------------------------------------------------------------------

def verification(container, workspace_id: str, key: str, tmp: Path) -> None:  # type: ignore[no-untyped-def]
    """Export everything (NDJSON, as the API does), then verify it offline both ways."""
    client = create_app(container).test_client()
    headers = {"Authorization": f"Bearer {key}"}
    export = client.post("/api/v1/exports", headers=headers,
                         json={"format": "ndjson", "filters": {}}).json
    container.run_export().execute(export["id"])
    location = client.get(f"/api/v1/exports/{export['id']}/download",
                          headers=headers).headers["Location"]
    file, evidence_file = tmp / "export.ndjson", tmp / "evidence.json"
    response = client.get(location, buffered=False)
    with file.open("wb") as out:
        for chunk in response.response:
            out.write(chunk)
    evidence = client.get(f"/api/v1/exports/{export['id']}/evidence", headers=headers)
    evidence_file.write_bytes(evidence.data)
    vkey = client.get("/api/v1/log/key", headers=headers).json["verifier_key"]
    rows = json.loads(evidence.data)["row_count"]
    chain = in_fresh_process(__file__, str(file))
    proved = in_fresh_process(__file__, str(file), str(evidence_file), vkey)
    print(f"{f'offline verification of {rows:,} rows':<44} {'seconds':>8} {'rows/s':>9} "
          f"{'of chain':>9} {'peak RSS':>9}")
    for label, result in (("auditrail verify FILE (the chain alone)", chain),
                          ("  ... --evidence --verifier-key", proved)):
        print(f"{label:<44} {result['seconds']:>8.1f} {rows / result['seconds']:>9,.0f} "
              f"{100 * chain['seconds'] / result['seconds']:>8.1f}% "
              f"{result['max_rss_kb'] / 1024:>5.0f} MiB")
    print(f"  (file {file.stat().st_size / 2**20:,.0f} MiB; target: with evidence >= 80 % "
          f"of the chain alone's rate, flat memory)", flush=True)
    if not (chain["exit_code"] == proved["exit_code"] == 0):
        raise SystemExit(f"the export did not verify: {chain} {proved}")


def offline(file: str, evidence: str | None = None, verifier_key: str | None = None) -> dict:
    """``auditrail verify`` in this fresh process: its seconds, exit code and peak RSS."""
    from click.testing import CliRunner

    from entrypoints.cli import main as cli
    arguments = ["verify", file]
    if evidence:
        arguments += ["--evidence", evidence, "--verifier-key", verifier_key or ""]
    started = time.perf_counter()
    result = CliRunner().invoke(cli, arguments)
    return {"seconds": time.perf_counter() - started, "exit_code": result.exit_code,
            "output": result.output[-300:], "max_rss_kb": peak_rss_kb()}


if __name__ == "__main__":
    main()
