"""Alert evaluation's cost to processing, on PostgreSQL + Redis.

    make bench-alerts      # or: .venv/bin/python bench/alerts.py --events 30000

Measures, in one run: events linked per second by the processing use case (in this
process, geo enrichment from a real .mmdb, nobody sending the notifications it queues)
with 0, 10 and 100 enabled alert rules - a mix of plain matches, thresholds grouped by
actor and by address, and country rules, most with a cooldown, as a workspace would
configure them. Each side has a workspace of its own, its rules enabled throughout (the
10 are the first 10 of the 100), and the sides take turns round after round, their chains
growing alike, so that the machine's drift and the chains' growth cancel out of the
ratios. Beside them, the limit of the same run: the processing step with no rule.

Then one rule's notifications: ``--notifications`` (2,000) alerts of a rule without a
threshold, sent by its delivery job in this process to a local receiver that answers at
once, one at a time and in order as the engine sends them (alerts/s), beside one client
POSTing the same signed bodies to the same receiver (the limit).

Until 2026-12-04 one workspace served every side, its rules enabled and disabled between
rounds: each round with rules then began with a change of rules, which makes a worker
read the rules and their window states afresh (as it must), a cost steady traffic does
not pay; the same code measured a median of 64.1 % that way (six runs) and 66.4 % this way
(seven runs), within this machine's noise (bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from scratch import add_server_options, bench_container  # noqa: E402
from tests.geo_db import build_city_database  # noqa: E402
from tests.queues import forget_queue  # noqa: E402
from tests.receivers import Receiver  # noqa: E402

AREAS = ["user", "document", "admin", "billing", "api_key", "settings", "project", "team",
         "invoice", "report"]
VERBS = ["viewed", "created", "updated", "deleted", "exported", "shared"]
VOCABULARY = [f"{area}.{verb}" for verb in VERBS for area in AREAS]
"""60 actions, the first most used (weights 1/rank): audit logs are mostly routine."""
DENSE = VOCABULARY[:12]
"""``--dense``: 12 actions, so each event matches about a dozen of 100 rules (worst case)."""
SIDES = (0, 10, 100)


def rules(count: int, actions: list[str]) -> list[dict]:
    """``count`` rules: plain, by actor, by address, by country, in turn, each about one
    action (or its area's prefix) drawn from ``actions``."""
    rng = random.Random(count)
    made = []
    for n in range(count):
        kind = n % 4
        action = rng.choice(actions)
        rule = {"name": f"rule {n}", "cooldown_seconds": rng.choice([0, 60, 300, 900]),
                "notify": {"webhook_url": "http://127.0.0.1:9/alerts"}}
        if kind == 0:
            rule["match"] = {"actions": [action]}
            rule["cooldown_seconds"] = 300
        elif kind == 1:
            rule["match"] = {"actions": [action.split(".")[0] + ".*"]}
            rule["threshold"] = {"count": rng.choice([3, 5, 10]), "window_seconds": 60,
                                 "group_by": "actor_id"}
        elif kind == 2:
            rule["match"] = {"actions": [action]}
            rule["threshold"] = {"count": rng.choice([5, 20]), "window_seconds": 300,
                                 "group_by": "ip_address"}
        else:
            rule["match"] = {"actions": [action], "countries_not_in": ["GB"]}
            rule["threshold"] = {"count": 10, "window_seconds": 600, "group_by": "workspace"}
        made.append(rule)
    return made


def events(count: int, rng: random.Random, actions: list[str]) -> list[dict]:
    weights = [1 / rank for rank in range(1, len(actions) + 1)]
    return [{"action": rng.choices(actions, weights)[0],
             "actor": {"id": f"usr_{rng.randrange(200)}", "type": "user"},
             "targets": [{"id": f"doc_{rng.randrange(1000)}", "type": "document"}],
             "context": {"ip_address": rng.choice([f"81.2.69.{rng.randrange(256)}",
                                                   "2a02:ec0::1", "8.8.8.8"])}}
            for _ in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_options(parser)
    parser.add_argument("--events", type=int, default=30_000,
                        help="events per side, over all rounds")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--dense", action="store_true",
                        help="12 actions instead of 60: each event matches many rules")
    parser.add_argument("--notifications", type=int, default=2_000,
                        help="alerts one rule notifies in the last phase (0: skip it)")
    parser.add_argument("--notifications-only", action="store_true",
                        help="run only the notifications phase")
    options = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="auditrail-bench-"))
    database = f"auditrail_bench_{uuid.uuid4().hex[:8]}"
    dsn = f"{options.postgres.rsplit('/', 1)[0]}/{database}"
    with psycopg.connect(options.postgres, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    container = bench_container(
        dsn, tmp, redis_url=options.redis, queue_name=f"auditrail-bench-{uuid.uuid4().hex[:8]}",
        geoip_db=str(build_city_database(tmp / "City.mmdb")), allow_private_destinations=True)
    try:
        container.upgrade_database()
        run(container, dsn, options)
    finally:
        for queue in container.job_queue().queues:
            forget_queue(queue)
        container.engine().dispose()
        with psycopg.connect(options.postgres, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        shutil.rmtree(tmp, ignore_errors=True)


def run(container, dsn: str, options: argparse.Namespace) -> None:  # type: ignore[no-untyped-def]
    if options.notifications_only:
        notifications(container, options.notifications)
        return
    actions = DENSE if options.dense else VOCABULARY
    workspaces = {side: workspace_with_rules(container, side, rules(max(SIDES), actions))
                  for side in SIDES}
    rng = random.Random(1)
    per_round = options.events // options.rounds
    rates: dict[int, list[float]] = {side: [] for side in SIDES}
    alerts: dict[int, int] = dict.fromkeys(SIDES, 0)
    print(f"machine: {os.cpu_count()} cores; {per_round:,} events a round, "
          f"{options.rounds} rounds (+1 to warm up); {len(actions)} actions, each event "
          f"matching {matches_per_event(container, workspaces[max(SIDES)], actions):.1f} "
          f"of the 100 rules on average\n", flush=True)
    for number in range(options.rounds + 1):
        order = SIDES if number % 2 else SIDES[::-1]
        for side in order:
            workspace_id = workspaces[side]
            with psycopg.connect(dsn, autocommit=True) as connection:
                before = connection.execute("SELECT count(*) FROM alerts").fetchone()[0]
            ingest = container.ingest_events()
            for start in range(0, per_round, 1000):
                ingest.execute(workspace_id, events(min(1000, per_round - start), rng,
                                                    actions), batch=True)
            container.job_queue().flush()
            started = time.perf_counter()
            linked = container.process_pending_events().execute(workspace_id).linked
            elapsed = time.perf_counter() - started
            with psycopg.connect(dsn, autocommit=True) as connection:
                after = connection.execute("SELECT count(*) FROM alerts").fetchone()[0]
            if number:
                rates[side].append(linked / elapsed)
                alerts[side] += after - before
    base = statistics.median(rates[0])
    for side in SIDES:
        median = statistics.median(rates[side])
        ratios = [rate / none for rate, none in zip(rates[side], rates[0], strict=True)]
        print(f"{side:>3} rules enabled  {median:>8,.0f} events/s  "
              f"{100 * median / base:>5.1f} % of no rules (rounds "
              f"{', '.join(f'{100 * r:.0f}' for r in ratios)} %), "
              f"{alerts[side]:,} alerts triggered", flush=True)
    print("\ntarget: 100 rules keep >= 70 % of the rate with none")
    if options.notifications:
        notifications(container, options.notifications)


def notifications(container, count: int) -> None:  # type: ignore[no-untyped-def]
    """One rule's alerts sent as its delivery jobs send them, beside the bare POSTs."""
    workspace, _ = container.create_workspace().execute("notifications", plan="enterprise",
                                                         rate_limit=1_000_000)
    hook = Receiver()
    try:
        rule = container.create_alert_rule().execute(workspace.id, {
            "name": "every admin action", "match": {"actions": ["admin.*"]},
            "notify": {"webhook_url": hook.url}}).rule
        ingest = container.ingest_events()
        for start in range(0, count, 1000):
            ingest.execute(workspace.id, [
                {"action": "admin.user.delete", "actor": {"id": f"usr_{n}", "type": "user"}}
                for n in range(start, min(count, start + 1000))], batch=True)
        container.job_queue().flush()
        container.process_pending_events().execute(workspace.id)
        container.job_queue().flush()
        notify = container.notify_alerts()
        started = time.perf_counter()
        while len(hook.requests) < count:
            if not notify.execute(rule.id):
                raise SystemExit(f"notifications stopped after {len(hook.requests)}")
        sent = count / (time.perf_counter() - started)
        bodies = [(request.body, request.headers) for request in hook.requests]
        with httpx.Client() as client:
            started = time.perf_counter()
            for body, headers in bodies:
                client.post(hook.url, content=body, headers={
                    "Content-Type": "application/json",
                    "Auditrail-Signature": headers["auditrail-signature"]})
            limit = count / (time.perf_counter() - started)
    finally:
        hook.close()
    print(f"\none rule's notifications, one at a time in order: {sent:>6,.0f} alerts/s "
          f"({1000 / sent:.1f} ms each); one client POSTing the same bodies {limit:>6,.0f}/s "
          f"({100 * sent / limit:.0f} %)", flush=True)


def workspace_with_rules(container, count: int, made: list[dict]) -> str:  # type: ignore[no-untyped-def]
    """A workspace whose enabled rules are the first ``count`` of ``made``."""
    workspace, _ = container.create_workspace().execute(f"alerts {count}", plan="enterprise",
                                                         rate_limit=1_000_000)
    for rule in made[:count]:
        container.create_alert_rule().execute(workspace.id, rule)
    return workspace.id


def matches_per_event(container, workspace_id: str,  # type: ignore[no-untyped-def]
                      actions: list[str]) -> float:
    from domain.alert_evaluation import RuleIndex
    from domain.events import new_event
    with container.uow(read_only=True) as uow:
        loaded = uow.alert_rules.enabled(workspace_id)
    sample = [new_event(body, event_id=f"evt_{n}", workspace_id=workspace_id,
                        received_at=container.clock().now())
              for n, body in enumerate(events(2000, random.Random(2), actions))]
    geo = container.geo()
    sample = [event.with_geo(geo.locate(event.ip_address)) for event in sample]
    return len(RuleIndex(loaded).matches(sample)) / len(sample)


if __name__ == "__main__":
    main()
