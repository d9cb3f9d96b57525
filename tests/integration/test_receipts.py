"""Ingest receipts over HTTP on both stacks: ``Prefer: receipt`` gets a note the log's real
Ed25519 key signed, whose digests hold for the events as stored - and stop holding when
someone changes a pending event, which neither the chain nor the tree can see."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from adapters.security.signing import Ed25519Verifier
from domain.receipts import Receipt, accepted_digest, parse_receipt
from domain.signed_notes import key_id, parse_note
from domain.timestamps import format_timestamp
from entrypoints import log_monitor
from entrypoints.cli import main
from entrypoints.log_monitor import receipts as monitored_receipts
from tests.integration.stacks import Stack, bearer
from tests.integration.test_transparency_log import export_file, signed

EVENT = {"action": "invoice.paid", "actor": {"id": "usr_1", "type": "user", "name": "Ann"},
         "targets": [{"id": "inv_9", "type": "invoice"}],
         "context": {"ip_address": "2001:db8:0:0::7"}}


def post(stack: Stack, secret: str, body: Any, path: str = "/api/v1/events/batch",
         **headers: str) -> Any:
    return stack.client.post(path, data=json.dumps(body), headers={
        **bearer(secret), "Content-Type": "application/json", **headers})


def get(stack: Stack, secret: str, path: str) -> Any:
    return stack.client.get(path, headers=bearer(secret))


def checked(stack: Stack, secret: str, note: str) -> Receipt:
    """The receipt, once its signature is checked with the key GET /log/key publishes."""
    key = get(stack, secret, "/api/v1/log/key").json
    public = base64.b64decode(key["public_key"])
    parsed = parse_note(note)
    [signature] = [s for s in parsed.signatures
                   if (s.name, s.key_id) == (key["origin"], key_id(key["origin"], public))]
    Ed25519PublicKey.from_public_bytes(public).verify(signature.signature,
                                                      parsed.text.encode("utf-8"))
    return parse_receipt(parsed.text)


def digest_of(stack: Stack, secret: str, event_id: str) -> bytes:
    return accepted_digest(get(stack, secret, f"/api/v1/events/{event_id}").json)


def change_pending(stack: Stack, workspace_id: str, event_id: str) -> None:
    """What whoever holds the database can do to an event no hash covers yet."""
    stack.sql("UPDATE events SET body = replace(body, 'Ann', 'Bob') WHERE workspace_id = :w "
              "AND id = :i", w=workspace_id, i=event_id)


def drop_pending(stack: Stack, workspace_id: str, event_id: str) -> None:
    """The same, for a deletion: its search entries too, or the chain check would see
    them orphaned."""
    stack.sql("DELETE FROM event_terms WHERE workspace_id = :w AND event_id = :i",
              w=workspace_id, i=event_id)
    stack.sql("DELETE FROM events WHERE workspace_id = :w AND id = :i",
              w=workspace_id, i=event_id)


def accepted_then_tampered(stack: Stack, workspace_id: str, secret: str, per_batch: int
                           ) -> tuple[list[str], dict[str, Any], dict[str, Any]]:
    """Two honest batches' receipts, and two single events (with their receipts) one
    changed and one dropped while pending - before any drain: the embedded stack's
    worker, once started, would link them at once."""
    honest = [post(stack, secret, {"events": [EVENT] * per_batch}, Prefer="receipt"
                   ).json["receipt"] for _ in range(2)]
    changed, dropped = (post(stack, secret, EVENT, "/api/v1/events", Prefer="receipt").json
                        for _ in range(2))
    change_pending(stack, workspace_id, changed["id"])
    drop_pending(stack, workspace_id, dropped["id"])
    return honest, changed, dropped


def test_a_batch_receipt_is_signed_by_the_log_and_holds_before_and_after_processing(
        stack: Stack) -> None:
    workspace_id, secret = stack.new_workspace()
    response = post(stack, secret, {"events": [EVENT, {**EVENT, "action": "invoice.voided"}]},
                    Prefer="respond-async, receipt")
    assert response.status_code == 202 and response.headers["Preference-Applied"] == "receipt"
    receipt = checked(stack, secret, response.json["receipt"])
    assert receipt.origin.endswith(f"/{workspace_id}")
    assert [entry.event_id for entry in receipt.entries] == response.json["ids"]
    first = get(stack, secret, f"/api/v1/events/{response.json['ids'][0]}").json
    assert first["status"] == "pending"
    assert format_timestamp(receipt.received_at) == first["received_at"]
    assert [entry.digest for entry in receipt.entries] == \
        [digest_of(stack, secret, event_id) for event_id in response.json["ids"]]
    stack.drain()
    assert [entry.digest for entry in receipt.entries] == \
        [digest_of(stack, secret, event_id) for event_id in response.json["ids"]]


def test_one_event_gets_a_receipt_and_none_is_given_unasked(stack: Stack) -> None:
    _, secret = stack.new_workspace()
    one = post(stack, secret, EVENT, "/api/v1/events", Prefer="receipt")
    [entry] = checked(stack, secret, one.json["receipt"]).entries
    assert (entry.event_id, entry.digest) == (one.json["id"],
                                              digest_of(stack, secret, one.json["id"]))
    for prefer in ({}, {"Prefer": "return=minimal"}, {"Prefer": "receipts"}):
        plain = post(stack, secret, EVENT, "/api/v1/events", **prefer)
        assert plain.status_code == 202 and "receipt" not in plain.json
        assert "Preference-Applied" not in plain.headers


def test_a_retry_gets_the_same_receipt_byte_for_byte(stack: Stack) -> None:
    _, secret = stack.new_workspace()
    body = {"events": [EVENT] * 3}
    first = post(stack, secret, body, Prefer="receipt", **{"Idempotency-Key": "r-1"})
    stack.drain()
    again = post(stack, secret, body, Prefer="receipt", **{"Idempotency-Key": "r-1"})
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json  # Ed25519 signatures are deterministic


@pytest.mark.parametrize("tampering", ["changed", "deleted"])
def test_a_pending_event_changed_or_dropped_breaks_its_receipt_not_the_chain(
        stack: Stack, tampering: str) -> None:
    workspace_id, secret = stack.new_workspace()
    response = post(stack, secret, {"events": [EVENT] * 3}, Prefer="receipt")
    receipt = checked(stack, secret, response.json["receipt"])
    victim = response.json["ids"][1]
    (change_pending if tampering == "changed" else drop_pending)(stack, workspace_id, victim)
    stack.drain()
    assert get(stack, secret, "/api/v1/events/verify").json["valid"] is True
    held = get(stack, secret, f"/api/v1/events/{victim}")
    if tampering == "changed":
        assert held.json["status"] == "processed" and held.json["actor"]["name"] == "Bob"
        assert accepted_digest(held.json) != receipt.entries[1].digest
    else:
        assert held.status_code == 404
    for index in (0, 2):
        assert digest_of(stack, secret, receipt.entries[index].event_id) == \
            receipt.entries[index].digest


def verify_offline(tmp_path: Path, evidence: dict[str, Any], receipts: list[str],
                   verifier_key: str) -> Any:
    (tmp_path / "evidence.json").write_text(json.dumps(evidence))
    (tmp_path / "receipts.txt").write_text("\n".join(receipts))  # as kept, one after another
    return CliRunner().invoke(main, [
        "verify", str(tmp_path / "audit.ndjson"), "--evidence", str(tmp_path / "evidence.json"),
        "--verifier-key", verifier_key, "--receipts", str(tmp_path / "receipts.txt")])


def test_an_export_proved_in_the_log_still_fails_the_receipts_of_an_event_changed_pending(
        stack: Stack, tmp_path: Path) -> None:
    """What only receipts catch offline: the export rebuilds the signed tree, yet one of
    its rows is not what the log accepted."""
    workspace_id, secret = stack.new_workspace()
    receipts, changed, dropped = accepted_then_tampered(stack, workspace_id, secret, 2)
    stack.drain()
    vkey = get(stack, secret, "/api/v1/log/key").json["verifier_key"]
    evidence = export_file(stack, secret, tmp_path / "audit.ndjson")

    honest = verify_offline(tmp_path, evidence, receipts, vkey)
    assert honest.exit_code == 0, honest.output
    assert "5 rows are in the log" in honest.output and "none is missing" in honest.output
    assert "receipts: 2 receipt(s) promised 4 event(s); the 4 in the file are as the log " \
           "accepted them" in honest.output
    caught = verify_offline(tmp_path, evidence, [*receipts, changed["receipt"]], vkey)
    assert caught.exit_code == 1
    assert f"receipts: {changed['id']} is not the event the log accepted" in caught.output
    missing = verify_offline(tmp_path, evidence, [*receipts, dropped["receipt"]], vkey)
    assert missing.exit_code == 0, missing.output
    assert f"not in the file: 1 ({dropped['id']})" in missing.output

    other = post(stack, stack.new_workspace("Other")[1], EVENT, "/api/v1/events",
                 Prefer="receipt").json["receipt"]
    forged = verify_offline(tmp_path, evidence, [*receipts, other], vkey)
    assert forged.exit_code == 1 and "receipt 3 is not signed by the log's key" in forged.output


@pytest.mark.parametrize("arguments", [
    ["--receipts", "RECEIPTS"],                                    # no key to check them
    ["--verifier-key", "VKEY"],                                    # a key for nothing
    ["--rotations", "RECEIPTS", "--verifier-key", "VKEY"],         # rotations for nothing
])
def test_receipts_and_their_key_go_together(tmp_path: Path, arguments: list[str]) -> None:
    (tmp_path / "audit.ndjson").write_text("")
    (tmp_path / "receipts.txt").write_text("")
    vkey = "log.example/ws_1+00000000+" + base64.b64encode(bytes(33)).decode()
    named = [{"RECEIPTS": str(tmp_path / "receipts.txt"), "VKEY": vkey}.get(a, a)
             for a in arguments]
    result = CliRunner().invoke(main, ["verify", str(tmp_path / "audit.ndjson"), *named])
    assert result.exit_code == 2, result.output


def test_the_monitor_holds_the_log_to_every_receipt_once(stack: Stack, tmp_path: Path) -> None:
    """``auditrail log monitor --receipts`` through httpx's WSGI transport (as the
    monitor's own tests run it): receipts proved are not asked about again, events not yet
    linked wait, and one changed or dropped while pending is an alarm."""
    import httpx
    workspace_id, secret = stack.new_workspace()
    honest, changed, dropped = accepted_then_tampered(stack, workspace_id, secret, 3)
    stack.drain()
    signed(stack, secret, 7)
    stack.container.transparency_log().cadence = timedelta(hours=1)  # no checkpoint now
    later = post(stack, secret, EVENT, "/api/v1/events", Prefer="receipt").json["receipt"]
    other = post(stack, stack.new_workspace("Other")[1], EVENT, "/api/v1/events",
                 Prefer="receipt").json["receipt"]
    vkey = get(stack, secret, "/api/v1/log/key").json["verifier_key"]
    state, check, original = tmp_path / "state.json", Ed25519Verifier().verify, httpx.Client
    asked: list[str] = []

    def client(**kwargs: Any) -> httpx.Client:
        def note(request: httpx.Request) -> None:
            asked.append(request.url.path)
        return original(transport=httpx.WSGITransport(app=stack.app),
                        event_hooks={"request": [note]}, **kwargs)

    def run(*receipts: str) -> str:
        return log_monitor.run_monitor("http://log", secret, state, vkey, check,
                                       receipts=receipts)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(log_monitor.httpx, "Client", client)
        first = run(*honest, other)
        assert "size 7" in first and "2 receipt(s) honoured: their events are in it as " \
            "accepted" in first and "(1 other note(s) ignored" in first
        # each batch: its first event, then its entry bundle and one proof for the bundle
        assert sum("/proof" in path for path in asked) == 2
        assert sum("/tile/entries/" in path for path in asked) == 2
        asked.clear()
        again = run(*honest, later)
        assert "2 receipt(s) honoured" in again and "(2 proved on earlier runs)" in again
        assert "1 wait for their events to be checkpointed" in again
        waiting = parse_receipt(parse_note(later).text).entries[0].event_id
        assert [path for path in asked if "/events/" in path] == \
            [f"/api/v1/events/{waiting}", f"/api/v1/events/{waiting}/proof"]
        with pytest.raises(log_monitor.MonitorFailed,
                           match=f"{changed['id']} is not the event the log accepted at "):
            run(*honest, changed["receipt"])
        with pytest.raises(log_monitor.MonitorFailed,
                           match=f"holds no event {dropped['id']}, which it accepted at "
                                 f".*: dropped: it signed no retention anchor"):
            run(dropped["receipt"])
        patch.setattr(monitored_receipts, "UNLINKED_FOR_TOO_LONG", timedelta(seconds=-1))
        with pytest.raises(log_monitor.MonitorFailed, match="still in no checkpoint"):
            run(later)
    assert json.loads(state.read_text())["receipts_proved"] and \
        len(json.loads(state.read_text())["receipts_proved"]) == 2


def test_the_monitor_checks_a_large_batch_by_bundles_and_catches_a_bundle_rewritten(
        stack: Stack, tmp_path: Path) -> None:
    """A thousand receipted events in four bundles, each checked against the signed tree
    by one proof; an event rewritten after it was linked (chain hashes and all) makes
    its bundle disagree with the signed tree, which is an alarm."""
    import httpx
    workspace_id, secret = stack.new_workspace()
    stack.container.transparency_log().cadence = timedelta(0)
    post(stack, secret, {"events": [EVENT] * 100})  # the batch starts inside a bundle
    receipt = post(stack, secret, {"events": [EVENT] * 1000}, Prefer="receipt"
                   ).json["receipt"]
    stack.drain()
    signed(stack, secret, 1100)
    vkey = get(stack, secret, "/api/v1/log/key").json["verifier_key"]
    original, asked = httpx.Client, []

    def client(**kwargs: Any) -> httpx.Client:
        return original(transport=httpx.WSGITransport(app=stack.app),
                        event_hooks={"request": [lambda r: asked.append(r.url.path)]},
                        **kwargs)

    def run(state: str) -> str:
        return log_monitor.run_monitor("http://log", secret, tmp_path / state, vkey,
                                       Ed25519Verifier().verify, receipts=[receipt])

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(log_monitor.httpx, "Client", client)
        assert "1 receipt(s) honoured" in run("first.json")
        entries = [path for path in asked if "/tile/entries/" in path]
        assert [path.rsplit("/entries/", 1)[1] for path in entries] == \
            ["000", "001", "002", "003", "004.p/76"]
        assert sum("/proof" in path for path in asked) == 5 and len(asked) < 20
        stack.sql("UPDATE events SET action = 'user.logout' WHERE workspace_id = :w AND "
                  "sequence = 700", w=workspace_id)
        changed = stack.sql("SELECT id FROM events WHERE workspace_id = :w AND "
                            "sequence = 700", w=workspace_id)[0][0]
        with pytest.raises(log_monitor.MonitorFailed,
                           match=f"{changed} is not the event the log accepted at "):
            run("second.json")  # the receipted event named, where one was changed
        stack.sql("UPDATE events SET action = 'user.logout' WHERE workspace_id = :w AND "
                  "sequence = 50", w=workspace_id)  # in bundle 000, in no receipt
        stack.sql("UPDATE events SET action = 'invoice.paid' WHERE workspace_id = :w AND "
                  "sequence = 700", w=workspace_id)
        with pytest.raises(log_monitor.MonitorFailed,
                           match="entry bundle 000 is not what its signed tree of size "
                                 "1100 holds there"):
            run("third.json")


def test_the_monitor_refuses_a_receipts_file_that_holds_none(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(main, [
        "log", "monitor", "--url", "http://127.0.0.1:9", "--key", "ak_x", "--state",
        str(tmp_path / "state.json"), "--receipts", str(tmp_path / "empty")])
    assert result.exit_code == 2 and "holds no receipt" in result.output
