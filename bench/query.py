"""Search latency at scale on PostgreSQL: 1,000,000 events in one workspace (+1,000,000
spread over 100 others).

    .venv/bin/python bench/query.py [--events 1000000] [--runs 50]

Loads the events with COPY (indexes built afterwards), then times, in-process, the
``SearchEvents`` use case the API calls (page query + exact total_count, one snapshot) for:
page 1, a page 500,000 events deep, each filter alone, and ``metadata.<key>`` filters
(read from each event's JSON body, so alone they scan the workspace: a common value, a
value one event holds, and each narrowed by another filter). "first" is the first ask in a
process (the full count over the filter's index range); p50/p99 are repeated asks, as when
paging (the count is then incremental); "page" is the page query alone. EXPLAIN checks
that each page is an index range scan (no sequential scan, no sort). Then
``GET /events/stats``'s use case for several groupings and filters, beside a plain count
of the same rows, and what a metadata filter's scan is made of, in raw SQL.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from scratch import add_database_options, scratch_database  # noqa: E402

from adapters.sql.engine import build_engine  # noqa: E402
from adapters.sql.migrate import upgrade  # noqa: E402
from adapters.sql.search import count_query, search_query  # noqa: E402
from application.errors import QueryTimedOut  # noqa: E402
from domain.cursor import DESC, Position, encode_cursor  # noqa: E402
from domain.event_search import EventFilters, action_filter, parse_filters  # noqa: E402
from domain.event_stats import DAY  # noqa: E402
from entrypoints.container.installation import build_container  # noqa: E402
from entrypoints.settings import Settings  # noqa: E402

ACTIONS = ["user.login", "user.logout", "user.login_failed", "user.password.reset",
           "admin.user.create", "admin.user.delete", "admin.role.grant", "doc.view",
           "doc.edit", "doc.share", "billing.invoice.paid", "api_key.create"]
PLANS = ["free", "pro", "team", "enterprise"]
COUNTRIES = ["GB", "US", "DE", "FR", "AU", "JP", "BR", "IN", "CA", "NL"]
EVENT_COLUMNS = ("id", "workspace_id", "status", "sequence", "action", "occurred_at",
                 "received_at", "actor_id", "actor_type", "ip_address", "country_code", "body",
                 "prev_hash", "hash")
START = datetime(2026, 1, 1, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_database_options(parser)
    parser.add_argument("--others", type=int, default=100)
    parser.add_argument("--runs", type=int, default=50)
    options = parser.parse_args()
    with scratch_database(options, "auditrail_query") as dsn:
        run(dsn, options)


def run(dsn: str, options: argparse.Namespace) -> None:
    url = dsn.replace("postgresql://", "postgresql+psycopg://")
    engine = build_engine(url)
    target = "ws_bench0000000000000000000000"
    if not options.reuse:
        upgrade(engine)
        began = time.perf_counter()
        load(dsn, target, options.events, options.others)
        print(f"loaded {2 * options.events:,} events in {time.perf_counter() - began:.0f} s "
              f"(COPY, indexes built afterwards); database {dsn.rsplit('/', 1)[1]}\n",
              flush=True)

    container = build_container(Settings(database_url=url))
    search = container.search_events()
    deep = deep_cursor(dsn, target, options.events // 2)
    cases: list[tuple[str, EventFilters, str | None]] = [
        ("page 1 (no filter)", EventFilters(), None),
        (f"page at {options.events // 2:,} deep", EventFilters(), deep),
        ("action=user.login", EventFilters(**action_filter("user.login")), None),
        ("action=admin.*", EventFilters(**action_filter("admin.*")), None),
        ("actor_id", EventFilters(actor_id="usr_42"), None),
        ("actor_type", EventFilters(actor_type="service"), None),
        ("target_id", EventFilters(target_id="doc_4242"), None),
        ("target_type", EventFilters(target_type="invoice"), None),
        ("ip_address", EventFilters(ip_address="81.2.69.42"), None),
        ("country_code", EventFilters(country_code="JP"), None),
        ("since (last 30 days)", EventFilters(since=START + timedelta(days=335)), None),
        ("until (first 30 days)", EventFilters(until=START + timedelta(days=30)), None),
        ("status=processed", EventFilters(status="processed"), None),
        ("action=user.* & country & since", EventFilters(
            **action_filter("user.*"), country_code="GB",
            since=START + timedelta(days=180)), None),
        ("metadata.plan=pro", parse_filters({"metadata.plan": "pro"}), None),
        ("metadata.n (one event)", parse_filters({"metadata.n": "424242"}), None),
        ("metadata.n & since (last 30 days)", parse_filters({
            "metadata.n": "424242", "since": "2026-12-02T00:00:00Z"}), None),
        ("actor_id & metadata.plan", parse_filters({
            "actor_id": "usr_42", "metadata.plan": "pro"}), None),
    ]
    print(f"{'limit 100, in-process SearchEvents':<36} {'first ms':>8} {'p50 ms':>8} "
          f"{'p99 ms':>8} {'page ms':>8} {'total':>9}  plan")
    for label, filters, cursor in cases:
        container.event_counter.reset()  # the first ask pays the full count
        started = time.perf_counter()
        search.execute(target, filters, order=DESC, limit=100, cursor=cursor)
        first = (time.perf_counter() - started) * 1000
        timings = []
        for _ in range(options.runs):
            started = time.perf_counter()
            page = search.execute(target, filters, order=DESC, limit=100, cursor=cursor)
            timings.append((time.perf_counter() - started) * 1000)
        page_ms = time_page(container, target, filters, cursor, options.runs)
        plan = plan_of(engine, target, filters, cursor)
        print(f"{label:<36} {first:>8.2f} {percentile(timings, 50):>8.2f} "
              f"{percentile(timings, 99):>8.2f} {page_ms:>8.2f} {page.total_count:>9,}  {plan}",
              flush=True)
    time_metadata_raw(dsn, target, options.runs)
    time_stats(container, engine, target, options.runs)
    time_limits(url, container, target, options.runs)


def time_metadata_raw(dsn: str, workspace: str, runs: int) -> None:
    """What a metadata filter alone is made of, in raw SQL over the workspace's rows: the
    rows read by the index with their bodies (``length``), each body parsed (``CAST``),
    and the containment test the filter uses; beside ``count(*)`` of the index alone."""
    where = "FROM events WHERE workspace_id = %s"
    cases = [("count(*) over the index", f"SELECT count(*) {where}"),
             ("every body read (sum of lengths)", f"SELECT sum(length(body)) {where}"),
             ("every body parsed (CAST AS JSONB)",
              f"SELECT count(CAST(body AS JSONB)) {where}"),
             ("the filter's test, one value",
              f"SELECT count(*) {where} AND CAST('[424242, \"424242\"]' AS JSONB) @> "
              f"jsonb_build_array(CAST(body AS JSONB) -> 'metadata' -> 'n')")]
    print(f"\n{'metadata, raw SQL over 1 workspace':<36} {'p50 ms':>8} {'µs/event':>9}")
    with psycopg.connect(dsn) as connection:
        events = connection.execute(f"SELECT count(*) {where}", (workspace,)).fetchone()[0]
        for label, sql in cases:
            timings = []
            for _ in range(max(3, runs // 10)):
                started = time.perf_counter()
                connection.execute(sql, (workspace,)).fetchone()
                timings.append((time.perf_counter() - started) * 1000)
            p50 = percentile(timings, 50)
            print(f"{label:<36} {p50:>8.1f} {p50 * 1000 / events:>9.2f}", flush=True)


def time_stats(container, engine, workspace: str, runs: int) -> None:  # type: ignore[no-untyped-def]
    """``GET /events/stats``'s use case, beside the plain count of the same rows (what
    ``total_count`` costs the first time): the aggregate's price over counting."""
    count = container.count_events()
    cases = [("action, no filter", "action", EventFilters()),
             ("actor_id (10,000 actors)", "actor_id", EventFilters()),
             ("day, last 30 days", DAY, EventFilters(since=START + timedelta(days=335))),
             ("country_code, action=user.*", "country_code",
              EventFilters(**action_filter("user.*"))),
             ("ip_address, target_type", "ip_address", EventFilters(target_type="invoice")),
             ("metadata.plan, no filter", "metadata.plan", EventFilters()),
             ("metadata.amount, last 30 days", "metadata.amount",
              EventFilters(since=START + timedelta(days=335)))]
    print(f"\n{'GET /events/stats, in-process':<36} {'p50 ms':>8} {'count ms':>8} "
          f"{'ratio':>6} {'total':>9}")
    for label, group_by, filters in cases:
        timings, counts = [], []
        for _ in range(max(3, runs // 10)):
            started = time.perf_counter()
            stats = count.execute(workspace, filters, group_by, 10)
            timings.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            with engine.connect() as connection:
                connection.execute(count_query(workspace, filters)).scalar_one()
            counts.append((time.perf_counter() - started) * 1000)
        p50, floor = percentile(timings, 50), percentile(counts, 50)
        print(f"{label:<36} {p50:>8.1f} {floor:>8.1f} {floor / p50:>6.0%} {stats.total:>9,}",
              flush=True)


def time_limits(url: str, container, workspace: str, runs: int) -> None:  # type: ignore[no-untyped-def]
    """AUDITRAIL_QUERY_TIMEOUT_SECONDS: what the limit costs a search that stays under it
    (its transaction and SET LOCAL), and how soon a stats over every event is stopped
    when the limit is below what it needs."""
    unlimited = build_container(Settings(database_url=url, query_timeout_seconds=0))
    print(f"\n{'time limit, in-process SearchEvents':<36} {'20 s p50':>8} {'none p50':>8} "
          f"{'cost':>6}")
    for label, filters in (("page 1 (no filter)", EventFilters()),
                           ("actor_id", EventFilters(actor_id="usr_42"))):
        timed = {}
        for name, source in (("limited", container), ("unlimited", unlimited)):
            search = source.search_events()
            search.execute(workspace, filters, order=DESC, limit=100)
            samples = []
            for _ in range(runs * 4):
                started = time.perf_counter()
                search.execute(workspace, filters, order=DESC, limit=100)
                samples.append((time.perf_counter() - started) * 1000)
            timed[name] = percentile(samples, 50)
        print(f"{label:<36} {timed['limited']:>8.2f} {timed['unlimited']:>8.2f} "
              f"{timed['limited'] - timed['unlimited']:>+6.2f}", flush=True)
    unlimited.engine().dispose()
    strict = build_container(Settings(database_url=url, query_timeout_seconds=0.05))
    started = time.perf_counter()
    try:
        strict.count_events().execute(workspace, EventFilters(), "actor_id", 10)
        outcome = "answered"
    except QueryTimedOut:
        outcome = "query_timeout"
    print(f"{'stats by actor_id, 50 ms limit':<36} {outcome} after "
          f"{(time.perf_counter() - started) * 1000:.0f} ms", flush=True)
    strict.engine().dispose()


def load(dsn: str, target: str, events: int, others: int) -> None:
    rng = random.Random(7)
    with psycopg.connect(dsn) as connection:
        indexes = connection.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN "
            "('events', 'event_terms') AND indexname NOT LIKE '%pkey' "
            "AND indexname <> 'pk_event_terms'").fetchall()
        for name, _ in indexes:
            connection.execute(f'DROP INDEX "{name}"')
        workspaces = [target] + [f"ws_other{n:022d}" for n in range(others)]
        with connection.cursor().copy("COPY workspaces (id, name, plan, ip_allowlist, "
                                      "created_at) FROM STDIN") as copy:
            for workspace in workspaces:
                copy.write_row((workspace, workspace, "enterprise", "[]", START))
        sequences = dict.fromkeys(workspaces, 0)
        for start in range(0, 2 * events, 100_000):  # events, then their terms, per chunk
            rows, terms = [], []
            for n in range(start, min(start + 100_000, 2 * events)):
                workspace = target if n < events else workspaces[1 + n % others]
                sequences[workspace] += 1
                row, event_terms = fake_event(rng, workspace, sequences[workspace], n, events)
                rows.append(row)
                terms += event_terms
            copy_rows(connection, "events", EVENT_COLUMNS, rows)
            copy_rows(connection, "event_terms",
                      ("workspace_id", "term", "occurred_at", "event_id"), terms)
        with connection.cursor().copy("COPY chain_heads (workspace_id, sequence, hash) "
                                      "FROM STDIN") as copy:
            for workspace, sequence in sequences.items():
                copy.write_row((workspace, sequence, "0" * 64))
        connection.commit()
        connection.autocommit = True
        for _, definition in indexes:
            connection.execute(definition)
        connection.execute("VACUUM (ANALYZE) events")
        connection.execute("VACUUM (ANALYZE) event_terms")


def copy_rows(connection: psycopg.Connection, table: str, columns: tuple[str, ...],
              rows: list[tuple]) -> None:
    with connection.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def fake_event(rng: random.Random, workspace: str, sequence: int, n: int,
               per_workspace: int) -> tuple[tuple, list[tuple]]:
    action = ACTIONS[rng.randrange(len(ACTIONS))]
    occurred = START + timedelta(seconds=(n % per_workspace) * 31_536_000 // per_workspace,
                                 microseconds=rng.randrange(1_000_000))
    actor_type = "service" if rng.random() < 0.05 else "user"
    actor = {"id": f"usr_{rng.randrange(10_000)}", "type": actor_type}
    targets = [{"id": f"doc_{rng.randrange(50_000)}", "type": rng.choice(
        ["document", "folder", "invoice", "project"])} for _ in range(rng.randrange(3))]
    ip = f"81.2.69.{rng.randrange(256)}"
    country = COUNTRIES[rng.randrange(len(COUNTRIES))]
    event_id = f"evt_{uuid.UUID(int=rng.getrandbits(128)).hex[:26]}"
    body = json.dumps({"actor": actor, "targets": targets, "context": {"ip_address": ip},
                       "metadata": {"n": n, "plan": PLANS[n % len(PLANS)],
                                    "amount": rng.randrange(10_000)}},
                      separators=(",", ":"))
    row = (event_id, workspace, "processed", sequence, action, occurred, occurred, actor["id"],
           actor_type, ip, country, body, "0" * 64, "0" * 64)
    segments = action.split(".")
    terms = {f"action:{'.'.join(segments[:k])}." for k in range(1, len(segments))}
    for target in targets:
        terms |= {f"target_id:{target['id']}", f"target_type:{target['type']}"}
    return row, [(workspace, term, occurred, event_id) for term in terms]


def deep_cursor(dsn: str, workspace: str, depth: int) -> str:
    """A cursor as the API would hand out after ``depth`` events (found once, with OFFSET)."""
    with psycopg.connect(dsn) as connection:
        at, event_id = connection.execute(
            "SELECT occurred_at, id FROM events WHERE workspace_id = %s "
            "ORDER BY occurred_at DESC, id DESC OFFSET %s LIMIT 1",
            (workspace, depth - 1)).fetchone()
    return encode_cursor(DESC, Position(at, event_id))


def time_page(container, workspace: str, filters: EventFilters, cursor: str | None,  # type: ignore[no-untyped-def]
              runs: int) -> float:
    """The page query alone (no total_count), p50."""
    from domain.cursor import decode_cursor
    after = decode_cursor(cursor, DESC) if cursor else None
    timings = []
    for _ in range(max(5, runs // 5)):
        with container.uow(snapshot=True) as uow:
            started = time.perf_counter()
            uow.events.search(workspace, filters, DESC, after, 101)
            timings.append((time.perf_counter() - started) * 1000)
    return percentile(timings, 50)


def plan_of(engine, workspace: str, filters: EventFilters, cursor: str | None) -> str:  # type: ignore[no-untyped-def]
    from domain.cursor import decode_cursor
    after = decode_cursor(cursor, DESC) if cursor else None
    query = search_query(workspace, filters, DESC, after, 101)
    compiled = query.compile(engine)
    with engine.connect() as connection:
        plan = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled.string}",
                                          compiled.construct_params()).scalar_one()
    nodes = set(_node_types(plan[0]["Plan"]))
    verdict = "index range scan" if not nodes & {"Seq Scan", "Sort"} else "NOT index-only"
    return f"{verdict}: {', '.join(sorted(nodes))}"


def _node_types(node: dict) -> list[str]:
    found = [node["Node Type"]]
    for child in node.get("Plans", []):
        found += _node_types(child)
    return found


def percentile(values: list[float], p: int) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


if __name__ == "__main__":
    main()
