"""Chain verification at 1,000,000 events: events/s and peak RSS, beside the raw limits.

    .venv/bin/python bench/verify.py [--events 1000000] [--keep] [--reuse DATABASE]

Loads one workspace's chain of real events (built and linked by the domain's own code, so
every hash and every leaf of the Merkle tree is right, and written with COPY), then, each
in a fresh process so that its peak RSS is its own:
  * reads the chain's rows in sequence order with a plain psycopg server-side cursor (the
    read limit);
  * reads them the same way and recomputes every hash with ``domain.hash_chain`` (the limit
    of any verifier written in Python: reading plus hashing, nothing else);
  * runs the ``VerifyChain`` use case over the whole chain, as ``GET /events/verify`` does
    (which also reads and checks every event's search terms and its leaf in the Merkle
    tree, which the limits above do not);
  * changes one byte of one stored event half-way along and verifies again: the use case
    must name that sequence (the database is restored afterwards);
  * writes the chain as an NDJSON export (with the export's own writer) and runs
    ``auditrail verify FILE`` over it, beside reading the file's lines and that read with
    each line parsed and its canonical bytes hashed into the chain (the offline limit);
    then with its evidence (a checkpoint signed at its last sequence, by a key of the
    bench's): ``auditrail verify FILE --evidence``, and the Python client's
    ``verify_export``, which makes the same checks with nothing of the server.
Prints events/s, the ratio to each limit, and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from cpu import in_fresh_process, peak_rss_kb  # noqa: E402
from scratch import add_database_options, scratch_database  # noqa: E402

from domain.event_search import search_terms  # noqa: E402
from domain.events import Event, new_event  # noqa: E402
from domain.hash_chain import (  # noqa: E402
    GENESIS_HASH,
    ChainHead,
    document_core,
    event_hash,
    link_with_leaves,
)
from domain.tiles import append_leaves, edge_tiles  # noqa: E402
from domain.timestamps import format_timestamp  # noqa: E402

TARGET = "ws_verifybench00000000000000"
START = datetime(2026, 1, 1, tzinfo=UTC)
CHUNK = 5_000
COLUMNS = ("id", "workspace_id", "status", "sequence", "action", "occurred_at",
           "received_at", "actor_id", "actor_type", "ip_address", "country_code", "body",
           "geo", "prev_hash", "hash")
GEO = {"country_code": "GB", "country": "United Kingdom", "region": "England",
       "city": "London", "latitude": 51.5142, "longitude": -0.0931,
       "timezone": "Europe/London"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_database_options(parser)
    parser.add_argument("--child", nargs=2, metavar=("KIND", "DSN"), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        print(json.dumps(child(*options.child)))
        return
    with scratch_database(options, "auditrail_verify") as dsn:
        if not options.reuse:
            began = time.perf_counter()
            load(dsn, options.events)
            print(f"loaded a chain of {options.events:,} events in "
                  f"{time.perf_counter() - began:.0f} s into {dsn.rsplit('/', 1)[1]}",
                  flush=True)
        measure(dsn)


def load(dsn: str, count: int) -> None:
    """A migrated database holding one workspace whose chain is ``count`` linked events."""
    from adapters.sql.engine import build_engine
    from adapters.sql.migrate import upgrade
    engine = build_engine(dsn.replace("postgresql://", "postgresql+psycopg://"))
    upgrade(engine)
    engine.dispose()
    head = ChainHead(0, GENESIS_HASH)
    tiles: dict[tuple[int, int], bytes] = {}
    with psycopg.connect(dsn) as connection:
        connection.execute("INSERT INTO workspaces (id, name, plan, ip_allowlist, created_at) "
                           "VALUES (%s, 'verify bench', 'enterprise', '[]', %s)",
                           (TARGET, START))
        pending: list[Event] = []
        for event in events(count):
            pending.append(event)
            if len(pending) == CHUNK:
                head = _write(connection, head, pending, tiles)
                pending = []
        if pending:
            head = _write(connection, head, pending, tiles)
        with connection.cursor().copy("COPY tree_tiles (workspace_id, level, tile, hashes) "
                                      "FROM STDIN") as copy:
            for (level, index), data in tiles.items():
                copy.write_row((TARGET, level, index, data))
        connection.execute("INSERT INTO chain_heads (workspace_id, sequence, hash) "
                           "VALUES (%s, %s, %s)", (TARGET, head.sequence, head.hash))
        connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM (ANALYZE) events")
        connection.execute("VACUUM (ANALYZE) event_terms")  # as autovacuum soon would


def events(count: int) -> Iterator[Event]:
    """Pending events shaped like a busy application's, built by the API's own rules."""
    rng = random.Random(7)
    for n in range(count):
        received = START + timedelta(seconds=n * 0.031)
        body = {
            "action": rng.choice(["user.login", "user.logout", "document.update",
                                  "admin.user.delete", "invoice.paid"]),
            "occurred_at": format_timestamp(received - timedelta(milliseconds=rng.randrange(900))),
            "actor": {"id": f"usr_{rng.randrange(10_000)}", "type": "user",
                      "name": f"User {rng.randrange(10_000)}"},
            "targets": [{"id": f"doc_{rng.randrange(50_000)}", "type": "document"}
                        for _ in range(rng.randrange(3))],
            "context": {"ip_address": f"81.2.69.{rng.randrange(256)}",
                        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"},
            "metadata": {"request": f"req_{n}", "attempt": rng.randrange(5),
                         "reason": rng.choice(["ok", "bad_password", "expired"])},
        }
        event = new_event(body, event_id=f"evt_{uuid.UUID(int=rng.getrandbits(128)).hex[:26]}",
                          workspace_id=TARGET, received_at=received)
        yield event.with_geo(GEO if rng.random() < 0.8 else None)


def _write(connection: psycopg.Connection, head: ChainHead, chunk: list[Event],
           tiles: dict[tuple[int, int], bytes]) -> ChainHead:
    """The linked events and, as the service files them, their search terms; their leaves
    join ``tiles``, written once at the end."""
    size = head.sequence
    linked, head, leaves = link_with_leaves(head, chunk)
    tiles.update(append_leaves(size, {key: tiles[key] for key in edge_tiles(size)}, leaves))
    with connection.cursor().copy("COPY event_terms (workspace_id, term, occurred_at, "
                                  "event_id) FROM STDIN") as copy:
        for event in linked:
            for term in search_terms(event):
                copy.write_row((event.workspace_id, term, event.occurred_at, event.id))
    with connection.cursor().copy(f"COPY events ({', '.join(COLUMNS)}) FROM STDIN") as copy:
        for event in linked:
            copy.write_row((
                event.id, event.workspace_id, event.status, event.sequence, event.action,
                event.occurred_at, event.received_at, event.actor["id"], event.actor["type"],
                event.ip_address, event.country_code,
                json.dumps({"actor": event.actor, "targets": event.targets,
                            "context": event.context, "metadata": event.metadata}),
                json.dumps(event.geo) if event.geo else None, event.prev_hash, event.hash))
    return head


def measure(dsn: str) -> None:
    results = {kind: in_fresh_process(__file__, kind, dsn)
               for kind in ("read", "read_hash", "verify")}
    if not (results["verify"]["valid"] and results["read_hash"]["valid"]):
        raise SystemExit(f"the loaded chain did not verify: {results}")
    middle = results["verify"]["checked"] // 2
    with psycopg.connect(dsn, autocommit=True) as connection:
        (body,) = connection.execute(
            "SELECT body FROM events WHERE workspace_id = %s AND sequence = %s",
            (TARGET, middle)).fetchone()
        connection.execute("UPDATE events SET body = %s WHERE workspace_id = %s "
                           "AND sequence = %s", (body.replace("usr_", "usr-", 1), TARGET, middle))
        try:
            tampered = in_fresh_process(__file__, "verify", dsn)
        finally:
            connection.execute("UPDATE events SET body = %s WHERE workspace_id = %s "
                               "AND sequence = %s", (body, TARGET, middle))
    table("", [(results["read"], "limit  raw server-side cursor read"),
               (results["read_hash"], "limit  the same read + every hash"),
               (results["verify"], "auditrail  VerifyChain (GET /events/verify)")])
    found = (tampered["valid"], tampered["first_invalid_sequence"], tampered["reason"])
    print(f"\none byte changed at sequence {middle:,}: valid={found[0]}, first invalid "
          f"sequence {found[1]}, {found[2]}, after {tampered['seconds']:.1f} s")
    if found != (False, middle, "hash_mismatch"):
        raise SystemExit("the change was not reported where it was made")
    offline(dsn)


def offline(dsn: str) -> None:
    """``auditrail verify FILE`` over the chain's export, beside the file's raw limits."""
    with tempfile.TemporaryDirectory(prefix="auditrail-verify-bench-") as folder:
        file = Path(folder) / "export.ndjson"
        export(dsn, file)
        write_evidence(file)
        results = {kind: in_fresh_process(__file__, kind, str(file))
                   for kind in ("file_read", "file_hash", "file_verify", "file_evidence",
                                "file_client")}
        size = file.stat().st_size
    if not all(results[kind]["valid"] for kind in ("file_hash", "file_verify",
                                                    "file_evidence", "file_client")):
        raise SystemExit(f"the export did not verify: {results}")
    table(f"offline, an NDJSON export of {size / 2**20:,.0f} MiB",
          [(results["file_read"], "limit  read the file's lines"),
           (results["file_hash"], "limit  + parse and hash every line"),
           (results["file_verify"], "auditrail  verify FILE"),
           (results["file_evidence"], "auditrail  verify FILE --evidence"),
           (results["file_client"], "client  verify_export(FILE, evidence)")])


def write_evidence(file: Path) -> None:
    """The export's evidence, as ``GET /exports/{id}/evidence`` gives it for an unfiltered
    export from sequence 1 (an empty frontier), its checkpoint signed by a key made here;
    beside the file, with that key's verifier key."""
    import hashlib

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from domain.canonical_json import canonical_json
    from domain.merkle import CompactRange, leaf_hash
    from domain.signed_notes import checkpoint_text, signature_line, verifier_key
    tree, digest = CompactRange(), hashlib.sha256()
    with file.open("rb") as lines:
        for line in lines:
            digest.update(line)
            tree.append(leaf_hash(canonical_json(document_core(json.loads(line)))))
    origin, key = f"bench.localhost/{TARGET}", Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes_raw()
    text = checkpoint_text(origin, tree.size, tree.root())
    file.with_name("evidence.json").write_text(json.dumps({
        "checkpoint": text + "\n" + signature_line(origin, public, key.sign(text.encode())),
        "first_sequence": 1, "last_sequence": tree.size, "row_count": tree.size,
        "frontier": [], "file_sha256": digest.hexdigest()}))
    file.with_name("vkey.txt").write_text(verifier_key(origin, public))


