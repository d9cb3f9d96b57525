"""The typed API against a real server: resources, errors in the contract's shape, lazy
paging, exports downloaded with their digest checked, proofs checked locally, and the
monitor."""

from __future__ import annotations

import base64
import dataclasses
import gzip
import hashlib
import json
import os
import re
import sqlite3
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

import auditrail_client
from auditrail_client import (
    Auditrail,
    BadRequest,
    Conflict,
    LogDiverged,
    Monitor,
    MonitorAlarm,
    NotFound,
    ProofInvalid,
    QueryTimeout,
    RateLimited,
    TransportError,
    Unauthenticated,
    ValidationFailed,
    accepted_digest,
    check_receipt,
    verify_archive,
    verify_export,
)
from auditrail_client.proofs import (
    b64decode_all,
    check_checkpoint,
    check_cosigned,
    event_chain_hash,
    event_leaf_hash,
)

EVENT = {"action": "user.login", "actor": {"id": "usr_1", "type": "user", "name": "Jane"},
         "targets": [{"id": "doc_1", "type": "document"}],
         "context": {"ip_address": "203.0.113.7", "user_agent": "pytest"},
         # numbers as RFC 8785 must print them: the leaf hash is checked against the server
         "metadata": {"ratio": 0.1, "big": 1e21, "small": 1e-7, "whole": 5.0, "n": -0.5,
                      "text": "é\u2028\"\\\x01", "list": [1, 2.5, None, True]}}


@pytest.fixture
def client(server) -> Auditrail:
    return Auditrail(server.url, server.workspace())


def processed(client: Auditrail, event_id: str) -> object:
    deadline = time.monotonic() + 20
    while (event := client.events.get(event_id)).status != "processed":
        assert time.monotonic() < deadline, "not processed"
        time.sleep(0.1)
    return event


def test_events_round_trip_and_page_lazily(client: Auditrail) -> None:
    run = uuid.uuid4().hex[:8]
    accepted = client.events.create({**EVENT, "action": f"t.{run}"})
    assert accepted.status == "pending" and accepted.id.startswith("evt_")
    ids = client.events.create_batch([{**EVENT, "action": f"t.{run}"}] * 4)
    assert len(ids) == 4
    pages = client.events.list(action=f"t.{run}", order="asc", page_size=2)
    listed = [event.id for event in pages]
    assert listed == [accepted.id, *ids] and pages.total_count == 5
    event = processed(client, ids[0])
    assert event.sequence is not None and event.hash == event_chain_hash(event.raw)
    report = client.events.verify()
    assert report.valid and report.checked >= 5
    stats = client.events.stats("actor_id", action=f"t.{run}", limit=1)
    assert (stats.group_by, stats.total, stats.other) == ("actor_id", 5, 0)
    assert stats.counts() == {EVENT["actor"]["id"]: 5}
    with pytest.raises(BadRequest):
        client.events.stats("nothing")


def test_events_are_found_by_their_metadata(client: Auditrail) -> None:
    """A string matches that string only; a number that number or its text."""
    run = uuid.uuid4().hex[:8]
    held = [{"order": 12, "plan": "pro"}, {"order": "12", "plan": "pro"},
            {"order": "12", "plan": "free"}, {"order": [12], "plan": "pro"}]
    ids = client.events.create_batch([{**EVENT, "action": f"t.{run}", "metadata": metadata}
                                      for metadata in held])
    def found(**metadata: object) -> list[str]:
        return [event.id for event in client.events.list(action=f"t.{run}", order="asc",
                                                         metadata=metadata)]
    assert found(order=12) == ids[:3]
    assert found(order="12") == ids[1:3]
    assert found(order="12", plan="pro") == [ids[1]]
    stats = client.events.stats("action", action=f"t.{run}", metadata={"plan": "pro"})
    assert stats.total == 3
    by_order = client.events.stats("metadata.order", action=f"t.{run}")
    assert by_order.counts() == {"12": 2, 12: 1, None: 1}
    assert auditrail_client.metadata_filters({"plan": "pro", "paid": True, "n": None}) == {
        "metadata.plan": '"pro"', "metadata.paid": "true", "metadata.n": "null"}
    with pytest.raises(TypeError, match="one value"):
        auditrail_client.metadata_filters({"order": [12]})


def test_errors_carry_the_contracts_fields(server, client: Auditrail) -> None:
    with pytest.raises(NotFound) as missing:
        client.events.get("evt_01JD0000000000000000000000")
    assert missing.value.status == 404 and missing.value.code == "not_found"
    assert missing.value.request_id.startswith("req_")
    with pytest.raises(ValidationFailed) as invalid:
        client.events.create({"action": "a", "actor": {"type": "user"}})
    assert invalid.value.details[0]["field"] == "actor.id"
    slow = Auditrail(server.url, server.workspace("--plan", "enterprise", "--rate-limit", "1"),
                     max_retries=0)
    slow.usage.get()
    with pytest.raises(RateLimited) as limited:
        slow.usage.get()
    assert limited.value.retry_after >= 1


def test_a_receipt_partly_checkpointed_waits_once_and_reads_the_rest_by_bundle() -> None:
    """A receipt whose last events no checkpoint covers yet (the log signs a busy
    workspace's new head every cadence): ``wait`` is spent once, on the last event, and
    what the latest checkpoint covers is still read by bundle - a changed event is named
    at once, and the first event not covered fails without a second wait."""
    from conftest import running_proxy, running_server

    with running_server(checkpoint_seconds="3600") as hourly, \
            running_proxy(hourly) as (url, faults):
        client = Auditrail(url, hourly.workspace())
        vkey = client.log.key().verifier_key
        # The workspace's first chunk (500 events) is checkpointed at once; the next
        # 100 wait for the next checkpoint, an hour later.
        batch = client.events.create_batch([EVENT] * 600, receipt=True)
        processed(client, batch.ids[-1])
        assert check_checkpoint(client.log.checkpoint(), vkey).tree_size == 500
        faults.seen.clear()
        with pytest.raises(Conflict) as waited:
            client.events.verify_receipt(batch.receipt, vkey, wait=1.5)
        assert waited.value.code == "not_checkpointed"
        asked = [path.split("?")[0] for _, path, _ in faults.seen]
        assert asked.count(f"/api/v1/events/{batch.ids[-1]}/proof") >= 2  # it waited
        assert asked.count(f"/api/v1/events/{batch.ids[500]}/proof") == 1  # it did not
        assert sum("/tile/entries/" in path for path in asked) == 2
        assert len(asked) < 20  # 500 events one by one: 1,000 requests

        with sqlite3.connect(hourly.data_dir / "auditrail.db") as db:  # as its owner could
            db.execute("UPDATE events SET body = replace(body, 'Jane', 'Joan') "
                       "WHERE id = ?", (batch.ids[7],))
        with pytest.raises(ProofInvalid, match=f"{batch.ids[7]} is not the event the log "
                                               f"accepted at"):
            client.events.verify_receipt(batch.receipt, vkey, wait=0.5)


