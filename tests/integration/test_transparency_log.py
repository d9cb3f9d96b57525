"""The transparency log over HTTP on both stacks (contract §10): signed checkpoints, proofs
that verify with our code and with Go's, attacks by someone holding the database, export
evidence checked offline, and the monitor."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from adapters.security.signing import Ed25519Verifier
from domain.hash_chain import document_core, event_hash
from domain.merkle import verify_consistency, verify_inclusion
from domain.signed_notes import (
    parse_checkpoint,
    parse_note,
    parse_verifier_key,
    signature_by,
)
from entrypoints.cli import main
from tests.conftest import unavailable
from tests.integration.stacks import Stack, bearer

CHECKER = Path(__file__).parent / "interop" / "checker.go"


@pytest.fixture(params=["embedded", "production"])
def stack(request: pytest.FixtureRequest, stack_factory: Any) -> Stack:
    """A checkpoint every second or so, so that tests wait little for one."""
    return stack_factory(request.param, checkpoint_seconds=1)


def ingest(stack: Stack, key: str, count: int, action: str = "user.login") -> list[str]:
    ids = []
    for start in range(0, count, 1000):
        response = stack.client.post("/api/v1/events/batch", headers=bearer(key), json={
            "events": [{"action": action, "actor": {"id": f"usr_{n % 7}", "type": "user"}}
                       for n in range(start, min(count, start + 1000))]})
        assert response.status_code == 202, response.json
        ids += response.json["ids"]
    stack.drain()
    return ids


def signed(stack: Stack, key: str, size: int) -> str:
    """The latest checkpoint once it covers ``size`` leaves (signing as a worker would)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        stack.container.transparency_log().sweep()
        note = stack.client.get("/api/v1/log/checkpoint", headers=bearer(key)).data.decode()
        if parse_checkpoint(parse_note(note).text).tree_size >= size:
            return note
        time.sleep(0.2)
    raise AssertionError(f"no checkpoint of size {size}")


def b64(text: str) -> bytes:
    return base64.b64decode(text)


def log_key(stack: Stack, key: str) -> dict[str, Any]:
    return stack.client.get("/api/v1/log/key", headers=bearer(key)).json


def test_checkpoints_are_signed_notes_of_the_workspaces_tree(stack: Stack) -> None:
    workspace_id, key = stack.new_workspace()
    info = log_key(stack, key)
    assert info["origin"] == info["key_name"] == f"auditrail.localhost/{workspace_id}"
    assert info["algorithm"] == "ed25519" and len(b64(info["public_key"])) == 32
    verifier = parse_verifier_key(info["verifier_key"])
    empty = stack.client.get("/api/v1/log/checkpoint", headers=bearer(key))
    assert empty.status_code == 200 and empty.content_type == "text/plain; charset=utf-8"
    note = parse_note(empty.data.decode())
    assert note.text == f"{info['origin']}\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
    assert Ed25519Verifier().verify(verifier.public_key, note.text.encode(),
                                    signature_by(note, verifier))
    ingest(stack, key, 600)
    text = parse_note(signed(stack, key, 600)).text
    checkpoint = parse_checkpoint(text)
    assert checkpoint.tree_size == 600
    listed = stack.client.get("/api/v1/log/checkpoints", headers=bearer(key)).json
    assert listed["data"][0]["tree_size"] == 600 and listed["data"][-1]["tree_size"] == 0
    one = stack.client.get("/api/v1/log/checkpoints/600", headers=bearer(key)).json
    assert b64(one["root_hash"]) == checkpoint.root_hash
    assert stack.client.get("/api/v1/log/checkpoints/599", headers=bearer(key)).status_code \
        == 404


def test_every_proof_verifies(stack: Stack) -> None:
    _, key = stack.new_workspace()
    ids = ingest(stack, key, 300)
    first = parse_checkpoint(parse_note(signed(stack, key, 300)).text)
    ids += ingest(stack, key, 257)
    latest = parse_checkpoint(parse_note(signed(stack, key, 557)).text)
    for index, event_id in enumerate(ids):
        proof = stack.client.get(f"/api/v1/events/{event_id}/proof",
                                 headers=bearer(key)).json
        assert (proof["leaf_index"], proof["tree_size"]) == (index, latest.tree_size)
        assert verify_inclusion(index, proof["tree_size"], b64(proof["leaf_hash"]),
                                [b64(h) for h in proof["inclusion_path"]], latest.root_hash)
    old = stack.client.get(f"/api/v1/events/{ids[7]}/proof?tree_size=300",
                           headers=bearer(key)).json
    assert verify_inclusion(7, 300, b64(old["leaf_hash"]),
                            [b64(h) for h in old["inclusion_path"]], first.root_hash)
    for from_size in (0, 1, 255, 256, 300, 557):
        proof = stack.client.get(f"/api/v1/log/consistency?from_size={from_size}",
                                 headers=bearer(key)).json
        assert proof["to_size"] == 557 and b64(proof["to_root"]) == latest.root_hash
        assert verify_consistency(from_size, 557, b64(proof["from_root"]),
                                  latest.root_hash, [b64(h) for h in proof["proof"]])
    assert b64(stack.client.get("/api/v1/log/consistency?from_size=300",
                                headers=bearer(key)).json["from_root"]) == first.root_hash