def table(title: str, rows: list[tuple[dict, str]]) -> None:
    """Each result beside the first row (the read) and the second (the read + hash)."""
    read, floor = rows[0][0]["rate"], rows[1][0]["rate"]
    print(f"\n{title:<40} {'events':>10} {'events/s':>10} {'vs read':>8} "
          f"{'vs read+hash':>13} {'peak RSS':>9}")
    for result, label in rows:
        print(f"{label:<40} {result['checked']:>10,} {result['rate']:>10,.0f} "
              f"{100 * result['rate'] / read:>7.0f}% {100 * result['rate'] / floor:>12.0f}% "
              f"{result['max_rss_kb'] / 1024:>6.0f} MiB")


def export(dsn: str, file: Path) -> None:
    """The unfiltered NDJSON export, written as ``POST /exports`` writes it."""
    from adapters.sql.engine import SNAPSHOT, build_engine
    from adapters.sql.export_writer import write_export
    from domain.event_search import EventFilters
    engine = build_engine(dsn.replace("postgresql://", "postgresql+psycopg://"))
    # In a snapshot, as the export job's unit of work: its halves share it.
    with engine.connect().execution_options(**SNAPSHOT) as db, db.begin(), \
            file.open("wb") as sink:
        write_export(db, TARGET, EventFilters(), "ndjson", sink, lambda: None)
    engine.dispose()