def test_after_a_lost_key_the_monitor_pins_the_new_one_and_keeps_the_history(
        tmp_path: Path) -> None:
    """The operator lost the log's signing key for good and signs on with a new one
    (AUDITRAIL_SIGNING_KEY_LOST): ``key_lost=True`` pins the new key in place of the old,
    and the log it signs must still extend what the lost key signed."""
    from conftest import running_server

    old_seed, new_seed = (base64.b64encode(os.urandom(32)).decode() for _ in range(2))
    data, state = tmp_path / "var", tmp_path / "monitor.json"
    with running_server(data, signing_key=old_seed) as before:
        key = before.workspace()
        client = Auditrail(before.url, key)
        processed(client, client.events.create_batch([EVENT] * 3)[-1])
        old = client.log.key().verifier_key
        deadline = time.monotonic() + 20
        while check_checkpoint(client.log.checkpoint(), old).tree_size < 3:
            assert time.monotonic() < deadline, "not checkpointed"
            time.sleep(0.2)
        assert Monitor(client, old, state).check().tree_size == 3
    with running_server(data, signing_key=new_seed, signing_key_lost="1") as after:
        after.cli("signing-key", "countersign")  # what the lost key signed, signed anew
        client = Auditrail(after.url, key)
        new = client.log.key().verifier_key
        assert new != old
        with pytest.raises(MonitorAlarm, match="key_lost=True"):
            Monitor(client, new, state).check()
        result = Monitor(client, new, state, key_lost=True).check()
        assert (result.lost_key, result.previous_size, result.tree_size) == (old, 3, 3)
        assert Monitor(client, new, state).check().lost_key is None  # pinned from now on
        with pytest.raises(MonitorAlarm, match="differs"):  # the lost key: no more
            Monitor(client, old, state).check()


def test_a_query_over_the_servers_time_limit_is_raised_not_retried() -> None:
    from conftest import running_proxy, running_server

    # A microsecond: any search that reads more than a few rows is stopped.
    with running_server(query_timeout_seconds="0.000001") as strict, \
            running_proxy(strict) as (url, faults):
        client = Auditrail(url, strict.workspace(), max_retries=3)
        for _ in range(5):
            client.events.create_batch([EVENT] * 1000)
        with pytest.raises(QueryTimeout) as stopped:
            next(iter(client.events.list(action="user.*")))
        with pytest.raises(QueryTimeout):
            client.events.stats("actor_id")
        assert client.events.get(client.events.create(EVENT).id).action == EVENT["action"]
    assert (stopped.value.status, stopped.value.code) == (503, "query_timeout")
    assert "since/until" in stopped.value.message and stopped.value.retry_after is None
    asked = [path for _, path, _ in faults.seen if "/events?" in path or "/stats" in path]
    assert len(asked) == 2  # once each: a retry would only take as long again


def test_a_verification_waits_longer_and_is_not_asked_again_when_it_times_out(
        server, proxy) -> None:
    url, faults = proxy
    client = Auditrail(url, server.workspace(), timeout=0.5, max_retries=2)
    client.events.create(EVENT)
    faults.delay = 1.0  # every answer a second late: twice the client's timeout
    assert client.events.verify().valid  # verify waits 10 minutes unless told otherwise
    with pytest.raises(TransportError) as late:
        client.events.verify(timeout=0.5)
    assert late.value.read_timed_out
    with pytest.raises(TransportError):
        client.usage.get()  # a quick GET is tried again after its timeout, 3 times in all
    time.sleep(1.5)  # the proxy notes each request once it has its answer
    asked = [path.split("?")[0].rsplit("/", 1)[1] for _, path, _ in faults.seen]
    assert (asked.count("verify"), asked.count("usage")) == (2, 3)


def test_a_compressed_batch_is_gzip_on_the_wire_and_retried_as_one_request(
        server, proxy) -> None:
    url, faults = proxy
    client = Auditrail(url, server.workspace())
    faults.planned = ["lose"]  # stored, its answer lost: the retry replays it
    events = [{**EVENT, "metadata": {"n": n}} for n in range(200)]
    accepted = client.events.create_batch(events, compress=True, receipt=True)
    assert len(accepted.ids) == 200 and accepted.receipt
    sent = [(coding, size) for path, coding, size in faults.bodies if path.endswith("/batch")]
    assert [coding for coding, _ in sent] == ["gzip", "gzip"]
    assert all(size < len(json.dumps({"events": events})) / 5 for _, size in sent)
    stored = [client.events.get(event_id) for event_id in accepted.ids]
    assert [event.metadata["n"] for event in stored] == list(range(200))


def test_events_are_checked_without_being_stored(client: Auditrail) -> None:
    before = client.usage.get().events
    assert client.events.validate([EVENT, EVENT]) == 2
    with pytest.raises(ValidationFailed) as refused:
        client.events.validate([EVENT, {**EVENT, "action": "not an action"}])
    assert refused.value.details[0]["field"] == "events[1].action"
    assert client.usage.get().events == before  # nothing was stored


def test_an_idempotency_key_stores_once(client: Auditrail) -> None:
    first = client.events.create(EVENT, idempotency_key="same-key")
    again = client.events.create(EVENT, idempotency_key="same-key")
    assert first.id == again.id