def test_processing_signs_in_the_transaction_that_links(stack_factory: Any) -> None:
    """The first chunk is signed at once, by the transaction that links it (no sweep, no
    job after the drain); the next chunks, too soon after, are left to the sweep. What was
    signed is the root of the tree the chunk's own tiles make."""
    stack = stack_factory("production", checkpoint_seconds=60)
    workspace_id, key = stack.new_workspace()
    ids = []
    for _ in range(2):
        response = stack.client.post("/api/v1/events/batch", headers=bearer(key), json={
            "events": [{"action": "user.login", "actor": {"id": "u", "type": "user"}}] * 650})
        ids += response.json["ids"]
    assert stack.container.process_pending_events().execute(workspace_id).linked == 1300
    sizes = stack.sql("SELECT tree_size FROM checkpoints WHERE workspace_id = :w",
                      w=workspace_id)
    assert [size for size, in sizes] == [500]  # chunks of 500, 500, 300
    note = stack.client.get("/api/v1/log/checkpoint", headers=bearer(key)).data.decode()
    first = parse_checkpoint(parse_note(note).text)
    assert first.tree_size == 500
    for index in (0, 255, 256, 499):
        proof = stack.client.get(f"/api/v1/events/{ids[index]}/proof?tree_size=500",
                                 headers=bearer(key)).json
        assert verify_inclusion(index, 500, b64(proof["leaf_hash"]),
                                [b64(h) for h in proof["inclusion_path"]], first.root_hash)


@pytest.mark.parametrize("kind", ["embedded", "production"])
def test_status_and_metrics_show_events_waiting_for_a_checkpoint(stack_factory: Any,
                                                                 kind: str) -> None:
    """A checkpoint is owed from the later of the latest signing and the first unsigned
    event's arrival; the times are moved back to read known ages off the database."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from adapters.sql import tables as t
    stack = stack_factory(kind, checkpoint_seconds=60)
    event = {"action": "user.login", "actor": {"id": "u", "type": "user"}}
    other, other_key = stack.new_workspace("Other")  # a longer log, all of it signed
    stack.client.post("/api/v1/events/batch", headers=bearer(other_key),
                      json={"events": [event] * 1000})
    stack.container.process_pending_events().execute(other)
    assert stack.container.transparency_log().sign(other).tree_size == 1000
    workspace_id, key = stack.new_workspace()
    assert stack.client.post("/api/v1/events/batch", headers=bearer(key), json={
        "events": [event] * 650}).status_code == 202
    assert stack.container.process_pending_events().execute(workspace_id).linked == 650
    now = datetime.now(UTC)

    def move_back(column: Any, by: timedelta, *where: Any) -> None:
        table = column.table
        with stack.container.engine().begin() as connection:
            connection.execute(update(table).values({column.name: now - by}).where(
                table.c.workspace_id == workspace_id, *where))

    def owed() -> tuple[int, float]:
        report = stack.container.processing_status().execute(workspaces=1000)
        mine = [log for log in report.unsigned if log.workspace_id == workspace_id]
        assert report.unsigned_events >= sum(log.unsigned_events for log in mine)
        return (mine[0].unsigned_events, mine[0].lag_seconds) if mine else (0, 0.0)

    for signed_at in (t.checkpoints.c.created_at, t.latest_checkpoints.c.created_at):
        move_back(signed_at, timedelta(hours=1))  # 500 signed with the first chunk
    move_back(t.events.c.received_at, timedelta(hours=2))
    count, lag = owed()
    assert count == 150 and 3600 <= lag < 3660  # since the checkpoint: they came before it
    move_back(t.events.c.received_at, timedelta(minutes=10),
              t.events.c.sequence == 501)
    count, lag = owed()
    assert count == 150 and 600 <= lag < 660  # since the first of them came, after it
    metrics = stack.client.get("/metrics").data.decode()
    values = {line.split()[0]: float(line.split()[1]) for line in metrics.splitlines()
              if line.startswith(("auditrail_events_unsigned ",
                                  "auditrail_checkpoint_lag_seconds "))}
    assert values["auditrail_events_unsigned"] >= 150
    assert values["auditrail_checkpoint_lag_seconds"] >= 600
    for signed_at in (t.checkpoints.c.created_at, t.latest_checkpoints.c.created_at):
        move_back(signed_at, -timedelta(days=365))  # a year ahead, as one UPDATE would
    count, lag = owed()
    assert count == 150 and 600 <= lag < 660  # not believed: the wait is not hidden,
    assert stack.container.transparency_log().sweep() >= 1  # nor signing held back
    assert owed() == (0, 0.0)
    assert other not in {log.workspace_id for log in
                         stack.container.processing_status().execute(workspaces=1000).unsigned}


def test_the_sweep_takes_a_checkpoint_an_older_release_signed_as_the_latest(
        stack: Stack) -> None:
    """A release from before the latest-checkpoint record signs without keeping it: the
    sweep finds that workspace due (those waiting longest first), signs nothing new, and
    brings the record up to date."""
    from datetime import UTC, datetime, timedelta
    other, other_key = stack.new_workspace()
    workspace_id, key = stack.new_workspace()
    for each_key in (other_key, key):
        ingest(stack, each_key, 5)
        signed(stack, each_key, 5)
    [(signed_at,)] = stack.sql("SELECT created_at FROM latest_checkpoints "
                               "WHERE workspace_id = :w", w=workspace_id)
    for each, hours in ((other, 1), (workspace_id, 2)):
        stack.sql("UPDATE latest_checkpoints SET tree_size = 2, created_at = :t "
                  "WHERE workspace_id = :w", w=each,
                  t=(datetime.now(UTC) - timedelta(hours=hours)).replace(tzinfo=None))

    def due() -> list[str]:
        with stack.container.uow(read_only=True) as uow:
            return uow.checkpoints.due(datetime.now(UTC), datetime.now(UTC), 1000)

    waiting = due()  # other tests' workspaces may be in it too, on the shared database
    assert waiting.index(workspace_id) < waiting.index(other)
    stack.container.transparency_log().sweep()
    assert workspace_id not in due() and other not in due()
    assert stack.sql("SELECT tree_size, created_at FROM latest_checkpoints "
                     "WHERE workspace_id = :w", w=workspace_id) == [(5, signed_at)]
    assert stack.sql("SELECT tree_size FROM checkpoints WHERE workspace_id = :w",
                     w=workspace_id) == [(5,)]


def test_the_sweep_leaves_an_empty_tree_to_be_signed_when_asked(stack: Stack) -> None:
    workspace_id, key = stack.new_workspace()
    stack.container.transparency_log().sweep()
    assert stack.sql("SELECT count(*) FROM checkpoints WHERE workspace_id = :w",
                     w=workspace_id)[0][0] == 0
    note = stack.client.get("/api/v1/log/checkpoint", headers=bearer(key)).data.decode()
    assert parse_checkpoint(parse_note(note).text).tree_size == 0


def test_proofs_refuse_what_cannot_be_proved(stack: Stack) -> None:
    _, key = stack.new_workspace()
    [event_id] = ingest(stack, key, 1)
    signed(stack, key, 1)
    pending = stack.client.post("/api/v1/events", headers=bearer(key), json={
        "action": "a.b", "actor": {"id": "u", "type": "user"}}).json["id"]
    response = stack.client.get(f"/api/v1/events/{pending}/proof", headers=bearer(key))
    assert response.status_code == 409 and response.json["error"]["code"] == "not_checkpointed"
    assert int(response.headers["Retry-After"]) >= 1
    for query, parameter in (("tree_size=5", "tree_size"), ("tree_size=abc", "tree_size")):
        bad = stack.client.get(f"/api/v1/events/{event_id}/proof?{query}", headers=bearer(key))
        assert bad.status_code == 400 and f"'{parameter}'" in bad.json["error"]["message"]
    for query in ("from_size=2", "from_size=-1", "from_size=1&to_size=9", "to_size=1"):
        bad = stack.client.get(f"/api/v1/log/consistency?{query}", headers=bearer(key))
        assert bad.status_code == 400, query
        assert bad.json["error"]["code"] == "invalid_parameter"


@pytest.mark.parametrize("size", ["9223372036854775807", "9223372036854775808", "1" + "0" * 30])
def test_a_tree_size_past_any_sequence_is_not_found(stack: Stack, size: str) -> None:
    """The fuzzer's 2**63 reached the database as an integer it cannot hold: a 500."""
    _, key = stack.new_workspace()
    response = stack.client.get(f"/api/v1/log/checkpoints/{size}", headers=bearer(key))
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"


