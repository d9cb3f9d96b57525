"""Scheduled chain checks on PostgreSQL: what they cost upkeep, a check, and processing.

    .venv/bin/python bench/chain_checks.py [--events 100000] [--workspaces 20000]

  * upkeep's share: ``ScheduleChainChecks`` with ``--workspaces`` chains all checked
    recently (nothing due, nearly every run in production), p50 and p99 over 200 runs,
    beside the raw floor of one index-only count of the same chain heads;
  * one check of a workspace of ``--events`` events loaded through ingest and processing:
    ``CheckChain`` (claim, verify, keep the outcome) beside ``VerifyChain`` alone, which
    is what ``GET /events/verify`` runs;
  * what a check costs the others: a second workspace's events processed alone, then
    while another process checks the big chain over and over (as a worker's check job
    would, in a process of its own).
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from deletion import loaded  # noqa: E402
from ingest import EVENT  # noqa: E402
from scratch import add_server_options, bench_container, scratch_database  # noqa: E402

BATCH = 1_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_options(parser, redis=False)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--workspaces", type=int, default=20_000)
    parser.set_defaults(keep=False, reuse=None)
    options = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="auditrail-bench-"))
    with scratch_database(options, "auditrail_chain_checks") as dsn:
        container = bench_container(dsn, tmp)
        try:
            container.upgrade_database()
            run(container, dsn, tmp, options.events, options.workspaces)
        finally:
            container.engine().dispose()
            shutil.rmtree(tmp, ignore_errors=True)


def run(container, dsn: str, tmp: Path, events: int, workspaces: int) -> None:  # type: ignore[no-untyped-def]
    many_chains(dsn, workspaces)
    schedule = container.schedule_chain_checks()
    schedule.execute()  # the rows of every chain, as the first run after the upgrade adds
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("UPDATE chain_checks SET checked_at = now(), claimed_until = NULL")
        connection.execute("VACUUM (ANALYZE)")
        upkeep = timings(lambda: schedule.execute(), 200)
        floor = timings(lambda: connection.execute(
            "SELECT count(*) FROM chain_heads").fetchone(), 200)
    print(f"upkeep with {workspaces:,} chains, none due: p50 {ms(upkeep, 50)} ms, "
          f"p99 {ms(upkeep, 99)} ms (every 15 s a worker)")
    print(f"  limit: one count of the chain heads: p50 {ms(floor, 50)} ms, "
          f"p99 {ms(floor, 99)} ms\n")

    began = time.perf_counter()
    big = loaded(container, "big", events)
    bystander = loaded(container, "bystander", 0)
    print(f"loaded {events:,} events in {time.perf_counter() - began:.0f} s")
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE)")
    verify = [timed(lambda: container.verify_chain().execute(big)) for _ in range(3)]
    check = [timed(lambda: container.check_chain().execute(big)) for _ in range(3)]
    kept = container.check_chain().execute(big)
    assert kept is not None and kept.valid and kept.checked == events, kept
    print(f"one check of {events:,} events: {min(check):.2f} s ({events / min(check):,.0f} "
          f"events/s); GET /events/verify's use case alone {min(verify):.2f} s "
          f"({events / min(verify):,.0f}/s): {min(verify) / min(check):.0%}\n")

    alone = processing_rate(container, bystander, 20_000)
    spawn = multiprocessing.get_context("spawn")
    stop = spawn.Event()
    checker = spawn.Process(
        target=check_forever, args=(dsn, str(tmp), big, stop))
    checker.start()
    time.sleep(2)  # its imports and first connection
    beside = processing_rate(container, bystander, 20_000)
    stop.set()
    checker.join()
    print(f"another workspace's processing: {alone:,.0f} events/s alone, {beside:,.0f} "
          f"while a check ran in another process: {beside / alone:.0%}")


def many_chains(dsn: str, count: int) -> None:
    """Workspaces with a chain head each, as ``workspaces create`` leaves them, written in
    one COPY a table (their creation is not what is measured)."""
    with psycopg.connect(dsn) as connection, connection.cursor() as cursor:
        with cursor.copy("COPY workspaces (id, name, plan, ip_allowlist, created_at) "
                         "FROM STDIN") as copy:
            for n in range(count):
                copy.write_row((f"ws_bench{n:08d}", f"tenant {n}", "free", "[]",
                                "2026-12-06T00:00:00Z"))
        with cursor.copy("COPY chain_heads (workspace_id, sequence, hash) FROM STDIN") as copy:
            for n in range(count):
                copy.write_row((f"ws_bench{n:08d}", 0, "0" * 64))


def processing_rate(container, workspace_id: str, count: int) -> float:  # type: ignore[no-untyped-def]
    ingest, process = container.ingest_events(), container.process_pending_events()
    for _ in range(count // BATCH):
        ingest.execute(workspace_id, [dict(EVENT) for _ in range(BATCH)], batch=True)
    started = time.perf_counter()
    while not process.execute(workspace_id).drained:
        pass
    return count / (time.perf_counter() - started)


def check_forever(dsn: str, data_dir: str, workspace_id: str, stop) -> None:  # type: ignore[no-untyped-def]
    container = bench_container(dsn, Path(data_dir))
    while not stop.is_set():
        container.check_chain().execute(workspace_id)


def timings(call, runs: int) -> list[float]:  # type: ignore[no-untyped-def]
    return [timed(call) for _ in range(runs)]


def timed(call) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def ms(samples: list[float], percentile: int) -> str:
    return f"{statistics.quantiles(samples, n=100)[percentile - 1] * 1000:.2f}"


if __name__ == "__main__":
    main()