def test_workspace_keys_usage_streams_and_rules(client: Auditrail) -> None:
    workspace = client.workspace.update(name="Renamed")
    assert workspace.name == "Renamed" and client.workspace.get().name == "Renamed"
    assert workspace.record_activity is False
    assert client.workspace.update(record_activity=True).record_activity is True
    assert workspace.legal_hold is False
    assert client.workspace.update(legal_hold=True).legal_hold is True
    assert client.workspace.update(legal_hold=False).legal_hold is False
    assert workspace.accepted_actions is None
    listed = client.workspace.update(accepted_actions=["user.*", "billing.*"])
    assert listed.accepted_actions == ["user.*", "billing.*"]
    with pytest.raises(ValidationFailed) as refused:
        client.events.create({**EVENT, "action": "usr.login"})
    assert refused.value.details[0]["field"] == "action"
    assert "did you mean 'user.login'?" in refused.value.details[0]["message"]
    assert client.workspace.update(accepted_actions=None).accepted_actions is None
    assert workspace.metadata_schemas is None
    schemas = {"user.*": {"properties": {"attempt": {"type": "integer"}}}}
    assert client.workspace.update(metadata_schemas=schemas).metadata_schemas == schemas
    with pytest.raises(ValidationFailed) as refused:
        client.events.create({**EVENT, "metadata": {"attempt": "second"}})
    assert refused.value.details[0]["field"] == "metadata.attempt"
    assert client.workspace.update(metadata_schemas=None).metadata_schemas is None
    key = client.api_keys.create("reader", ["events:read"])
    assert key.secret.startswith("ak_") and key.id in {k.id for k in client.api_keys.list()}
    rolled = client.api_keys.roll(key.id, expires_in_seconds=60)
    assert (rolled.name, rolled.scopes, rolled.raw["replaces"]["id"]) == ("reader",
                                                                         ["events:read"], key.id)
    assert rolled.secret.startswith("ak_") and rolled.raw["replaces"]["expires_at"]
    assert client.api_keys.revoke(key.id).revoked_at is not None
    recorded = [event.action for event in client.events.list(action="auditrail.*", order="asc")]
    assert recorded == ["auditrail.workspace.updated"] * 7 + ["auditrail.api_key.created",
                        "auditrail.api_key.rolled", "auditrail.api_key.created",
                        "auditrail.api_key.revoked"]  # pending or linked: listed either way
    assert client.usage.get().plan == "enterprise"
    stream = client.streams.create("siem", "webhook", {"url": "https://siem.example.com/in"})
    assert stream.config["secret"].startswith("whsec_")
    assert client.streams.update(stream.id, status="paused").status == "paused"
    assert [s.id for s in client.streams.list()] == [stream.id]
    client.streams.delete(stream.id)
    with pytest.raises(NotFound):
        client.streams.get(stream.id)
    rule = client.alert_rules.create(name="deletions", match={"actions": ["admin.*"]},
                                     notify={"webhook_url": "https://hooks.example.com/a"})
    assert client.alert_rules.update(rule.id, enabled=False).enabled is False
    sample = client.alert_rules.update(rule.id, notify={"webhook_url": "https://hooks.invalid/"})
    sent = client.alert_rules.test(sample.id)  # .invalid never resolves (RFC 6761)
    assert (sent["status"], sent["http_status"]) == ("failed", None)
    assert sent["alert_id"].startswith("alt_") and "hooks.invalid" in sent["error"]
    assert [r.id for r in client.alert_rules.list()] == [rule.id]
    assert list(client.alerts.list(rule_id=rule.id)) == []
    client.alert_rules.update(rule.id, enabled=True)
    processed(client, client.events.create({**EVENT, "action": "admin.user.delete"}).id)
    deadline = time.monotonic() + 20
    while not list(client.alerts.list(rule_id=rule.id)):
        assert time.monotonic() < deadline, "no alert"
        time.sleep(0.1)
    [alert] = client.alerts.list(group_key="workspace")
    assert alert.rule_id == rule.id and alert.group_key == "workspace"
    assert list(client.alerts.list(group_key="actor_id:usr_1")) == []
    [waiting] = client.alerts.list(notification_status="pending")  # .invalid: never sent
    assert waiting.id == alert.id
    assert list(client.alerts.list(notification_status="delivered")) == []
    client.alert_rules.delete(rule.id)


def test_exports_wait_and_download_with_the_digest_checked(client: Auditrail,
                                                          tmp_path: Path) -> None:
    ids = client.events.create_batch([EVENT] * 3)
    processed(client, ids[-1])
    export = client.exports.wait(client.exports.create().id, timeout=30, poll=0.2)
    assert export.status == "completed" and export.row_count == 3
    path = client.exports.download(export.id, tmp_path / "audit.ndjson")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == export.sha256
    # split on "\n" only: a row may hold U+2028, which str.splitlines() would cut at
    rows = [json.loads(line) for line in path.read_text().split("\n") if line]
    assert [row["id"] for row in rows] == ids
    evidence = client.exports.evidence(export.id)
    assert evidence["file_sha256"] == export.sha256 and evidence["row_count"] == 3


def test_an_archive_is_proved_against_a_checkpoint_and_a_rewritten_one_is_not(
        server, client: Auditrail, tmp_path: Path) -> None:
    """verify_archive: what ``auditrail verify --signed-checkpoint`` proves of an S3
    stream's archive (here the same rows, from an unfiltered export)."""
    first = client.events.create_batch([EVENT] * 3)
    processed(client, first[-1])
    deadline = time.monotonic() + 20  # checkpoints are signed as events are linked
    while int((signed := client.log.checkpoint()).split("\n")[1]) < 3:
        assert time.monotonic() < deadline, "no checkpoint of the first three"
        time.sleep(0.2)
    size = int(signed.split("\n")[1])
    processed(client, client.events.create_batch([EVENT] * 3)[-1])
    export = client.exports.wait(client.exports.create().id, timeout=30, poll=0.2)
    path = client.exports.download(export.id, tmp_path / "archive.ndjson")
    vkey = client.log.key().verifier_key
    verified = verify_archive(path, signed, vkey)
    assert (verified.rows, verified.proved) == (6, size) and size >= 3
    assert verified.origin.endswith("/" + client.workspace.get().id)
    other_log = Auditrail(server.url, server.workspace()).log.key()
    with pytest.raises(ProofInvalid, match="no signature by"):
        verify_archive(path, signed, other_log.verifier_key)
    rows = [json.loads(line) for line in path.read_text().split("\n") if line]
    folder = tmp_path / "bucket"  # as an S3 stream writes it: objects gzipped or not
    folder.mkdir()
    (folder / "000000000001.ndjson.gz").write_bytes(gzip.compress(
        "".join(json.dumps(row) + "\n" for row in rows[:4]).encode()))
    (folder / "000000000002.ndjson").write_text("".join(json.dumps(row) + "\n"
                                                        for row in rows[4:]))
    (folder / "test").mkdir()  # a test object's folder, not the archive's
    (folder / "notes.txt").write_text("not an object")
    assert verify_archive(folder, signed, vkey).rows == 6
    (folder / "000000000001.ndjson.gz").unlink()  # an object lost: the chain's start
    with pytest.raises(ProofInvalid, match=r"row 1 \(sequence 5\): the log has sequence 1 there"):
        verify_archive(folder, signed, vkey)
    with pytest.raises(ProofInvalid, match="holds no archive objects"):
        verify_archive(folder / "test", signed, vkey)
    rows[0]["metadata"] = {"reason": "nothing happened"}
    previous = rows[0]["prev_hash"]
    for row in rows:  # every chain hash redone, as whoever holds the file could
        row["prev_hash"] = previous
        row["hash"] = previous = event_chain_hash(row)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    with pytest.raises(ProofInvalid, match="do not rebuild the signed root"):
        verify_archive(path, signed, vkey)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows[:size - 1]))
    with pytest.raises(ProofInvalid, match=f"ends at row {size - 1}, before the "
                                           f"checkpoint's tree of size {size}"):
        verify_archive(path, signed, vkey)