def child(kind: str, source: str) -> dict:
    started = time.perf_counter()
    if kind in ("file_verify", "file_evidence"):
        result = verify_file(source, with_evidence=kind == "file_evidence")
    elif kind == "file_client":
        result = verify_with_client(source)
    elif kind.startswith("file_"):
        result = read_file(source, hashing=kind == "file_hash")
    else:
        result = verify(source) if kind == "verify" \
            else read(source, hashing=kind == "read_hash")
    seconds = time.perf_counter() - started
    return {**result, "seconds": seconds, "rate": result["checked"] / seconds,
            "max_rss_kb": peak_rss_kb()}


def read(dsn: str, *, hashing: bool) -> dict:
    checked, prev_hash, valid = 0, GENESIS_HASH, True
    with psycopg.connect(dsn) as connection, connection.cursor(name="chain") as cursor:
        cursor.itersize = 2_000
        cursor.execute("SELECT id, workspace_id, action, occurred_at, received_at, body, geo, "
                       "sequence, prev_hash, hash FROM events WHERE workspace_id = %s "
                       "ORDER BY sequence", (TARGET,))
        for (event_id, workspace_id, action, occurred_at, received_at, body, geo, sequence,
             stored_prev, stored_hash) in cursor:
            checked += 1
            if not hashing:
                continue
            parts = body if isinstance(body, dict) else json.loads(body)
            core = {"id": event_id, "workspace_id": workspace_id, "action": action,
                    "occurred_at": format_timestamp(occurred_at),
                    "received_at": format_timestamp(received_at), **parts,
                    "geo": json.loads(geo) if isinstance(geo, str) else geo,
                    "sequence": sequence}
            valid = valid and stored_prev == prev_hash and \
                event_hash(prev_hash, core) == stored_hash
            prev_hash = stored_hash
    return {"checked": checked, "valid": valid}