def test_a_size_never_signed_is_named_in_the_404(stack: Stack) -> None:
    _, key = stack.new_workspace()
    response = stack.client.get("/api/v1/log/checkpoints/7", headers=bearer(key))
    assert response.status_code == 404
    assert response.json["error"]["message"] == "No signed checkpoint with tree size '7'."


def test_other_workspaces_logs_are_not_reachable(stack: Stack) -> None:
    _, owner = stack.new_workspace("Owner")
    _, other = stack.new_workspace("Other")
    [event_id] = ingest(stack, owner, 1)
    signed(stack, owner, 1)
    assert stack.client.get(f"/api/v1/events/{event_id}/proof",
                            headers=bearer(other)).status_code == 404
    assert parse_checkpoint(parse_note(stack.client.get(
        "/api/v1/log/checkpoint", headers=bearer(other)).data.decode()).text).tree_size == 0
    assert stack.client.get("/api/v1/log/checkpoints/1", headers=bearer(other)).status_code \
        == 404
    assert log_key(stack, other)["origin"] != log_key(stack, owner)["origin"]


def go_checker(tmp_path: Path, source: Path = CHECKER) -> Path:
    """interop/checker.go (or another ``source``) built with golang.org/x/mod/sumdb/note
    and sumdb/tlog, as Debian ships them."""
    go = shutil.which("go")
    if go is None or not Path("/usr/share/gocode/src/golang.org/x/mod/sumdb").exists():
        unavailable("Go and golang-golang-x-mod-dev are not installed (.ci/run installs them)")
    checker = tmp_path / "checker"
    built = subprocess.run([go, "build", "-o", str(checker), str(source)],
                           env={"GO111MODULE": "off", "GOPATH": "/usr/share/gocode",
                                "GOCACHE": str(tmp_path / "cache"), "HOME": str(tmp_path),
                                "PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    return checker


def test_go_verifies_the_checkpoints_and_proofs_unchanged(stack: Stack,
                                                          tmp_path: Path) -> None:
    """golang.org/x/mod/sumdb/note and sumdb/tlog, unchanged; an ingest receipt is a
    signed note of the same key too."""
    checker = go_checker(tmp_path)
    _, key = stack.new_workspace()
    ids = ingest(stack, key, 70)
    small = signed(stack, key, 70)
    ids += ingest(stack, key, 300)
    large = signed(stack, key, 370)
    receipt = stack.client.post("/api/v1/events", headers={**bearer(key), "Prefer": "receipt"},
                                json={"action": "user.login", "actor": {"id": "u", "type": "user"}}
                                ).json["receipt"]
    roots = {size: base64.b64encode(parse_checkpoint(parse_note(note).text).root_hash).decode()
             for size, note in ((70, small), (370, large))}
    records = []
    for index in (0, 1, 69, 70, 255, 256, 369):
        proof = stack.client.get(f"/api/v1/events/{ids[index]}/proof",
                                 headers=bearer(key)).json
        records.append({"tree_size": 370, "root": roots[370], "index": index,
                        "leaf": proof["leaf_hash"], "proof": proof["inclusion_path"]})
    consistency = stack.client.get("/api/v1/log/consistency?from_size=70&to_size=370",
                                   headers=bearer(key)).json
    document = {"verifier_key": log_key(stack, key)["verifier_key"],
                "notes": [small, large, receipt], "records": records,
                "trees": [{"old_size": 70, "old_root": roots[70], "new_size": 370,
                           "new_root": roots[370], "proof": consistency["proof"]}]}
    run = subprocess.run([str(checker)], input=json.dumps(document), capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("ok ") == 3 + len(records) + 1
    records[3]["leaf"] = records[4]["leaf"]  # another leaf at that position: refused
    refused = subprocess.run([str(checker)], input=json.dumps(document), capture_output=True,
                             text=True)
    assert refused.returncode == 1 and "FAIL record 3" in refused.stdout


def verify_report(stack: Stack, key: str) -> dict[str, Any]:
    return stack.client.get("/api/v1/events/verify", headers=bearer(key)).json


def test_a_suffix_rewritten_with_recomputed_chain_hashes_is_caught(stack: Stack) -> None:
    """The attack the chain alone missed: every hash after the change recomputed."""
    workspace_id, key = stack.new_workspace()
    ingest(stack, key, 20)
    signed(stack, key, 20)
    rows = stack.sql("SELECT id, sequence FROM events WHERE workspace_id = :w "
                     "ORDER BY sequence", w=workspace_id)
    _rewrite_from(stack, key, workspace_id, rows, 15)
    report = verify_report(stack, key)
    assert report["valid"] is False
    assert (report["reason"], report["first_invalid_sequence"]) == ("tree_mismatch", 15)


def _rewrite_from(stack: Stack, key: str, workspace_id: str, rows: list, start: int) -> None:
    """As an attacker holding the database: change event ``start`` and recompute the chain
    hash of it and of every later event."""
    previous = None
    for event_id, sequence in rows:
        document = stack.client.get(f"/api/v1/events/{event_id}", headers=bearer(key)).json
        if sequence < start:
            previous = document["hash"]
            continue
        if sequence == start:
            document["action"] = "user.logout"
        document["prev_hash"] = previous
        document["hash"] = event_hash(previous, document_core(document))
        stack.sql("UPDATE events SET action = :a, prev_hash = :p, hash = :h WHERE id = :id",
                  a=document["action"], p=previous, h=document["hash"], id=event_id)
        previous = document["hash"]
    stack.sql("UPDATE chain_heads SET hash = :h WHERE workspace_id = :w", h=previous,
              w=workspace_id)


def test_a_tree_rewritten_to_match_no_longer_gives_the_signed_root(stack: Stack) -> None:
    workspace_id, key = stack.new_workspace()
    ingest(stack, key, 20)
    signed(stack, key, 20)
    tiles = stack.sql("SELECT hashes FROM tree_tiles WHERE workspace_id = :w AND level = 0",
                      w=workspace_id)
    data = bytearray(tiles[0][0])
    data[5 * 32] ^= 0xFF  # leaf 5, as someone recomputing the tree after a rewrite would
    stack.sql("UPDATE tree_tiles SET hashes = :d WHERE workspace_id = :w AND level = 0",
              d=bytes(data), w=workspace_id)
    report = verify_report(stack, key)
    assert report["valid"] is False and report["reason"] in ("tree_mismatch",
                                                             "checkpoint_mismatch")


def test_a_retention_anchor_is_signed_and_a_forged_one_is_caught(stack_factory: Any) -> None:
    from datetime import UTC, datetime, timedelta

    from domain.timestamps import format_timestamp
    stack = stack_factory("embedded", checkpoint_seconds=1)
    workspace_id, key = stack.new_workspace("R", plan="starter")  # 90 days
    old = format_timestamp(datetime.now(UTC) - timedelta(days=100))
    stack.client.post("/api/v1/events/batch", headers=bearer(key), json={"events": [
        {"action": "a.b", "actor": {"id": "u", "type": "user"}, "occurred_at": old}] * 5})
    ingest(stack, key, 10)
    before = parse_checkpoint(parse_note(signed(stack, key, 15)).text)
    assert stack.container.apply_retention().execute() == 5
    report = verify_report(stack, key)
    assert report["valid"] is True and report["anchor"]["sequence"] == 5
    proof = stack.client.get("/api/v1/log/consistency?from_size=15",
                             headers=bearer(key)).json
    assert b64(proof["from_root"]) == before.root_hash  # retention kept the tree
    # An attacker removes events 6-8 early and moves the anchor over them:
    [(hash_8,)] = stack.sql("SELECT hash FROM events WHERE workspace_id = :w AND "
                            "sequence = 8", w=workspace_id)
    stack.sql("DELETE FROM event_terms WHERE event_id IN (SELECT id FROM events WHERE "
              "workspace_id = :w AND sequence <= 8)", w=workspace_id)
    stack.sql("DELETE FROM events WHERE workspace_id = :w AND sequence <= 8", w=workspace_id)
    stack.sql("UPDATE chain_heads SET anchor_sequence = 8, anchor_hash = :h WHERE "
              "workspace_id = :w", h=hash_8, w=workspace_id)
    forged = verify_report(stack, key)
    assert (forged["valid"], forged["reason"], forged["detail"]) == \
        (False, "anchor_mismatch", "signature")
    stack.sql("UPDATE chain_heads SET anchor_note = NULL WHERE workspace_id = :w",
              w=workspace_id)
    assert verify_report(stack, key)["detail"] == "unsigned"


def export_file(stack: Stack, key: str, path: Path, **filters: Any) -> dict[str, Any]:
    export = stack.client.post("/api/v1/exports", headers=bearer(key),
                               json={"format": "ndjson", "filters": filters}).json
    stack.drain()
    location = stack.client.get(f"/api/v1/exports/{export['id']}/download",
                                headers=bearer(key)).headers["Location"]
    parts = urlsplit(location)
    path.write_bytes(stack.client.get(f"{parts.path}?{parts.query}").data)
    evidence = stack.client.get(f"/api/v1/exports/{export['id']}/evidence",
                                headers=bearer(key))
    assert evidence.status_code == 200, evidence.data[:300]
    return json.loads(evidence.data)


def offline(file: Path, evidence: dict[str, Any], verifier_key: str) -> Any:
    evidence_file = file.with_suffix(".evidence.json")
    evidence_file.write_text(json.dumps(evidence))
    return CliRunner().invoke(main, ["verify", str(file), "--evidence", str(evidence_file),
                                     "--verifier-key", verifier_key])


def test_an_export_with_its_evidence_is_proved_offline(stack: Stack, tmp_path: Path) -> None:
    _, key = stack.new_workspace()
    ingest(stack, key, 40)
    ingest(stack, key, 9, action="admin.user.delete")
    vkey = log_key(stack, key)["verifier_key"]
    evidence = export_file(stack, key, tmp_path / "all.ndjson")
    assert (evidence["first_sequence"], evidence["last_sequence"], evidence["row_count"]) == \
        (1, 49, 49)
    assert parse_checkpoint(parse_note(evidence["checkpoint"]).text).tree_size == 49
    result = offline(tmp_path / "all.ndjson", evidence, vkey)
    assert result.exit_code == 0, result.output
    assert "49 rows are in the log" in result.output and "none is missing" in result.output

    rows = (tmp_path / "all.ndjson").read_text().splitlines()
    (tmp_path / "gap.ndjson").write_text("\n".join(rows[:10] + rows[11:]) + "\n")
    gap = offline(tmp_path / "gap.ndjson", {**evidence, "file_sha256": None}, vkey)
    assert gap.exit_code == 1 and "sequence" in gap.output
    swapped_rows = [*rows[:5], rows[6], rows[5], *rows[7:]]
    (tmp_path / "swapped.ndjson").write_text("\n".join(swapped_rows) + "\n")
    swapped = offline(tmp_path / "swapped.ndjson", {**evidence, "file_sha256": None}, vkey)
    assert swapped.exit_code == 1 and "sequence_gap at sequence 7" in swapped.output

    other_key = log_key(stack, stack.new_workspace("Other")[1])["verifier_key"]
    assert offline(tmp_path / "all.ndjson", evidence, other_key).exit_code == 1

    filtered = export_file(stack, key, tmp_path / "admin.ndjson", action="admin.*")
    assert len(filtered["proofs"]) == 9 and "frontier" not in filtered
    assert (filtered["first_sequence"], filtered["last_sequence"]) == (41, 49)
    result = offline(tmp_path / "admin.ndjson", filtered, vkey)
    assert result.exit_code == 0, result.output and "each is included" in result.output
    lines = (tmp_path / "admin.ndjson").read_text().splitlines()
    doctored = json.loads(lines[3])
    doctored["metadata"] = {"note": "changed"}  # chain hashes recomputed by the forger
    doctored["hash"] = event_hash(doctored["prev_hash"], document_core(doctored))
    lines[3] = json.dumps(doctored)
    (tmp_path / "doctored.ndjson").write_text("\n".join(lines) + "\n")
    refused = offline(tmp_path / "doctored.ndjson", {**filtered, "file_sha256": None}, vkey)
    assert refused.exit_code == 1 and "not in the signed tree" in refused.output


INSTALLATION_LIBRARIES = {"sqlalchemy", "alembic", "psycopg", "redis", "rq", "flask",
                          "gunicorn", "geoip2", "prometheus_client", "marshmallow"}
RUN_AND_LIST_LOADED = """
import sys
from entrypoints.cli import main
try:
    main(sys.argv[1:])
finally:
    print(",".join(sorted({libraries!r} & {{name.split(".")[0] for name in sys.modules}})))
"""


def run_command(*args: str, env: dict[str, str] | None = None,
                ) -> tuple[subprocess.CompletedProcess, str]:
    """``auditrail ARGS`` in a process of its own, and which of the installation's
    libraries it loaded (comma-separated)."""
    script = RUN_AND_LIST_LOADED.format(libraries=INSTALLATION_LIBRARIES)
    ran = subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True,
                         text=True, timeout=60)
    *said, loaded = ran.stdout.splitlines() or [""]
    return subprocess.CompletedProcess(ran.args, ran.returncode, "\n".join(said),
                                       ran.stderr), loaded


def test_an_auditors_offline_check_loads_none_of_the_installations_libraries(
        stack: Stack, tmp_path: Path) -> None:
    """``auditrail verify`` runs on auditors' machines: it starts without the second of
    imports the server's database, queue and web libraries take (``log monitor`` too: see
    the test of the monitor against a running server)."""
    _, key = stack.new_workspace()
    ingest(stack, key, 5)
    evidence = tmp_path / "all.evidence.json"
    evidence.write_text(json.dumps(export_file(stack, key, tmp_path / "all.ndjson")))
    checked, loaded = run_command("verify", str(tmp_path / "all.ndjson"), "--evidence",
                                  str(evidence), "--verifier-key",
                                  log_key(stack, key)["verifier_key"])
    assert checked.returncode == 0 and "5 rows are in the log" in checked.stdout, \
        checked.stderr
    assert loaded == ""


def rewrite_history(stack: Stack, workspace_id: str, key: str, size: int) -> None:
    """What a holder of the database alone can do: alter the leaf of event 3, drop the
    checkpoints, and have the workers sign the altered tree, grown by one event to
    ``size``, as they sign any new one."""
    tiles = stack.sql("SELECT hashes FROM tree_tiles WHERE workspace_id = :w AND level = 0",
                      w=workspace_id)
    data = bytearray(tiles[0][0])
    data[3 * 32] ^= 0x01
    stack.sql("UPDATE tree_tiles SET hashes = :d WHERE workspace_id = :w AND level = 0",
              d=bytes(data), w=workspace_id)
    stack.sql("DELETE FROM checkpoints WHERE workspace_id = :w", w=workspace_id)
    ingest(stack, key, 1)
    signed(stack, key, size)


def test_the_monitor_keeps_the_log_honest(stack: Stack, tmp_path: Path) -> None:
    """``auditrail log monitor`` against a real server process would need one per stack;
    here its function runs against the app through httpx's WSGI transport."""
    import httpx

    from entrypoints import log_monitor
    workspace_id, key = stack.new_workspace()
    ingest(stack, key, 30)
    signed(stack, key, 30)
    vkey = log_key(stack, key)["verifier_key"]
    state = tmp_path / "state.json"
    original = httpx.Client

    def client(**kwargs: Any) -> httpx.Client:
        return original(transport=httpx.WSGITransport(app=stack.app), **kwargs)

    check = Ed25519Verifier().verify
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(log_monitor.httpx, "Client", client)
        assert "size 30" in log_monitor.run_monitor("http://log", key, state, vkey, check)
        ingest(stack, key, 5)
        signed(stack, key, 35)
        assert "consistent with size 30" in log_monitor.run_monitor("http://log", key,
                                                                    state, None, check)
        rewrite_history(stack, workspace_id, key, 36)
        with pytest.raises(log_monitor.MonitorFailed, match="rewritten"):
            log_monitor.run_monitor("http://log", key, state, None, check)
        assert json.loads(state.read_text())["tree_size"] == 35  # the honest one is kept
        with pytest.raises(log_monitor.MonitorFailed, match="differs"):
            log_monitor.run_monitor("http://log", key, state, "x+00000000+AAAA", check)
        stack.container.delete_workspace().execute(workspace_id)  # the operator's doing
        with pytest.raises(log_monitor.LogUnreachable,
                           match="checkpoint answered 401: A valid API key is required"):
            log_monitor.run_monitor("http://log", key, state, None, check)
        assert json.loads(state.read_text())["tree_size"] == 35  # kept for when it is back


def test_webhook_deliveries_and_alerts_carry_the_latest_checkpoint(stack_factory: Any) -> None:
    """The log's signed state, kept by systems its operator does not control."""
    from tests.receivers import receiver
    stack = stack_factory("embedded", checkpoint_seconds=1, allow_private_destinations=True,
                          stream_batch_seconds=0.0)
    _, key = stack.new_workspace()
    ingest(stack, key, 3)
    signed(stack, key, 3)
    vkey = parse_verifier_key(log_key(stack, key)["verifier_key"])
    with receiver() as hook, receiver() as alerts:
        stack.client.post("/api/v1/streams", headers=bearer(key), json={
            "name": "s", "type": "webhook", "config": {"url": hook.url}})
        stack.client.post("/api/v1/alert-rules", headers=bearer(key), json={
            "name": "deletions", "match": {"actions": ["admin.*"]},
            "notify": {"webhook_url": alerts.url}})
        ingest(stack, key, 2, action="admin.user.delete")
        assert stack.deliver_until(lambda: hook.bodies() and alerts.bodies())
        bodies = [hook.bodies()[0], alerts.bodies()[0]]
    for body in bodies:
        note = parse_note(body["checkpoint"])
        assert Ed25519Verifier().verify(vkey.public_key, note.text.encode(),
                                        signature_by(note, vkey))
        assert parse_checkpoint(note.text).tree_size >= 3


def test_the_signing_key_appears_nowhere_but_its_file(stack_factory: Any, tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    """Not in the database (every byte of the embedded one), not in a log line of a whole
    run - signing, a diverged tree, a failed export - and not in a settings error."""
    import logging

    from entrypoints.settings import Settings, SettingsError
    caplog.set_level(logging.DEBUG)
    stack = stack_factory("embedded", checkpoint_seconds=1)
    workspace_id, key = stack.new_workspace()
    ingest(stack, key, 5)
    signed(stack, key, 5)
    export_file(stack, key, tmp_path / "all.ndjson")
    stack.sql("UPDATE tree_tiles SET hashes = :d WHERE workspace_id = :w AND level = 0",
              d=bytes(32 * 5), w=workspace_id)
    assert verify_report(stack, key)["valid"] is False
    export = stack.client.post("/api/v1/exports", headers=bearer(key),
                               json={"format": "ndjson", "filters": {}}).json
    stack.drain()
    diverged = stack.client.get(f"/api/v1/exports/{export['id']}/evidence",
                                headers=bearer(key))
    assert diverged.status_code == 500 and "Traceback" not in diverged.data.decode()
    seed_text = (stack.settings.data_dir / "signing_key").read_text().strip()
    assert oct((stack.settings.data_dir / "signing_key").stat().st_mode & 0o777) == "0o600"
    seed = base64.b64decode(seed_text)
    for path in stack.settings.data_dir.glob("auditrail.db*"):
        data = path.read_bytes()
        assert seed not in data and seed_text.encode() not in data, path
    assert seed_text not in repr(stack.container.signer())
    assert any("no longer gives the root" in r.getMessage() for r in caplog.records)
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert seed_text not in logged and seed.hex() not in logged
    short = base64.b64encode(seed[:31]).decode()
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"AUDITRAIL_SIGNING_KEY": short})
    assert short not in str(refused.value) and "32-byte" in str(refused.value)


def test_a_worker_killed_between_linking_and_signing_leaves_no_event_uncovered_for_long(
        postgres_url: str, redis_url: str, tmp_path: Path) -> None:
    """A chunk linked too soon after the latest checkpoint is not signed with it: a worker
    that dies right after leaves the tree longer than its latest checkpoint, and no job
    behind it. Another worker, already running (its start-up upkeep long done), signs it
    within the cadence.

    The stack that links counts in minutes, so that its chunk is too soon to sign however
    slow the machine (with the survivor's 2 s, a second's stall between the first
    checkpoint and the chunk let it sign in CI); the survivor signs on its own 2 s."""
    from tests.integration.processes import environment, start_workers, stop, wait_for
    from tests.integration.stacks import production_stack
    stack = production_stack(postgres_url, redis_url, checkpoint_seconds=60,
                             data_dir=tmp_path / "var")
    env = environment(database_url=postgres_url, redis_url=redis_url,  # a queue of its own:
                      queue_name=f"{stack.settings.queue_name}-survivor",  # no job reaches it
                      data_dir=str(tmp_path / "var"), checkpoint_seconds="2")
    [survivor] = start_workers(1, env, tmp_path)
    try:
        workspace_id, key = stack.new_workspace()
        time.sleep(1)  # the survivor's start-up upkeep is over
        ingest(stack, key, 5)
        signed(stack, key, 5)
        assert stack.client.post("/api/v1/events/batch", headers=bearer(key), json={
            "events": [{"action": "user.login", "actor": {"id": "usr_1", "type": "user"}}] * 10
        }).status_code == 202
        assert stack.container.process_pending_events().execute(workspace_id).linked == 10
        linked = time.monotonic()  # and committed; the worker that linked them "dies" here

        def covered() -> int:
            return stack.sql("SELECT max(tree_size) FROM checkpoints WHERE workspace_id = :w",
                             w=workspace_id)[0][0]

        assert covered() == 5  # too soon after the first to be signed with the chunk
        assert wait_for(lambda: covered() == 15, timeout=2 + 2, interval=0.05), \
            (tmp_path / "worker0.log").read_text()
        waited = time.monotonic() - linked
    finally:
        assert stop(survivor) == 0
        stack.close()
    assert waited <= 2 + 1  # the cadence, plus the sweep's one-second tick


def test_the_embedded_worker_signs_within_the_cadence_on_its_own(stack_factory: Any) -> None:
    """`make run`: the in-process worker's ticker covers what a drain left unsigned (a
    drain signs only when the latest checkpoint is old enough)."""
    stack = stack_factory("embedded", checkpoint_seconds=2)
    workspace_id, key = stack.new_workspace()
    ingest(stack, key, 5)
    ingest(stack, key, 3)  # right after: too soon for the drain to sign again
    linked = time.monotonic()

    def covered() -> int:
        return stack.sql("SELECT max(tree_size) FROM checkpoints WHERE workspace_id = :w",
                         w=workspace_id)[0][0]

    deadline = linked + 2 + 2
    while covered() != 8 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert covered() == 8
    assert time.monotonic() - linked <= 2 + 1


def test_the_monitor_command_watches_a_running_server(tmp_path: Path) -> None:
    """``auditrail log monitor`` as an auditor's cron runs it, against ``auditrail serve``
    whose embedded worker signs on its own: 0 while the log grows, 2 when it cannot ask."""
    from tests.integration.processes import (
        AUDITRAIL,
        environment,
        free_port,
        start_server,
        stop,
        wait_for,
    )
    from tests.integration.stacks import admin_key_in
    key = admin_key_in(tmp_path / "var")
    env = environment(data_dir=str(tmp_path / "var"), checkpoint_seconds="1")
    server, base = start_server(env, tmp_path / "serve.log")
    state = tmp_path / "monitor" / "state.json"

    def post(count: int) -> None:
        body = json.dumps({"events": [{"action": "a", "actor": {"id": "u", "type": "u"}}]
                           * count}).encode()
        request = urllib.request.Request(f"{base}/api/v1/events/batch", data=body, headers={
            **bearer(key), "Content-Type": "application/json"})
        assert urllib.request.urlopen(request, timeout=10).status == 202

    def size() -> int:
        request = urllib.request.Request(f"{base}/api/v1/log/checkpoint", headers=bearer(key))
        note = urllib.request.urlopen(request, timeout=10).read().decode()
        return parse_checkpoint(parse_note(note).text).tree_size

    def monitor(*extra: str, url: str = base) -> subprocess.CompletedProcess:
        return subprocess.run([AUDITRAIL, "log", "monitor", "--url", url, "--state",
                               str(state), *extra], env={**env, "AUDITRAIL_API_KEY": key},
                              capture_output=True, text=True, timeout=60)

    try:
        request = urllib.request.Request(f"{base}/api/v1/log/key", headers=bearer(key))
        vkey = json.loads(urllib.request.urlopen(request, timeout=10).read())["verifier_key"]
        post(10)
        assert wait_for(lambda: size() == 10, timeout=20)
        first = monitor("--verifier-key", vkey)
        assert first.returncode == 0 and "at size 10" in first.stdout, first.stderr
        again, loaded = run_command("log", "monitor", "--url", base, "--state", str(state),
                                    env={**env, "AUDITRAIL_API_KEY": key})
        assert again.returncode == 0 and "at size 10" in again.stdout, again.stderr
        assert loaded == ""  # cron runs it every few minutes: no second of imports each
        received = tmp_path / "received"  # a receiver's folder: a body a file, by day
        (received / "2026-12-05").mkdir(parents=True)
        (received / "2026-12-05" / "dlv_1.json").write_text(  # no newline; a Windows BOM
            "\ufeff" + json.dumps({"checkpoint": json.loads(state.read_text())["checkpoint"]}),
            encoding="utf-8")
        (received / ".dlv_2.json.tmp").write_text('{"checkpoint": ')  # being written: hidden
        post(5)
        assert wait_for(lambda: size() == 15, timeout=20)
        grown = monitor("--seen", str(received))  # the key comes from the state file now
        assert grown.returncode == 0 and "consistent with size 10" in grown.stdout
        assert "the checkpoint seen elsewhere (size 10) is in its history" in grown.stdout
        away = monitor(url=f"http://127.0.0.1:{free_port()}")
        assert away.returncode == 2 and "could not check" in away.stderr
        assert json.loads(state.read_text())["tree_size"] == 15
    finally:
        stop(server)


def test_the_monitor_asks_again_through_a_failure_that_passes(
        stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A server process restarting, or the database failing over, cuts a connection or
    answers 503 for a moment: a run reading thousands of tiles asks again rather than
    saying "could not check". A log that stays down still fails the run after a few
    tries, and a search stopped at its time limit is not asked again at all."""
    import httpx

    from entrypoints import log_monitor
    from entrypoints.log_monitor import asking
    from tests.integration.log_transport import Interrupted, monitor_through
    monkeypatch.setattr(asking, "_PASSING_WAITS", (0.0, 0.0, 0.0))
    _, key = stack.new_workspace()
    ingest(stack, key, 30)
    signed(stack, key, 30)
    vkey = log_key(stack, key)["verifier_key"]
    state, check = tmp_path / "state.json", Ed25519Verifier().verify

    def unavailable(code: str = "unavailable") -> httpx.Response:
        return httpx.Response(503, headers={"Retry-After": "0"}, json={"error": {
            "code": code, "message": "The database is unavailable; retry shortly."}})

    passing = Interrupted(stack.app, [httpx.ConnectError("cut"), unavailable(),
                                      httpx.Response(502)])
    monitor_through(monkeypatch, passing)
    assert "at size 30" in log_monitor.run_monitor("http://log", key, state, vkey, check)
    assert passing.requests >= 4  # the three failures, asked again, then the answer
    for failures, asked in (([unavailable()] * 4, 4), ([httpx.ConnectError("cut")] * 4, 4),
                            ([unavailable("query_timeout")], 1)):
        down = Interrupted(stack.app, failures)
        monitor_through(monkeypatch, down)
        with pytest.raises(log_monitor.LogUnreachable):
            log_monitor.run_monitor("http://log", key, state, None, check)
        assert down.requests == asked
    assert json.loads(state.read_text())["tree_size"] == 30


def test_what_a_failing_log_says_reaches_the_monitor_printable_and_short(
        tmp_path: Path) -> None:
    """The monitor watches a party it does not trust: an error's message is shown without
    control characters (a terminal's escape sequences) and cut to 200 characters."""
    import httpx

    from domain.signed_notes import verifier_key
    from entrypoints import log_monitor

    def answer(_: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"error": {"code": "unavailable",
                                                   "message": "\x1b[2Jdown" + "x" * 500}})
    original = httpx.Client
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(log_monitor.asking, "_PASSING_WAITS", ())
        patch.setattr(log_monitor.httpx, "Client", lambda **kwargs: original(
            transport=httpx.MockTransport(answer), **kwargs))
        with pytest.raises(log_monitor.LogUnreachable) as failed:
            log_monitor.run_monitor("http://log", "ak_x", tmp_path / "state.json",
                                    verifier_key("log.example/ws_1", bytes(32)),
                                    lambda *_: True)
    said = str(failed.value)
    assert "answered 503: [2Jdownxxx" in said and "\x1b" not in said
    assert len(said) < 260