def test_an_export_is_verified_offline_and_a_rewritten_one_is_not(
        server, client: Auditrail, tmp_path: Path) -> None:
    """verify_export: what ``auditrail verify --evidence`` proves, with the client alone."""
    ids = client.events.create_batch([EVENT, {**EVENT, "action": "doc.read"}] * 3)
    processed(client, ids[-1])
    vkey = client.log.key().verifier_key
    export = client.exports.wait(client.exports.create(gzip=True).id, timeout=30, poll=0.2)
    path = client.exports.download(export.id, tmp_path / "audit.ndjson.gz")
    evidence = client.exports.evidence(export.id)
    (tmp_path / "evidence.json").write_text(json.dumps(evidence))
    verified = verify_export(path, tmp_path / "evidence.json", vkey)
    assert (verified.rows, verified.tree_size, verified.complete) == (6, 6, True)
    other_log = Auditrail(server.url, server.workspace()).log.key()
    with pytest.raises(ProofInvalid, match="no signature by"):
        verify_export(path, evidence, other_log.verifier_key)

    rows = [json.loads(line) for line in gzip.decompress(path.read_bytes()).split(b"\n")
            if line]

    def rewritten(kept: list[dict]) -> tuple[Path, dict]:
        """The file as someone holding it could redo it - every chain hash recomputed -
        and evidence that names its digest (that digest is not signed)."""
        previous = kept[0]["prev_hash"]
        for row in kept:
            row["prev_hash"] = previous
            row["hash"] = previous = event_chain_hash(row)
        body = "".join(json.dumps(row) + "\n" for row in kept).encode()
        target = tmp_path / f"rewritten-{len(kept)}.ndjson"
        target.write_bytes(body)
        return target, {**evidence, "file_sha256": hashlib.sha256(body).hexdigest(),
                        "row_count": len(kept)}

    altered = [dict(row) for row in rows]
    altered[2]["metadata"] = {"reason": "nothing happened"}
    with pytest.raises(ProofInvalid, match="do not rebuild the signed root"):
        verify_export(*rewritten(altered), vkey)
    with pytest.raises(ProofInvalid, match="sequence 4 there: an event is missing"):
        verify_export(*rewritten([dict(row) for row in rows[:3] + rows[4:]]), vkey)
    with pytest.raises(ProofInvalid, match="sha256 differs"):
        verify_export(rewritten(altered)[0], evidence, vkey)
    pending = [dict(row) for row in rows]
    pending[2]["status"] = "pending"  # not hashed: held to what a linked event says
    with pytest.raises(ProofInvalid, match=r"row 3 .*status is 'pending'"):
        verify_export(*rewritten(pending), vkey)

    reads = client.exports.wait(client.exports.create(filters={"action": "doc.read"}).id,
                                timeout=30, poll=0.2)
    filtered = client.exports.download(reads.id, tmp_path / "reads.ndjson")
    proved = verify_export(filtered, client.exports.evidence(reads.id), vkey)
    assert (proved.rows, proved.complete) == (3, False)
    row = json.loads(filtered.read_text().split("\n")[1])
    row["actor"]["id"] = "usr_2"
    row["hash"] = event_chain_hash(row)  # its own hash redone: only the tree tells
    body = "\n".join([filtered.read_text().split("\n")[0], json.dumps(row),
                      *filtered.read_text().split("\n")[2:]]).encode()
    filtered.write_bytes(body)
    forged = {**client.exports.evidence(reads.id),
              "file_sha256": hashlib.sha256(body).hexdigest()}
    with pytest.raises(ProofInvalid, match=r"row 2 \(sequence \d+\): not in the signed tree"):
        verify_export(filtered, forged, vkey)


def test_receipts_prove_each_event_is_in_the_log_as_accepted(server, client: Auditrail,
                                                              tmp_path: Path) -> None:
    vkey = client.log.key().verifier_key
    batch = client.events.create_batch([EVENT, {**EVENT, "action": "doc.read"}],
                                       receipt=True)
    one = client.events.create(EVENT, receipt=True)
    receipt = check_receipt(batch.receipt, vkey)
    assert receipt.event_ids == batch.ids and receipt.origin == vkey.split("+")[0]
    assert receipt.digests[batch.ids[1]] == accepted_digest(client.events.get(batch.ids[1]).raw)
    verified = client.events.verify_receipt(batch.receipt, vkey, wait=15)
    assert verified.tree_size >= 2 and verified.receipt == receipt
    assert client.events.verify_receipt(one.receipt, vkey, wait=15).tree_size >= 3
    assert client.events.create(EVENT).receipt is None

    export = client.exports.wait(client.exports.create().id, timeout=30, poll=0.2)
    path = client.exports.download(export.id, tmp_path / "audit.ndjson")
    evidence = client.exports.evidence(export.id)
    later = client.events.create(EVENT, receipt=True)
    offline = verify_export(path, evidence, vkey,
                            receipts=[batch.receipt, one.receipt, later.receipt])
    assert (offline.rows, offline.receipted, offline.not_in_file) == (4, 3, (later.id,))
    rows = [json.loads(line) for line in path.read_text().split("\n") if line]
    rows[1]["actor"]["name"] = "Joan"
    rows[1]["hash"] = event_chain_hash(rows[1])  # the rows' tree alone would tell at the end
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    with pytest.raises(ProofInvalid, match=f"row 2 \\({rows[1]['id']}\\) is not the event"):
        verify_export(path, {**evidence, "file_sha256": None}, vkey, receipts=[batch.receipt])

    someone_else = Auditrail(server.url, server.workspace()).log.key().verifier_key
    with pytest.raises(ProofInvalid, match="no signature by"):
        client.events.verify_receipt(batch.receipt, someone_else)
    last = "Y" if batch.ids[0].endswith("Z") else "Z"  # an id may end in Z already
    forged = batch.receipt.replace(batch.ids[0], batch.ids[0][:-1] + last)
    assert forged != batch.receipt
    with pytest.raises(ProofInvalid, match="does not verify"):
        check_receipt(forged, vkey)

    monitor = Monitor(client, vkey, tmp_path / "monitor.json")
    elsewhere = Auditrail(server.url, server.workspace()).events.create(EVENT, receipt=True)
    result = monitor.check(receipts=[batch.receipt, one.receipt, elsewhere.receipt])
    assert (result.receipts_honoured, result.receipts_ignored, result.receipts_waiting) == \
        (2, 1, 0)
    again = monitor.check(receipts=[batch.receipt, one.receipt])
    assert (again.receipts_honoured, again.receipts_proved_before) == (2, 2)

    with sqlite3.connect(server.data_dir / "auditrail.db") as db:  # as its owner could
        db.execute("UPDATE events SET body = replace(body, 'Jane', 'Joan') "
                   "WHERE id = ?", (batch.ids[1],))
    with pytest.raises(ProofInvalid, match=f"{batch.ids[1]} is not the event the log "
                                           f"accepted at {receipt.received_at}"):
        client.events.verify_receipt(batch.receipt, vkey)
    with pytest.raises(MonitorAlarm, match=f"{batch.ids[1]} is not the event the log "
                                           f"accepted at {receipt.received_at}"):
        Monitor(client, vkey, tmp_path / "another.json").check(receipts=[batch.receipt])
    with sqlite3.connect(server.data_dir / "auditrail.db") as db:
        db.execute("DELETE FROM events WHERE id = ?", (one.id,))
    with pytest.raises(ProofInvalid, match=f"accepted {one.id} .* holds no such event"):
        client.events.verify_receipt(one.receipt, vkey)
    with pytest.raises(MonitorAlarm, match=f"holds no event {one.id}, .*: dropped: it signed no "
                                           f"retention anchor"):
        Monitor(client, vkey, tmp_path / "another.json").check(receipts=[one.receipt])


