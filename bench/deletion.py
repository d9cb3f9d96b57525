"""Deleting a workspace on PostgreSQL, beside the raw database doing the same.

    .venv/bin/python bench/deletion.py [--events 200000]

Loads three workspaces of ``--events`` events each through the service's own use cases
(ingest, then processing: chain, search terms, Merkle tree, checkpoints), plus a
bystander of 10,000 that must come out whole. Then:
  * ``auditrail workspaces delete``'s use case removes the first: keys revoked, then every
    table in 5,000-row chunks, a transaction each, under the chain lock;
  * the limit: the second removed by one plain ``DELETE … WHERE workspace_id = …`` a
    table, all in one transaction (what an operator's hand-written SQL would do, holding
    its locks until the end);
  * the third by the use case again, while a thread keeps ingesting into the bystander,
    to show what the deletion costs the others: their ingest rate beside it and alone.
Prints rows/s for each and the ratio, and checks the bystander's chain.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from ingest import EVENT  # noqa: E402
from scratch import add_server_options, bench_container, scratch_database  # noqa: E402

from adapters.sql import erasure  # noqa: E402

BATCH = 1_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_options(parser, redis=False)
    parser.add_argument("--events", type=int, default=200_000, help="in each workspace")
    parser.set_defaults(keep=False, reuse=None)  # it deletes what it loads: nothing to keep
    options = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="auditrail-bench-"))
    with scratch_database(options, "auditrail_deletion") as dsn:
        container = bench_container(dsn, tmp)
        try:
            container.upgrade_database()
            run(container, dsn, options.events)
        finally:
            container.engine().dispose()
            shutil.rmtree(tmp, ignore_errors=True)


def run(container, dsn: str, count: int) -> None:  # type: ignore[no-untyped-def]
    began = time.perf_counter()
    doomed = [loaded(container, f"doomed {n}", count) for n in range(3)]
    bystander = loaded(container, "bystander", 10_000)
    print(f"loaded 3 x {count:,} events (+10,000) in {time.perf_counter() - began:.0f} s",
          flush=True)
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE)")  # as autovacuum soon would
        rows = [rows_of(connection, workspace_id) for workspace_id in doomed]
        print(f"each workspace: {rows[0]:,} rows\n")

        started = time.perf_counter()
        removed = container.delete_workspace().execute(doomed[0])
        service = time.perf_counter() - started
        # one more than counted: the row that marks its chain checks retired, added first
        assert removed == rows[0] + 1 and rows_of(connection, doomed[0]) == 0

        started = time.perf_counter()
        with connection.transaction():
            for table in (*erasure._IN_ORDER, "workspaces"):
                name = getattr(table, "name", table)
                column = "id" if name == "workspaces" else "workspace_id"
                connection.execute(f"DELETE FROM {name} WHERE {column} = %s",
                                   (doomed[1],))
        raw = time.perf_counter() - started
        assert rows_of(connection, doomed[1]) == 0

        alone = ingest_rate(container, bystander, seconds=10)
        stop = threading.Event()
        beside: list[float] = []
        thread = threading.Thread(target=lambda: beside.append(
            ingest_rate(container, bystander, stop=stop)))
        thread.start()
        started = time.perf_counter()
        container.delete_workspace().execute(doomed[2])
        during = time.perf_counter() - started
        stop.set()
        thread.join()

    print(f"{'auditrail workspaces delete':<34} {service:7.1f} s  {rows[0] / service:9,.0f} "
          f"rows/s")
    print(f"{'limit: one DELETE a table, 1 txn':<34} {raw:7.1f} s  {rows[1] / raw:9,.0f} "
          f"rows/s")
    print(f"{'(auditrail / limit)':<34} {raw / service:7.1%}")
    print(f"\nanother workspace ingesting 1,000-event batches: {alone:,.0f} events/s alone, "
          f"{beside[0]:,.0f} while a deletion ran ({during:.1f} s): "
          f"{beside[0] / alone:.0%}")
    container.process_pending_events().execute(bystander)
    report = container.verify_chain().execute(bystander)
    assert report.valid, report
    print(f"the bystander's chain: valid, {report.checked:,} events")


def loaded(container, name: str, count: int,  # type: ignore[no-untyped-def]
           event: dict = EVENT) -> str:
    """A workspace kept forever (enterprise) holding ``count`` copies of ``event``, linked
    and signed."""
    workspace, _ = container.create_workspace().execute(name, "enterprise", 1_000_000)
    ingest, process = container.ingest_events(), container.process_pending_events()
    for start in range(0, count, BATCH):
        ingest.execute(workspace.id, [dict(event) for _ in range(min(BATCH, count - start))],
                       batch=True)
        if (start // BATCH) % 20 == 19:
            process.execute(workspace.id)
    while not process.execute(workspace.id).drained:
        pass
    container.transparency_log().sign(workspace.id)
    return workspace.id


def rows_of(connection: psycopg.Connection, workspace_id: str) -> int:
    total = sum(connection.execute(
        f"SELECT count(*) FROM {table.name} WHERE workspace_id = %s",
        (workspace_id,)).fetchone()[0] for table in erasure._IN_ORDER)
    return total + connection.execute("SELECT count(*) FROM workspaces WHERE id = %s",
                                      (workspace_id,)).fetchone()[0]


def ingest_rate(container, workspace_id: str, seconds: float | None = None,  # type: ignore[no-untyped-def]
                stop: threading.Event | None = None) -> float:
    ingest = container.ingest_events()
    sent, started = 0, time.perf_counter()
    while not (stop.is_set() if stop else time.perf_counter() - started > seconds):
        ingest.execute(workspace_id, [dict(EVENT) for _ in range(BATCH)], batch=True)
        sent += BATCH
    return sent / (time.perf_counter() - started)


if __name__ == "__main__":
    main()
