"""Rotating the log's signing key on PostgreSQL: ``auditrail signing-key countersign``
beside the two things it cannot do faster than.

    make bench-rotation    # or: .venv/bin/python bench/rotation.py [--checkpoints 100000]

Stores ``--checkpoints`` checkpoints, spread over 10 workspaces, signed by the old key
(what a year of one workspace signing every 5 s leaves is 6.3 million), then starts the
service with a new key and the old one listed, and measures:
  * the service: ``countersign``'s use case, every note read, its old signature checked,
    the new key's signature added, written back in batches of 500;
  * the limit: the same work by hand, in two halves - the Ed25519 work alone (a verify
    and a signature a note, ``cryptography``), and the database work alone (the same
    keyset pages read and the same notes written by one executemany UPDATE a batch,
    psycopg, nothing signed);
  * a rerun, which finds everything done.
Prints notes/s for each and the ratio of the service to the two halves added up.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from scratch import SIGNING_KEY, add_server_options, scratch_database  # noqa: E402

from adapters.security.signing import Ed25519Signer, Ed25519Verifier, new_seed, seed_from  # noqa: E402
from application.use_cases.countersign_log import BATCH  # noqa: E402
from domain.signed_notes import b64, checkpoint_text, parse_note  # noqa: E402
from entrypoints.container.installation import build_container  # noqa: E402
from entrypoints.settings import Settings  # noqa: E402

WORKSPACES = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_options(parser, redis=False)
    parser.add_argument("--checkpoints", type=int, default=100_000)
    parser.set_defaults(keep=False, reuse=None)  # it changes what it loads: nothing to keep
    options = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="auditrail-bench-"))
    with scratch_database(options, "auditrail_rotation") as dsn:
        url = dsn.replace("postgresql://", "postgresql+psycopg://")
        settings = {"database_url": url, "data_dir": tmp,
                    "secret_key": "bench-secret-key-0123456789abcdef"}
        old = build_container(Settings(signing_key=SIGNING_KEY, **settings))
        new_key = new_seed()
        rotated = build_container(Settings(signing_key=new_key,
                                           previous_signing_keys=(SIGNING_KEY,), **settings))
        try:
            old.upgrade_database()
            count = load(old, options.checkpoints)
            run(rotated, dsn, count, new_key)
        finally:
            old.engine().dispose()
            rotated.engine().dispose()
            shutil.rmtree(tmp, ignore_errors=True)


def load(container, count: int) -> int:  # type: ignore[no-untyped-def]
    """``count`` checkpoints signed by the old key, as the log signs them (the tree is not
    consulted by countersigning, so random roots do)."""
    from sqlalchemy import insert

    from adapters.sql import tables as t
    log, now = container.transparency_log(), datetime.now(UTC)
    workspaces = [container.create_workspace().execute(f"w{n}")[0].id
                  for n in range(WORKSPACES)]
    rows = []
    for n in range(count):
        workspace_id, size = workspaces[n % WORKSPACES], n // WORKSPACES + 1
        root = os.urandom(32)
        rows.append({"workspace_id": workspace_id, "tree_size": size, "root_hash": b64(root),
                     "note": log.sign_text(workspace_id, checkpoint_text(
                         log.origin(workspace_id), size, root)), "created_at": now})
    with container.engine().begin() as connection:
        for start in range(0, count, 10_000):
            connection.execute(insert(t.checkpoints), rows[start:start + 10_000])
    print(f"stored {count:,} checkpoints signed by the old key, over {WORKSPACES} workspaces",
          flush=True)
    return count


def run(container, dsn: str, count: int, new_key: str) -> None:  # type: ignore[no-untyped-def]
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE) checkpoints")
        notes = [row[0] for row in connection.execute("SELECT note FROM checkpoints")]
    crypto = ed25519_alone(notes, new_key)
    database = database_alone(dsn)

    started = time.perf_counter()
    outcome = container.countersign_log().execute()
    service = time.perf_counter() - started
    assert outcome.checkpoints == count and not outcome.unreadable, outcome
    started = time.perf_counter()
    again = container.countersign_log().execute()
    rerun = time.perf_counter() - started
    assert again.checkpoints == 0

    def line(label: str, seconds: float) -> str:
        return f"{label:<46} {seconds:7.2f} s  {count / seconds:9,.0f} notes/s"

    print(line("auditrail signing-key countersign", service))
    print(line("limit: Ed25519 alone (verify + sign)", crypto))
    print(line("limit: database alone (pages + executemany)", database))
    print(f"{'(auditrail / the two added up)':<46} {(crypto + database) / service:7.1%}")
    print(line("a rerun (nothing left to sign)", rerun))


def ed25519_alone(notes: list[str], new_key: str) -> float:
    """What no implementation avoids: the old signature checked, the new one made."""
    old, new = Ed25519Signer(seed_from(SIGNING_KEY)), Ed25519Signer(seed_from(new_key))
    verify, public = Ed25519Verifier().verify, old.public_key()
    texts = [parse_note(note) for note in notes]
    started = time.perf_counter()
    for parsed in texts:
        message = parsed.text.encode()
        assert verify(public, message, parsed.signatures[0].signature)
        new.sign(message)
    return time.perf_counter() - started


def database_alone(dsn: str) -> float:
    """The same pages read and rows written, by psycopg, with a note that only grows by
    a character (and is put back after), nothing parsed or signed."""
    started = time.perf_counter()
    with psycopg.connect(dsn) as connection:
        after = ("", 0)
        while True:
            page = connection.execute(
                "SELECT workspace_id, tree_size, note FROM checkpoints WHERE "
                "(workspace_id, tree_size) > (%s, %s) ORDER BY workspace_id, tree_size "
                "LIMIT %s", (*after, BATCH)).fetchall()
            with connection.cursor() as cursor:
                cursor.executemany(
                    "UPDATE checkpoints SET note = %s WHERE workspace_id = %s AND "
                    "tree_size = %s AND note = %s",
                    [(note + " ", w, size, note) for w, size, note in page])
            connection.commit()
            if len(page) < BATCH:
                break
            after = page[-1][:2]
    took = time.perf_counter() - started
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("UPDATE checkpoints SET note = rtrim(note, ' ')")
        connection.execute("VACUUM (ANALYZE) checkpoints")  # the service starts as clean
    return took


if __name__ == "__main__":
    main()
