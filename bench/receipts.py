"""What checking ingest receipts costs an auditor, on PostgreSQL + Redis.

    make bench-receipts    # or: .venv/bin/python bench/receipts.py --events 20000

Measures, in one run, through the whole HTTP app in this process (authentication, rate
limit, JSON; no network):
  * the limit: the requests the monitor's check needs, with nothing checked - each
    receipt's first event (for its sequence), then every entry bundle its events are in
    and one inclusion proof a bundle;
  * what checking an event at a time would cost (its proof and the event, two requests
    an event), as the monitor did before it read bundles;
  * ``auditrail log monitor --receipts`` (its function): a first run, which proves every
    receipt (the same requests, plus signatures, digests and bundles held to the signed
    tree), and a second run, in which every receipt was proved before;
  * the offline ledger of ``auditrail verify --receipts``: each exported row held to its
    receipt (the accepted fields' canonical form and SHA-256), per row;
  * the log as tiles: ``auditrail log monitor --entries all`` (every event read from the
    entry bundles, each held to the tree by one proof) beside its requests alone; and
    p50 latency of one leaf tile, one entry bundle (identity and gzip), beside the same
    256 events read through search pages (three GET /events of 100).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from scratch import add_server_options  # noqa: E402
from tests.geo_db import build_city_database  # noqa: E402
from transparency import drain, scratch  # noqa: E402

from adapters.security.signing import Ed25519Verifier  # noqa: E402
from domain.receipts import ReceiptLedger, parse_receipt  # noqa: E402
from domain.signed_notes import parse_note, parse_verifier_key  # noqa: E402
from domain.tile_paths import leaf_tile  # noqa: E402
from entrypoints import log_monitor  # noqa: E402
from entrypoints.http.app import create_app  # noqa: E402

EVENT = {"action": "invoice.paid", "actor": {"id": "usr_42", "type": "user"},
         "targets": [{"id": "inv_7", "type": "invoice"}],
         "context": {"ip_address": "81.2.69.160"}, "metadata": {"amount": 1250}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_options(parser)
    parser.add_argument("--events", type=int, default=20_000,
                        help="receipted events (1,000-event batches)")
    options = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="auditrail-bench-"))
    with scratch(options, build_city_database(tmp / "City.mmdb"), tmp) as (container, _):
        workspace, issued = container.create_workspace().execute("receipts", "enterprise",
                                                                  1_000_000)
        workspace_id, key = workspace.id, issued.secret
        app = create_app(container)
        client = app.test_client()
        headers = {"Authorization": f"Bearer {key}"}
        receipts, ids = ingest(client, headers, options.events)
        drain(container, workspace_id, sign=True)
        container.transparency_log().sign(workspace_id)
        vkey = client.get("/api/v1/log/key", headers=headers).json["verifier_key"]
        print(f"machine: {os.cpu_count()} cores; {len(ids):,} events in {len(receipts)} "
              f"receipts\n", flush=True)
        limit = bundle_requests_alone(client, headers, receipts, ids)
        one_by_one = requests_alone(client, headers, ids)
        first, second = monitored(app, key, vkey, receipts, tmp / "monitor.json")
        per_row = ledger_per_row(client, headers, ids, receipts, vkey)
        entries_alone = bundle_requests_alone(client, headers, [], ids)
        entries_run = monitored_entries(app, key, vkey, tmp / "entries.json")
        latencies = tile_latencies(client, headers)
    print(f"{'check':<52} {'seconds':>8} {'events/s':>9}")
    for label, seconds in (("limit  first events, bundles, a proof a bundle", limit),
                           ("an event at a time: GET proof + GET event", one_by_one),
                           ("log monitor --receipts, first run (proves all)", first),
                           ("log monitor --receipts, next run (all proved)", second)):
        print(f"{label:<52} {seconds:>8.2f} {len(ids) / seconds:>9,.0f}")
    print(f"\nfirst run / limit: {100 * limit / first:.1f} %   (target: a figure; the "
          f"requests are most of it); first run against an event at a time: "
          f"{one_by_one / first:.0f}x faster")
    print(f"verify --receipts: {per_row:.1f} µs a receipted row (the accepted fields' "
          f"canonical form and SHA-256)")
    print(f"\n{'reading the log as tiles':<52} {'seconds':>8} {'events/s':>9}")
    for label, seconds in (("limit  every bundle and a proof a bundle", entries_alone),
                           ("log monitor --entries all", entries_run)):
        print(f"{label:<52} {seconds:>8.2f} {len(ids) / seconds:>9,.0f}")
    print(f"--entries all / limit: {100 * entries_alone / entries_run:.1f} %")
    print(f"\n{'one request, p50 of 200':<52} {'ms':>8}")
    for label, ms in latencies.items():
        print(f"{label:<52} {ms:>8.2f}")


def ingest(client: Any, headers: dict[str, str], count: int) -> tuple[list[str], list[str]]:
    receipts, ids = [], []
    for _ in range(max(1, count // 1000)):
        response = client.post("/api/v1/events/batch", json={"events": [EVENT] * 1000},
                               headers={**headers, "Prefer": "receipt"})
        assert response.status_code == 202, response.data[:300]
        receipts.append(response.json["receipt"])
        ids += response.json["ids"]
    return receipts, ids


def bundle_requests_alone(client: Any, headers: dict[str, str], receipts: list[str],
                          ids: list[str]) -> float:
    """The requests the monitor makes for these receipts, nothing checked: the batches
    are linked one after another, so their events fill bundles 0 to the last."""
    started = time.perf_counter()
    for receipt in receipts:
        first = parse_receipt(parse_note(receipt).text).entries[0].event_id
        assert client.get(f"/api/v1/events/{first}", headers=headers).status_code == 200
    for index in range(-(-len(ids) // 256)):
        path = leaf_tile(index, len(ids)).bundle_path
        bundle = client.get(f"/api/v1/log/tile/entries/{path}", headers=headers)
        assert bundle.status_code == 200
        assert client.get(f"/api/v1/events/{ids[index * 256]}/proof", headers=headers
                          ).status_code == 200
    return time.perf_counter() - started


def requests_alone(client: Any, headers: dict[str, str], ids: list[str]) -> float:
    started = time.perf_counter()
    for event_id in ids:
        assert client.get(f"/api/v1/events/{event_id}/proof", headers=headers
                          ).status_code == 200
        assert client.get(f"/api/v1/events/{event_id}", headers=headers).status_code == 200
    return time.perf_counter() - started


def monitored(app: Any, key: str, vkey: str, receipts: list[str], state: Path
              ) -> tuple[float, float]:
    """Seconds of a first and a second monitor run, over the app through httpx's WSGI
    transport (as the monitor's tests run it)."""
    original = httpx.Client

    def client(**kwargs: Any) -> httpx.Client:
        return original(transport=httpx.WSGITransport(app=app), **kwargs)

    log_monitor.httpx.Client = client  # type: ignore[misc]
    try:
        runs = []
        for _ in range(2):
            started = time.perf_counter()
            said = log_monitor.run_monitor("http://log", key, state, vkey,
                                           Ed25519Verifier().verify, receipts=receipts)
            runs.append(time.perf_counter() - started)
            assert f"{len(receipts)} receipt(s) honoured" in said, said
    finally:
        log_monitor.httpx.Client = original  # type: ignore[misc]
    return runs[0], runs[1]


def monitored_entries(app: Any, key: str, vkey: str, state: Path) -> float:
    """Seconds of ``log monitor --entries all`` from a fresh state: every bundle read."""
    original = httpx.Client

    def client(**kwargs: Any) -> httpx.Client:
        return original(transport=httpx.WSGITransport(app=app), **kwargs)

    log_monitor.httpx.Client = client  # type: ignore[misc]
    try:
        started = time.perf_counter()
        said = log_monitor.run_monitor("http://log", key, state, vkey,
                                       Ed25519Verifier().verify, entries="all")
        assert "read, as it holds them" in said, said
        return time.perf_counter() - started
    finally:
        log_monitor.httpx.Client = original  # type: ignore[misc]


def tile_latencies(client: Any, headers: dict[str, str]) -> dict[str, float]:
    """Milliseconds, p50 of 200: a leaf tile, a bundle plain and gzipped, and the same
    256 events as three search pages of 100."""
    def p50(*paths: str, **extra: str) -> float:
        samples = []
        for _ in range(200):
            started = time.perf_counter()
            for path in paths:
                assert client.get(path, headers={**headers, **extra}).status_code == 200
            samples.append((time.perf_counter() - started) * 1000)
        return statistics.median(samples)

    first = client.get("/api/v1/events?order=asc&limit=100", headers=headers).json
    cursor = first["next_cursor"]
    second = client.get(f"/api/v1/events?order=asc&limit=100&cursor={cursor}",
                        headers=headers).json
    pages = ["/api/v1/events?order=asc&limit=100",
             f"/api/v1/events?order=asc&limit=100&cursor={cursor}",
             f"/api/v1/events?order=asc&limit=56&cursor={second['next_cursor']}"]
    return {"GET /log/tile/0/000 (256 leaf hashes)": p50("/api/v1/log/tile/0/000"),
            "GET /log/tile/entries/000 (256 events)": p50("/api/v1/log/tile/entries/000"),
            "the same, Accept-Encoding: gzip": p50("/api/v1/log/tile/entries/000",
                                                   **{"Accept-Encoding": "gzip"}),
            "the same 256 events as 3 search pages": p50(*pages)}


def ledger_per_row(client: Any, headers: dict[str, str], ids: list[str], receipts: list[str],
                   vkey: str) -> float:
    """Microseconds a row: each event as an export holds it, fed to the ledger."""
    documents = [client.get(f"/api/v1/events/{event_id}", headers=headers).json
                 for event_id in ids]
    ledger = ReceiptLedger.of(receipts, parse_verifier_key(vkey), Ed25519Verifier().verify)
    started = time.perf_counter()
    for document in documents:
        ledger.feed(document)
    spent = time.perf_counter() - started
    assert not ledger.absent()
    return spent / len(documents) * 1e6


if __name__ == "__main__":
    main()