def verify(dsn: str) -> dict:
    from entrypoints.container.installation import build_container
    from entrypoints.settings import Settings
    with tempfile.TemporaryDirectory(prefix="auditrail-verify-bench-") as data_dir:
        container = build_container(Settings(
            database_url=dsn.replace("postgresql://", "postgresql+psycopg://"),
            data_dir=Path(data_dir), secret_key="bench-secret-key-0123456789abcdef"))
        report = container.verify_chain().execute(TARGET)
        container.engine().dispose()
    return {"checked": report.checked, "valid": report.valid,
            "first_invalid_sequence": report.first_invalid_sequence, "reason": report.reason}


def read_file(file: str, *, hashing: bool) -> dict:
    checked, prev_hash, valid = 0, GENESIS_HASH, True
    with open(file, "rb") as lines:
        for line in lines:
            checked += 1
            if not hashing:
                continue
            document = json.loads(line)
            valid = valid and document["prev_hash"] == prev_hash and \
                event_hash(prev_hash, document_core(document)) == document["hash"]
            prev_hash = document["hash"]
    return {"checked": checked, "valid": valid}


def verify_file(file: str, *, with_evidence: bool) -> dict:
    """``auditrail verify FILE`` in this process, as a user runs it."""
    from click.testing import CliRunner

    from entrypoints.cli import main as cli
    evidence = ["--evidence", str(Path(file).with_name("evidence.json")), "--verifier-key",
                Path(file).with_name("vkey.txt").read_text()] if with_evidence else []
    result = CliRunner().invoke(cli, ["verify", file, *evidence])
    counted = re.search(r": ([0-9]+) events", result.output)
    return {"checked": int(counted.group(1)) if counted else 0,
            "valid": result.exit_code == 0 and result.output.startswith("valid")}


def verify_with_client(file: str) -> dict:
    from auditrail_client import verify_export
    verified = verify_export(file, Path(file).with_name("evidence.json"),
                             Path(file).with_name("vkey.txt").read_text())
    return {"checked": verified.rows, "valid": verified.complete}


if __name__ == "__main__":
    main()