def test_the_log_reads_as_tiles_and_the_monitor_checks_receipts_by_bundle(
        server, proxy, tmp_path: Path) -> None:
    from auditrail_client.proofs import bundle_in_tree, tile_path, tree_hash

    url, faults = proxy
    client = Auditrail(url, server.workspace())
    client.events.create_batch([EVENT] * 10)  # the receipted batch starts inside a tile
    batch = client.events.create_batch([EVENT] * 300, receipt=True)
    processed(client, batch.ids[-1])
    vkey = client.log.key().verifier_key
    deadline = time.monotonic() + 20
    while (latest := check_checkpoint(client.log.checkpoint(), vkey)).tree_size < 310:
        assert time.monotonic() < deadline, "not checkpointed"
        time.sleep(0.2)
    assert tile_path(0, 1234067, 12) == "0/x001/x234/067.p/12"
    leaves = client.log.tile(0, 0) + client.log.tile(0, 1, 54)
    assert tree_hash(leaves) == latest.root_hash and client.log.tile(1, 0, 1) == \
        [tree_hash(leaves[:256])]
    entries = client.log.entries(1, 54)
    assert json.loads(entries[-1])["id"] == batch.ids[-1]
    path = b64decode_all(client.events.proof(json.loads(entries[0])["id"],
                                             tree_size=310).inclusion_path)
    assert bundle_in_tree(1, 310, entries, path, latest.root_hash)
    assert not bundle_in_tree(1, 310, [*entries[:-1], entries[0]], path, latest.root_hash)

    faults.seen.clear()
    result = Monitor(client, vkey, tmp_path / "monitor.json").check(receipts=[batch.receipt])
    assert result.receipts_honoured == 1
    paths = [path for _, path, _ in faults.seen]
    assert sum("/tile/entries/" in p for p in paths) == 2 and len(paths) < 15
    faults.seen.clear()
    assert client.events.verify_receipt(batch.receipt, vkey).tree_size == 310
    paths = [path for _, path, _ in faults.seen]  # 300 events: 600 requests one by one
    assert sum("/tile/entries/" in p for p in paths) == 2 and len(paths) < 10
    reader = Monitor(client, vkey, tmp_path / "reader.json")
    assert reader.check(entries="new").entries_read == (1, 310)
    faults.seen.clear()
    assert reader.check(entries="new").entries_read is None  # nothing new: nothing read
    assert not any("/tile/entries/" in path for _, path, _ in faults.seen)
    with sqlite3.connect(server.data_dir / "auditrail.db") as db:  # an event in no receipt
        db.execute("UPDATE events SET body = replace(body, 'Jane', 'Joan') WHERE "
                   "workspace_id = (SELECT workspace_id FROM events WHERE id = ?) AND "
                   "sequence = 3", (batch.ids[0],))
    with pytest.raises(MonitorAlarm, match="entry bundle 000 is not what its signed tree "
                                           "of size 310 holds there"):
        Monitor(client, vkey, tmp_path / "again.json").check(receipts=[batch.receipt])
    with pytest.raises(ProofInvalid, match="entry bundle 000 is not what its signed tree "
                                           "of size 310 holds there"):
        client.events.verify_receipt(batch.receipt, vkey)
    with sqlite3.connect(server.data_dir / "auditrail.db") as db:  # a receipted one too
        db.execute("UPDATE events SET body = replace(body, 'Jane', 'Joan') WHERE id = ?",
                   (batch.ids[1],))
    with pytest.raises(ProofInvalid, match=f"{batch.ids[1]} is not the event the log "
                                           f"accepted at"):
        client.events.verify_receipt(batch.receipt, vkey)
    assert reader.check(entries="new").entries_read is None  # read before
    with pytest.raises(MonitorAlarm, match=r"entry bundle 000 .* changed after they were "
                                           r"linked"):
        reader.check(entries="all")
    faults.withhold.append("/api/v1/log/tile/entries/000")  # as if it were pruned
    with pytest.raises(MonitorAlarm, match="serves no entry bundle 000, and it signed no "
                                           "retention anchor: it withholds"):
        Monitor(client, vkey, tmp_path / "withheld.json").check(entries="new")


def test_a_retention_anchor_past_the_tree_checked_is_held_to_its_history(
        server, tmp_path: Path) -> None:
    """Retention may sign an anchor past the checkpoint a check holds (old events linked
    and removed while it read): that checkpoint must be in the anchor's history."""
    from datetime import datetime, timedelta, timezone

    from auditrail_client.proofs import check_anchor

    client = Auditrail(server.url, server.workspace())
    client.workspace.update(retention_days=90, legal_hold=True)
    then = (datetime.now(timezone.utc) - timedelta(days=200)).isoformat()
    client.events.create_batch([{**EVENT, "occurred_at": then}] * 300)
    vkey = client.log.key().verifier_key
    deadline = time.monotonic() + 20
    while not any(c.tree_size == 300 for c in client.log.checkpoints()):
        assert time.monotonic() < deadline, "not checkpointed"
        time.sleep(0.3)
    [earlier] = [c.note for c in client.log.checkpoints() if c.tree_size == 300]
    assert client.log.checkpoint_at(300).note == earlier
    client.events.create_batch([{**EVENT, "occurred_at": then}] * 100)
    client.workspace.update(legal_hold=False)  # upkeep removes all 400 within 15 s

    def anchored() -> int:
        try:
            return check_anchor(client.log.anchor(), vkey).sequence
        except NotFound:
            return 0
    while anchored() < 400:  # the last 100 may be linked after a first removal
        assert time.monotonic() < deadline + 40, "retention did not run"
        time.sleep(0.5)
    client.log.checkpoint = lambda: earlier  # as if this check had read it before
    result = Monitor(client, vkey, tmp_path / "m.json").check(entries="all",
                                                              retention_days=90)
    assert (result.tree_size, result.retention_anchor, result.entries_pruned) == \
        (300, 400, 2)


