"""Retention on PostgreSQL: expired events removed with their alerts, beside the raw
database doing the same, and migration 0027 on a database of a million alerts.

    .venv/bin/python bench/retention.py [--events 200000] [--alerts 1000000]

Loads three workspaces of ``--events`` events each, all occurred 60 days ago, through the
service's own use cases (ingest, then processing: chain, search terms, Merkle tree,
checkpoints). The first and the third also hold an alert for each event, the most a rule
can raise (one without a threshold matching every action), notified (written straight to
the table, as `delivered`). Each workspace is given 30 days' retention in turn, then:
  * upkeep's retention (``ApplyRetention``: 5,000 events a chunk, a transaction each under
    the chain lock, its anchor signed) removes the first, and its alerts with them;
  * the same removes the second, which has no alert: what removing alerts costs;
  * the limit: the third's rows removed by plain ``DELETE``s, a statement a table, in one
    transaction (what hand-written SQL would do, holding its locks to the end).
Then a second database at revision 0026 receives ``--alerts`` alerts in one workspace,
half of them behind its retention anchor, and ``auditrail db upgrade``'s migration to 0027
is timed: the index built, and the alerts retention left without events removed.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from deletion import loaded  # noqa: E402
from ingest import EVENT  # noqa: E402
from scratch import add_server_options, bench_container, scratch_database  # noqa: E402

from adapters.sql.engine import build_engine  # noqa: E402
from adapters.sql.migrate import upgrade  # noqa: E402
from domain.timestamps import format_timestamp  # noqa: E402

OCCURRED = format_timestamp(datetime.now(UTC) - timedelta(days=60))
ALERT_PER_EVENT = """
    INSERT INTO alerts (id, workspace_id, rule_id, group_key, event_ids, first_sequence,
                        trigger_sequence, rule, triggered_at, status, attempts)
    SELECT 'alt_' || id, workspace_id, 'alr_bench', 'actor_id:' || actor_id,
           json_build_array(id), sequence, sequence, '{}', received_at, 'delivered', 1
    FROM events WHERE workspace_id = %s"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_options(parser, redis=False)
    parser.add_argument("--events", type=int, default=200_000, help="in each workspace")
    parser.add_argument("--alerts", type=int, default=1_000_000,
                        help="in the database migrated to 0027")
    parser.set_defaults(keep=False, reuse=None)  # it removes what it loads: nothing to keep
    options = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="auditrail-bench-"))
    with scratch_database(options, "auditrail_retention") as dsn:
        container = bench_container(dsn, tmp)
        try:
            container.upgrade_database()
            retention(container, dsn, options.events)
        finally:
            container.engine().dispose()
            shutil.rmtree(tmp, ignore_errors=True)
    with scratch_database(options, "auditrail_migration") as dsn:
        migration(dsn, options.alerts)


def retention(container, dsn: str, count: int) -> None:  # type: ignore[no-untyped-def]
    began = time.perf_counter()
    event = {**EVENT, "occurred_at": OCCURRED}
    alerted, plain, raw = (loaded(container, name, count, event)
                           for name in ("with alerts", "without", "raw"))
    with psycopg.connect(dsn, autocommit=True) as connection:
        for workspace_id in (alerted, raw):
            connection.execute(ALERT_PER_EVENT, (workspace_id,))
        print(f"loaded 3 x {count:,} events and 2 x {count:,} alerts in "
              f"{time.perf_counter() - began:.0f} s", flush=True)
        connection.execute("VACUUM (ANALYZE)")  # as autovacuum soon would

        timings = {}
        for workspace_id in (alerted, plain):
            connection.execute("UPDATE workspaces SET retention_days = 30 WHERE id = %s",
                               (workspace_id,))
            started, removed = time.perf_counter(), 0
            while done := container.apply_retention().execute():
                removed += done
            timings[workspace_id] = time.perf_counter() - started
            assert removed == count, removed
        left = connection.execute("SELECT count(*) FROM alerts WHERE workspace_id = %s",
                                  (alerted,)).fetchone()[0]
        assert left == 0, left

        started = time.perf_counter()
        with connection.transaction():
            for table in ("alerts", "event_terms", "events"):
                connection.execute(f"DELETE FROM {table} WHERE workspace_id = %s", (raw,))
        limit = time.perf_counter() - started

    def line(label: str, seconds: float) -> None:
        print(f"{label:<46} {seconds:6.1f} s  {count / seconds:9,.0f} events/s")

    print()
    line("retention, an alert per event", timings[alerted])
    line("retention, no alert", timings[plain])
    line("limit: one DELETE a table, 1 txn (alerts too)", limit)
    print(f"{'(alerts / none; with alerts / limit)':<46} "
          f"{timings[plain] / timings[alerted]:7.1%}  {limit / timings[alerted]:7.1%}")


def migration(dsn: str, count: int) -> None:
    engine = build_engine(dsn.replace("postgresql://", "postgresql+psycopg://"))
    try:
        upgrade(engine, "0026")
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute("INSERT INTO workspaces (id, name, plan, ip_allowlist, "
                               "created_at) VALUES ('ws_bench', 'bench', 'pro', '[]', now())")
            connection.execute(
                "INSERT INTO chain_heads (workspace_id, sequence, hash, anchor_sequence, "
                "anchor_hash) VALUES ('ws_bench', %s, %s, %s, %s)",
                (count, "0" * 64, count // 2, "0" * 64))
            connection.execute(
                "INSERT INTO alerts (id, workspace_id, rule_id, group_key, event_ids, "
                "first_sequence, trigger_sequence, rule, triggered_at, status, attempts) "
                "SELECT 'alt_' || n, 'ws_bench', 'alr_bench', 'actor_id:usr_' || n %% 1000, "
                "json_build_array('evt_' || n), n, n, '{}', now(), 'delivered', 1 "
                "FROM generate_series(1, %s) AS n", (count,))
            connection.execute("VACUUM (ANALYZE) alerts")
            started = time.perf_counter()
            upgrade(engine)
            took = time.perf_counter() - started
            left = connection.execute("SELECT count(*) FROM alerts").fetchone()[0]
        assert left == count - count // 2, left
        print(f"\nmigration 0027 on {count:,} alerts, {count // 2:,} of them behind the "
              f"anchor: {took:.1f} s (the index built, {count - left:,} removed)")
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
