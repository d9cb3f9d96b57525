"""Export throughput and memory at 1,000,000 events, beside a raw server-side cursor read.

    .venv/bin/python bench/export.py [--events 1000000] [--reuse DATABASE]

Loads events as ``bench/query.py`` does (or reuses a database it kept with ``--keep``),
then, each in a fresh process so its peak RSS is its own:
  * reads the same rows with a plain psycopg server-side cursor (the raw limit);
  * runs the ``RunExport`` use case for NDJSON and for CSV, streaming into the file store
    (at this size PostgreSQL renders each in two halves at once, on two connections).
Prints rows/s, the ratio to the raw read, and the peak RSS of each process.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from cpu import in_fresh_process, peak_rss_kb  # noqa: E402
from scratch import add_database_options, scratch_database  # noqa: E402

TARGET = "ws_bench0000000000000000000000"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_database_options(parser)
    parser.add_argument("--child", nargs=3, metavar=("KIND", "DSN", "DATA_DIR"),
                        help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        print(json.dumps(child(*options.child)))
        return
    with scratch_database(options, "auditrail_export") as dsn:
        if not options.reuse:
            from query import load

            from adapters.sql.engine import build_engine
            from adapters.sql.migrate import upgrade
            upgrade(build_engine(dsn.replace("postgresql://", "postgresql+psycopg://")))
            began = time.perf_counter()
            load(dsn, TARGET, options.events, 10)
            print(f"loaded {2 * options.events:,} events in {time.perf_counter() - began:.0f} s "
                  f"into {dsn.rsplit('/', 1)[1]}")
        measure(dsn)


def measure(dsn: str) -> None:
    with tempfile.TemporaryDirectory(prefix="auditrail-export-bench-") as data_dir:
        # the files of a 1,000,000-event run take hundreds of MiB: not left behind
        results = {kind: in_fresh_process(__file__, kind, dsn, data_dir)
                   for kind in ("raw", "ndjson", "csv")}
    raw = results["raw"]["rows_per_second"]
    print(f"\n{'':<32} {'rows':>10} {'rows/s':>10} {'vs raw':>8} {'peak RSS':>10} {'file':>10}")
    for kind, label in (("raw", "raw server-side cursor read"), ("ndjson", "export NDJSON"),
                        ("csv", "export CSV")):
        result = results[kind]
        size = f"{result['size_bytes'] / 2**20:,.0f} MiB" if result.get("size_bytes") else "-"
        print(f"{label:<32} {result['rows']:>10,} {result['rows_per_second']:>10,.0f} "
              f"{100 * result['rows_per_second'] / raw:>7.0f}% "
              f"{result['max_rss_kb'] / 1024:>7.0f} MiB {size:>10}")


def child(kind: str, dsn: str, data_dir: str) -> dict:
    result = raw_read(dsn) if kind == "raw" else export(kind, dsn, data_dir)
    result["max_rss_kb"] = peak_rss_kb()
    return result


def raw_read(dsn: str) -> dict:
    rows = 0
    started = time.perf_counter()
    with psycopg.connect(dsn) as connection, connection.cursor(name="raw") as cursor:
        cursor.itersize = 2_000
        cursor.execute("SELECT * FROM events WHERE workspace_id = %s AND status = 'processed' "
                       "ORDER BY sequence", (TARGET,))
        for _ in cursor:
            rows += 1
    return {"rows": rows, "rows_per_second": rows / (time.perf_counter() - started)}


def export(format_: str, dsn: str, data_dir: str) -> dict:
    from entrypoints.container.installation import build_container
    from entrypoints.settings import Settings
    container = build_container(Settings(
        database_url=dsn.replace("postgresql://", "postgresql+psycopg://"),
        data_dir=Path(data_dir), secret_key="bench-secret-key-0123456789abcdef"))
    with container.uow() as uow:  # queue it without a job queue: this process runs it
        from domain.exports import Export
        export = Export(id=f"exp_bench{uuid.uuid4().hex[:16]}", workspace_id=TARGET,
                        format=format_, created_at=container.clock().now())
        uow.exports.add(export)
        uow.commit()
    started = time.perf_counter()
    done = container.run_export().execute(export.id)
    elapsed = time.perf_counter() - started
    assert done is not None and done.status == "completed", done
    return {"rows": done.row_count, "rows_per_second": done.row_count / elapsed,
            "size_bytes": done.size_bytes}


if __name__ == "__main__":
    main()