def test_the_chain_is_checked_in_the_background_when_asked(server) -> None:
    client = Auditrail(server.url, server.workspace())
    client.events.create_batch([EVENT] * 3)
    try:
        assert client.chain_check.request().status == "checking"
    except RateLimited as soon:  # the workers' upkeep checked the new chain first
        assert 0 < soon.retry_after <= 300 and soon.code == "rate_limited"
    done = client.chain_check.wait(timeout=30, poll=0.2)
    assert (done.status, done.valid) == ("idle", True) and done.checked_at is not None
    assert done.next_check_at is not None  # the schedule's next
    with pytest.raises(RateLimited, match="checked less than 5 minutes ago"):
        client.chain_check.request()


def test_a_log_that_lost_what_it_signed_is_an_alarm(server, tmp_path: Path) -> None:
    client = Auditrail(server.url, server.workspace())
    ids = client.events.create_batch([EVENT] * 5)
    vkey = client.log.key().verifier_key
    _settled(Monitor(client, vkey, tmp_path / "before.json"), 5)
    with sqlite3.connect(server.data_dir / "auditrail.db") as db:  # as its owner could
        db.execute("DELETE FROM events WHERE id = ?", (ids[2],))
    with pytest.raises(LogDiverged, match="lack entries it signed") as said:
        client.log.entries(0, 5)
    assert (said.value.status, said.value.code) == (500, "log_diverged")
    with pytest.raises(MonitorAlarm, match=r"no longer holds what it signed: .*lack entries"):
        Monitor(client, vkey, tmp_path / "reader.json").check(entries="all")


def test_the_monitor_holds_retention_to_the_days_agreed(server, tmp_path: Path) -> None:
    from datetime import datetime, timedelta, timezone

    client = Auditrail(server.url, server.workspace())
    client.workspace.update(retention_days=90, legal_hold=True)  # nothing removed yet
    then = datetime.now(timezone.utc) - timedelta(days=200)
    client.events.create_batch([{**EVENT, "occurred_at": then.isoformat()}] * 300)
    client.events.create_batch([EVENT] * 300)
    vkey = client.log.key().verifier_key
    monitor = Monitor(client, vkey, tmp_path / "monitor.json")
    deadline = time.monotonic() + 20
    while (first := monitor.check(entries="new", retention_days=365)).tree_size < 600:
        assert time.monotonic() < deadline, "not checkpointed"
        time.sleep(0.3)
    assert first.retention_anchor == 0
    client.workspace.update(legal_hold=False)  # upkeep removes the 300 within 15 s
    while True:
        try:
            client.log.anchor()
            break
        except NotFound:
            assert time.monotonic() < deadline + 20, "retention did not run"
            time.sleep(0.5)
    assert monitor.check(entries="new", retention_days=90).retention_anchor == 300
    with pytest.raises(MonitorAlarm, match="removed events up to sequence 300 as retention, "
                                           "among them the event at sequence 1, which "
                                           f"occurred at {then:%Y-%m-%dT%H}:00:00Z or later: "
                                           "within the 365 days"):
        monitor.check(entries="new", retention_days=365)
    fresh = Monitor(client, vkey, tmp_path / "fresh.json")  # read nothing of what is gone
    assert fresh.check(entries="all", retention_days=365).retention_anchor == 300
    with pytest.raises(ValueError, match="needs entries"):
        fresh.check(retention_days=90)


def test_proofs_verify_locally_and_tampered_ones_do_not(server, client: Auditrail) -> None:
    [first, *_, last] = client.events.create_batch([EVENT] * 5)
    event = processed(client, last)
    vkey = client.log.key().verifier_key
    proof = client.events.proof(last, wait=15)
    proof.verify(vkey, event)
    assert base64.b64decode(proof.leaf_hash) == event_leaf_hash(event.raw)

    other = client.events.get(first)
    flipped = bytearray(base64.b64decode(proof.inclusion_path[0]))
    flipped[0] ^= 1
    forged_path = [base64.b64encode(bytes(flipped)).decode(), *proof.inclusion_path[1:]]
    note = proof.checkpoint.replace(f"\n{proof.tree_size}\n", f"\n{proof.tree_size + 1}\n")
    someone_else = Auditrail(server.url, server.workspace()).log.key()
    for forged, holding, key in [
        (dataclasses.replace(proof, inclusion_path=forged_path), event, vkey),
        (dataclasses.replace(proof, leaf_index=proof.leaf_index - 1), event, vkey),
        (dataclasses.replace(proof, checkpoint=note), event, vkey),
        (proof, other, vkey),  # the event held is another one
        (proof, {**event.raw, "metadata": {"edited": True}}, vkey),
        (proof, event, someone_else.verifier_key),  # another log's key
    ]:
        with pytest.raises(ProofInvalid):
            forged.verify(key, holding)


def test_the_monitor_keeps_the_log_honest(server, client: Auditrail, tmp_path: Path
                                          ) -> None:
    vkey, state = client.log.key().verifier_key, tmp_path / "state.json"
    processed(client, client.events.create_batch([EVENT] * 3)[-1])
    monitor = Monitor(client, vkey, state)
    first = _settled(monitor, 3)
    processed(client, client.events.create_batch([EVENT] * 2)[-1])
    second = _settled(monitor, 5)
    assert second.previous_size == first.tree_size and second.grew
    kept = json.loads(state.read_text())
    kept["root_hash"] = base64.b64encode(b"\x00" * 32).decode()  # a history that differs
    kept["tree_size"] = 4
    state.write_text(json.dumps(kept))
    with pytest.raises(MonitorAlarm, match="rewritten"):
        monitor.check()
    other = Auditrail(server.url, server.workspace()).log.key()
    with pytest.raises(MonitorAlarm, match="differs"):
        Monitor(client, other.verifier_key, state).check()


def test_the_monitor_proves_checkpoints_seen_elsewhere_in_the_log(
        server, client: Auditrail, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A log holding its key could show one reader a history another never sees: every
    checkpoint kept elsewhere (webhook bodies, other auditors' states) must be in the one
    it serves now."""
    info = client.log.key()
    monitor = Monitor(client, info.verifier_key, tmp_path / "state.json")
    processed(client, client.events.create_batch([EVENT] * 3)[-1])
    _settled(monitor, 3)
    at_3 = client.log.checkpoint()
    processed(client, client.events.create_batch([EVENT] * 2)[-1])
    _settled(monitor, 5)
    other_log = Auditrail(server.url, server.workspace()).log.checkpoint()
    result = monitor.check(seen=[at_3, at_3, other_log])
    assert (result.seen_sizes, result.seen_ignored, result.seen_proved_before) == \
        ((3,), 1, 0)
    asked: list[tuple[int, int]] = []
    consistency = client.log.consistency
    monkeypatch.setattr(client.log, "consistency", lambda old, new: asked.append(
        (old, new)) or consistency(old, new))
    again = monitor.check(seen=[at_3])  # proved last time, as the state says: not asked
    assert (again.seen_sizes, again.seen_proved_before, asked) == ((3,), 1, [])
    root_3 = at_3.split("\n")[2]
    assert json.loads((tmp_path / "state.json").read_text())["seen_proved"] == {"3": root_3}
    split = _split_note(server, info, 4)  # shown to someone else
    kept = (tmp_path / "state.json").read_text()
    with pytest.raises(MonitorAlarm, match="size 4 seen elsewhere: its history was rewritten, "
                                           "or it shows other readers another history"):
        monitor.check(seen=[at_3, split])
    assert (tmp_path / "state.json").read_text() == kept


def _split_note(server, info, size: int) -> str:
    """A checkpoint of another history, signed with the log's own key: what a log that
    holds its key can show one party and not another."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    key = Ed25519PrivateKey.from_private_bytes(
        base64.b64decode((server.data_dir / "signing_key").read_text()))
    root = base64.b64encode(hashlib.sha256(b"split").digest()).decode()
    text = f"{info.origin}\n{size}\n{root}\n"
    public = base64.b64decode(info.public_key)
    key_id = hashlib.sha256(info.origin.encode() + b"\n\x01" + public).digest()[:4]
    signature = base64.b64encode(key_id + key.sign(text.encode())).decode()
    return f"{text}\n\u2014 {info.origin} {signature}\n"


def test_the_monitor_gets_witnesses_to_cosign(server, client: Auditrail, witness,
                                              tmp_path: Path) -> None:
    from auditrail_client.proofs import check_cosignature
    info = client.log.key()
    processed(client, client.events.create_batch([EVENT] * 3)[-1])
    state = tmp_path / "state.json"
    result = _settled(Monitor(client, info.verifier_key, state, witnesses=[witness]), 3)
    assert result.cosigned_by == ("witness.test/w1",) and result.witness_problems == ()
    assert check_cosignature(json.loads(state.read_text())["checkpoint"], witness[0]) > 0
    other = Monitor(client, info.verifier_key, tmp_path / "other.json", witnesses=[witness])
    assert other.check().cosigned_by == ("witness.test/w1",)  # told the size by a 409

    processed(client, client.events.create_batch([EVENT] * 2)[-1])
    grown = _settled(Monitor(client, info.verifier_key, state, witnesses=[witness]), 5)
    assert grown.cosigned_by == ("witness.test/w1",)  # from size 3, with a proof
    assert json.loads(state.read_text())["witnessed"] == {witness[0]: grown.tree_size}


def test_a_witness_that_holds_another_history_alarms_the_monitor(
        server, client: Auditrail, witness, tmp_path: Path) -> None:
    import httpx
    info = client.log.key()
    processed(client, client.events.create_batch([EVENT] * 3)[-1])
    # before any monitor comes, the log shows the witness another history at size 2
    assert httpx.post(f"{witness[1]}/add-checkpoint", content=b"old 0\n\n" +
                      _split_note(server, info, 2).encode()).status_code == 200
    state = tmp_path / "state.json"
    monitor = Monitor(client, info.verifier_key, state, witnesses=[witness])
    with pytest.raises(MonitorAlarm, match=r"witness witness\.test/w1 refused to cosign the "
                                           r"log's checkpoint of size 3: .* a split view"):
        _settled(monitor, 3)
    assert not state.exists()
    unfollowed = Monitor(client, info.verifier_key, state, witnesses=[
        (witness[0], "http://127.0.0.1:9")])
    result = _settled(unfollowed, 3)
    assert result.cosigned_by == () and result.witness_problems == (
        "could not reach witness witness.test/w1 (ConnectError)",)
    assert json.loads(state.read_text())["tree_size"] >= 3  # the log was checked
    with pytest.raises(ProofInvalid, match="type 0x04"):
        Monitor(client, info.verifier_key, state, witnesses=[(info.verifier_key,
                                                              witness[1])])


def _settled(monitor: Monitor, size: int) -> object:
    deadline = time.monotonic() + 15
    while (result := monitor.check()).tree_size < size:
        assert time.monotonic() < deadline, "no checkpoint covers the events"
        time.sleep(0.3)
    return result


def _cosigner_key(name: str) -> str:
    """A witness's cosigner key (type 0x04) no witness here holds the private half of."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    public = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw,
                                                                    PublicFormat.Raw)
    key_id = hashlib.sha256(name.encode() + b"\n\x04" + public).digest()[:4]
    material = base64.b64encode(b"\x04" + public).decode()
    return f"{name}+{key_id.hex()}+{material}"


def test_the_log_gets_its_witness_to_cosign_and_proofs_carry_it(
        client: Auditrail, witness, tmp_path: Path) -> None:
    key, url = witness
    vkey = client.log.key().verifier_key
    added = client.log.add_witness(url, key)
    assert (added.name, added.status) == ("witness.test/w1", "pending")
    last = client.events.create_batch([EVENT] * 4)[-1]
    event = processed(client, last)
    proof = client.events.proof(last, witnesses=1, wait=20)
    proof.verify(vkey, event, witnesses=[key])
    cosigned = client.log.cosigned_checkpoint()
    assert check_cosigned(cosigned, vkey, [key]).tree_size >= 4
    seen = Monitor(client, vkey, tmp_path / "state.json").check(seen=[cosigned])
    assert seen.seen_sizes == (check_cosigned(cosigned, vkey, [key]).tree_size,)
    vouched = Monitor(client, vkey, tmp_path / "vouched.json", cosigned_by=[key]).check()
    assert vouched.log_cosigned_size == check_cosigned(cosigned, vkey, [key]).tree_size
    assert vouched.witness_problems == ()
    unknown = Monitor(client, vkey, tmp_path / "unknown.json",
                      cosigned_by=[_cosigner_key("witness.test/w2")]).check()
    [problem] = unknown.witness_problems
    assert unknown.log_cosigned_size is None and re.fullmatch(
        r"the log's cosigned checkpoint of size \d+ carries no valid cosignature by "
        r"witness\.test/w2", problem)

    stranger = _cosigner_key("witness.test/w2")
    with pytest.raises(ProofInvalid, match="cosigned by 1 of the witnesses given, not 2"):
        proof.verify(vkey, event, witnesses=[key, stranger])
    proof.verify(vkey, event, witnesses=[key, stranger], quorum=1)
    log_only = proof.checkpoint.rpartition("\u2014 witness.test/w1 ")[0]
    with pytest.raises(ProofInvalid, match=r"no cosignature by witness\.test/w1"):
        dataclasses.replace(proof, checkpoint=log_only).verify(vkey, event, witnesses=[key])

    export = client.exports.wait(client.exports.create().id)
    deadline = time.monotonic() + 20
    while "cosigned" not in (evidence := client.exports.evidence(export.id)):
        assert time.monotonic() < deadline, "the export's tree was never cosigned"
        time.sleep(0.3)
    client.exports.download(export.id, tmp_path / "export.ndjson")
    proved = verify_export(tmp_path / "export.ndjson", evidence, vkey, witnesses=[key])
    assert proved.rows == 4 and proved.complete
    with pytest.raises(ProofInvalid, match="cosigned by 0 of the witnesses given, not 1"):
        verify_export(tmp_path / "export.ndjson", evidence, vkey, witnesses=[stranger])

    [listed] = list(client.log.witnesses())
    assert (listed.id, listed.status) == (added.id, "ok") and listed.cosigned_size >= 4
    fetched = client.log.witness(added.id)
    assert (fetched.id, fetched.url, fetched.verifier_key) == \
        (listed.id, listed.url, listed.verifier_key)
    assert client.log.retry_witness(added.id).raw["next_attempt_at"] is None
    client.log.remove_witness(added.id)
    assert list(client.log.witnesses()) == []
    with pytest.raises(Conflict) as none:  # no witness to wait for: at once
        client.events.proof(last, witnesses=1, wait=20)
    assert none.value.code == "not_cosigned" and none.value.retry_after is None
    alone = Monitor(client, vkey, tmp_path / "alone.json", cosigned_by=[key]).check()
    assert alone.log_cosigned_size is None and alone.witness_problems[0].startswith(
        "the log's cosigned checkpoint: ")


def test_viewer_links_are_made_listed_and_revoked(server, client: Auditrail) -> None:
    ids = client.events.create_batch([EVENT, {**EVENT, "action": "admin.user.delete"}])
    processed(client, ids[-1])
    link = client.viewer_links.create(filters={"action": "user.*"}, expires_in_seconds=600,
                                      title="Acme: user activity")
    assert link.status == "active" and link.title == "Acme: user activity"
    assert link.filters == {"action": "user.*"} and link.allow_export is False
    fragment = urllib.parse.parse_qs(urllib.parse.urlsplit(link.url).fragment)
    assert urllib.parse.urlsplit(link.url).path == "/viewer/"
    reader = Auditrail(server.url, fragment["token"][0])  # what the page does with it
    assert [event.id for event in reader.events.list()] == [ids[0]]  # the forced filter
    listed = client.viewer_links.get(link.id)
    assert listed.url is None and listed.status == "active"  # the url is shown once
    assert [found.id for found in client.viewer_links.list()] == [link.id]
    assert client.viewer_links.revoke(link.id).status == "revoked"
    with pytest.raises(Unauthenticated):
        list(reader.events.list())


CALL = re.compile(r'"(GET|POST|PATCH|DELETE)", f?"(/api/v1/[^"]*)"|_pages\(f?"(/api/v1/[^"]*)"')
NOT_FOR_THE_CLIENT = {
    ("get", "/api/v1/openapi.json"),
    ("get", "/api/v1/exports/{}/file"),  # the signed link download() is redirected to
}


def test_every_operation_of_the_api_has_a_method(server) -> None:
    """An endpoint the server gains is one the client offers too."""
    document = json.load(urllib.request.urlopen(f"{server.url}/api/v1/openapi.json"))

    def shape(path: str) -> str:  # the client's {tile_path(…)} is the document's {level}/{index}
        return re.sub(r"\{[^}]*\}(?:/\{[^}]*\})*", "{}", path)

    served = {(method, shape(path)) for path, methods in document["paths"].items()
              if path.startswith("/api/v1/") for method in methods}
    source = "".join(path.read_text() for path in
                     Path(auditrail_client.__file__).parent.glob("*.py"))
    offered = {(method.lower() if method else "get", shape(path or listed))
               for method, path, listed in CALL.findall(source)}
    assert served - NOT_FOR_THE_CLIENT - offered == set()


def test_every_model_holds_every_field_the_api_document_states(server) -> None:
    """A field the server gains is a field of the client's model too (not only in ``raw``);
    a model the client gains is held to the document as well."""
    import dataclasses

    from auditrail_client import models

    schemas = json.load(urllib.request.urlopen(f"{server.url}/api/v1/openapi.json")
                        )["components"]["schemas"]
    documented = {
        models.Event: ["EventOut"], models.Accepted: ["Accepted"],
        models.BatchAccepted: ["BatchAccepted"], models.Export: ["ExportOut"],
        models.ApiKey: ["ApiKeyOut", "ApiKeyCreated"], models.Workspace: ["WorkspaceOut"],
        models.Usage: ["Usage"], models.Stream: ["StreamOut", "StreamCreated"],
        models.Delivery: ["DeliveryOut"], models.AlertRule: ["AlertRuleOut", "AlertRuleCreated"],
        models.Alert: ["AlertOut"], models.VerifyReport: ["VerifyReport"],
        models.ChainCheck: ["ChainCheck"], models.LogKey: ["LogKey"],
        models.Checkpoint: ["CheckpointOut"], models.LogWitness: ["LogWitnessOut"],
        models.ViewerLink: ["ViewerLinkOut", "ViewerLinkCreated"],
        models.EventStats: ["EventStats"]}
    every_model = {model for model in vars(models).values() if isinstance(model, type)
                   and issubclass(model, models._FromJson) and model is not models._FromJson}
    assert every_model == set(documented)
    for model, names in documented.items():
        held = {field.name for field in dataclasses.fields(model)} - {"raw"}
        stated = {name for schema in names for name in schemas[schema]["properties"]}
        assert held == stated, (model.__name__, stated - held, held - stated)
