"""``auditrail log monitor --seen``: checkpoints kept outside the log (webhook bodies, alert
notifications, other auditors' state files) must all be in the history it serves now, so a
log that showed different readers different histories (a split view) is caught."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from adapters.security.signing import Ed25519Verifier
from domain.signed_notes import checkpoint_text, parse_checkpoint, parse_note, signature_line
from entrypoints import log_monitor
from entrypoints.cli import main
from entrypoints.seen_checkpoints import UnreadableFile, checkpoint_notes, receipt_notes
from tests.integration.stacks import Stack
from tests.integration.test_transparency_log import ingest, log_key, signed

NOTE = "log.example/ws_1\n2\nAAAA\n\n\u2014 log.example/ws_1 c2lnbmF0dXJl\n"
OTHER = "log.example/ws_1\n3\nBBBB\n\n\u2014 log.example/ws_1 c2ln\n\u2014 witness c2ln\n"


@pytest.mark.parametrize(("text", "notes"), [
    (NOTE, [NOTE]),
    (NOTE + OTHER, [NOTE, OTHER]),  # as GET /log/checkpoint answers, one after another
    ("\n" + NOTE + "\n\n" + OTHER.replace("\n", "\r\n"), [NOTE, OTHER]),
    (json.dumps({"verifier_key": "k", "checkpoint": NOTE}, indent=1), [NOTE]),  # state file
    (json.dumps({"type": "alert.triggered", "checkpoint": NOTE}) + "\n\n"
     + json.dumps({"events": [], "checkpoint": OTHER}) + "\n", [NOTE, OTHER]),  # NDJSON
    (json.dumps({"data": [{"tree_size": 3, "note": OTHER}, {"tree_size": 2, "note": NOTE}]}),
     [OTHER, NOTE]),  # a page of GET /log/checkpoints
    (json.dumps([{"result": {"checkpoint": NOTE}}, {"checkpoint": None}]), [NOTE]),
    (json.dumps({"export_id": "exp_1", "checkpoint": NOTE, "rotations": [OTHER],
                 "proofs": {"evt_1": ["AAAA"]}}), [NOTE]),  # an export's evidence
    (json.dumps({"preview": False, "result": {"_raw": json.dumps(
        {"delivery_id": "dlv_1", "checkpoint": NOTE}), "sourcetype": "auditrail:checkpoint"}})
     + "\n", [NOTE]),  # a Splunk search exported as JSON, the fields not extracted
    (json.dumps({"attributes": {"message": json.dumps({"checkpoint": OTHER})}}),
     [OTHER]),  # a Datadog log, its message kept as text
    (json.dumps({"checkpoint": NOTE}) + json.dumps({"checkpoint": OTHER}),
     [NOTE, OTHER]),  # bodies saved without a newline, then concatenated
    (json.dumps({"checkpoint": NOTE}, indent=1) + "\n" + json.dumps({"checkpoint": OTHER},
                                                                    indent=1),
     [NOTE, OTHER]),  # two monitors' state files, one after the other
    ("", []), ("just text\n", []), (NOTE + "trailing text, unsigned\n", [NOTE]),
])
def test_notes_are_found_in_every_form_they_are_kept_in(text: str, notes: list[str]) -> None:
    assert list(checkpoint_notes(io.StringIO(text))) == notes


@pytest.mark.parametrize(("text", "problem"), [
    ('{"checkpoint": "x"}\nnot json\n', "line 2 is not JSON"),
    ('{"checkpoint": \n', "neither signed notes nor JSON"),
    ("line\n" * 1_500, "1000 lines without a signature"),
    ("[" * 100_000 + "\n", "neither signed notes nor JSON"),  # deeper than json can go
])
def test_a_file_of_something_else_is_named(text: str, problem: str) -> None:
    with pytest.raises(UnreadableFile, match=problem):
        list(checkpoint_notes(io.StringIO(text)))


RECEIPT = ("log.example/ws_1\ningest receipt\n2026-12-06T09:30:01.250000Z\n"
           + "".join(f"evt_{n:026d} {'A' * 43}=\n" for n in range(1000))
           + "\n\u2014 log.example/ws_1 c2lnbmF0dXJl\n\u2014 log.example/ws_1 b2xk\n")


@pytest.mark.parametrize(("text", "notes"), [
    (RECEIPT + "\n" + NOTE, [RECEIPT, NOTE]),  # as ReceiptFolder keeps them (a batch's 1,000)
    (json.dumps({"ids": ["evt_1"], "count": 1, "receipt": RECEIPT}) + "\n"
     + json.dumps({"id": "evt_2", "status": "pending", "receipt": NOTE}) + "\n",
     [RECEIPT, NOTE]),  # the ingest answers, saved whole
    (json.dumps({"checkpoint": NOTE}), []),  # a checkpoint is not where a receipt is kept
])
def test_receipts_are_read_as_kept(text: str, notes: list[str]) -> None:
    assert list(receipt_notes(io.StringIO(text))) == notes


def forged(stack: Stack, origin: str, size: int, root: bytes) -> str:
    """A checkpoint signed with the log's own key: what a log that holds its key can show
    one reader and not another."""
    signer = stack.container.signer()
    text = checkpoint_text(origin, size, root)
    return text + "\n" + signature_line(origin, signer.public_key(),
                                        signer.sign(text.encode()))


def test_the_monitor_demands_that_every_checkpoint_seen_elsewhere_is_in_the_log(
        stack: Stack, tmp_path: Path) -> None:
    _, key = stack.new_workspace()
    ingest(stack, key, 10)
    at_10 = signed(stack, key, 10)
    ingest(stack, key, 5)
    at_15 = signed(stack, key, 15)
    info = log_key(stack, key)
    origin, vkey = info["origin"], info["verifier_key"]
    state = tmp_path / "state.json"
    original = httpx.Client

    def client(**kwargs: Any) -> httpx.Client:
        return original(transport=httpx.WSGITransport(app=stack.app), **kwargs)

    def run(*seen: str) -> str:
        return log_monitor.run_monitor("http://log", key, state, vkey,
                                       Ed25519Verifier().verify, list(seen))

    _, other_key = stack.new_workspace()
    ingest(stack, other_key, 3)
    elsewhere = signed(stack, other_key, 3)  # another log's checkpoint, by the same key
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(log_monitor.httpx, "Client", client)
        said = run(at_10, at_15, elsewhere, "not a note\n")
        assert said.endswith("; all 2 checkpoints seen elsewhere (sizes 10 to 15) are in "
                             "its history (2 other note(s) ignored: not this log's, or not "
                             "signed by its key)"), said
        assert run(at_10).endswith("; the checkpoint seen elsewhere (size 10) is in its "
                                   "history (1 proved on earlier runs)")
        assert run(elsewhere).endswith("none of the notes seen elsewhere is a checkpoint "
                                       "of this log")
        kept = state.read_text()
        split = forged(stack, origin, 12, hashlib.sha256(b"another history").digest())
        with pytest.raises(log_monitor.MonitorFailed,
                           match="the log of size 15 does not extend the one of size 12 "
                                 "seen elsewhere: its history was rewritten, or it shows "
                                 "other readers another history"):
            run(at_10, split)
        with pytest.raises(log_monitor.MonitorFailed, match="the log shrank: size 15, "
                                                            "where 40 was signed before"):
            run(forged(stack, origin, 40, hashlib.sha256(b"ahead").digest()))
        with pytest.raises(log_monitor.MonitorFailed, match="two different roots signed "
                                                            "for size 10, both seen"):
            run(at_10, forged(stack, origin, 10, hashlib.sha256(b"fork").digest()))
        assert state.read_text() == kept  # an alarm keeps the last state checked
        ingest(stack, key, 1)
        signed(stack, key, 16)
        assert "at size 16, consistent with size 15" in run(at_15)


def test_checkpoints_proved_on_an_earlier_run_are_not_asked_for_again(
        stack: Stack, tmp_path: Path) -> None:
    """A folder of receipts only grows: each run asks for the proofs of its new
    checkpoints only, and still proves any other root for a size it proved before."""
    _, key = stack.new_workspace()
    ingest(stack, key, 4)
    at_4 = signed(stack, key, 4)
    ingest(stack, key, 2)
    at_6 = signed(stack, key, 6)
    ingest(stack, key, 2)
    signed(stack, key, 8)
    info = log_key(stack, key)
    state = tmp_path / "state.json"
    proved_from: list[str] = []
    app = httpx.WSGITransport(app=stack.app)

    def counted(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/log/consistency":
            proved_from.append(request.url.params["from_size"])
        return app.handle_request(request)

    def run(*seen: str) -> str:
        proved_from.clear()
        return log_monitor.run_monitor("http://log", key, state, info["verifier_key"],
                                       Ed25519Verifier().verify, list(seen))

    original = httpx.Client
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(log_monitor.httpx, "Client", lambda **kwargs: original(
            transport=httpx.MockTransport(counted), **kwargs))
        assert run(at_4).endswith("(size 4) is in its history")
        assert proved_from == ["4"]
        said = run(at_4, at_6)  # the folder grew by one receipt
        assert said.endswith("all 2 checkpoints seen elsewhere (sizes 4 to 6) are in its "
                             "history (1 proved on earlier runs)"), said
        assert proved_from == ["6"]
        run(at_6)  # the receipt of size 4 was deleted: the state forgets it too
        assert proved_from == []
        root_6 = parse_checkpoint(parse_note(at_6).text).root_hash
        assert json.loads(state.read_text())["seen_proved"] == {
            "6": base64.b64encode(root_6).decode()}
        with pytest.raises(log_monitor.MonitorFailed, match="does not extend the one of "
                                                            "size 6 seen elsewhere"):
            run(forged(stack, info["origin"], 6, hashlib.sha256(b"other").digest()))
        assert proved_from == ["6"]


def test_a_seen_file_without_a_note_is_refused_before_the_log_is_asked(
        tmp_path: Path) -> None:
    empty = tmp_path / "bodies.ndjson"
    empty.write_text('{"events": []}\n')
    result = CliRunner().invoke(main, [
        "log", "monitor", "--url", "http://127.0.0.1:9", "--key", "ak_x", "--state",
        str(tmp_path / "state.json"), "--seen", str(empty)])
    assert result.exit_code == 2
    assert "bodies.ndjson holds no signed note" in result.output
    assert not (tmp_path / "state.json").exists()
    (tmp_path / "received").mkdir()
    (tmp_path / "received" / "dlv_1.json").write_text('{"checkpoint": ')  # cut short
    result = CliRunner().invoke(main, [
        "log", "monitor", "--url", "http://127.0.0.1:9", "--key", "ak_x", "--state",
        str(tmp_path / "state.json"), "--seen", str(tmp_path / "received")])
    assert result.exit_code == 2 and "dlv_1.json: neither signed notes nor JSON" in result.output


def test_the_monitor_waits_out_the_rate_limit_rather_than_giving_up(
        stack: Stack, tmp_path: Path) -> None:
    """Each checkpoint seen elsewhere costs a consistency proof: more than a small plan
    allows a minute, so a 429 is waited out (``Retry-After``), not reported as a failure."""
    _, key = stack.new_workspace()
    ingest(stack, key, 4)
    at_4 = signed(stack, key, 4)
    ingest(stack, key, 2)
    signed(stack, key, 6)
    vkey = log_key(stack, key)["verifier_key"]
    asked: list[str] = []
    app = httpx.WSGITransport(app=stack.app)

    def limited(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        if len(asked) % 2:  # every other request: over the budget, retry in a moment
            return httpx.Response(429, headers={"Retry-After": "0"}, json={"error": {
                "code": "rate_limited", "message": "Too many requests."}})
        return app.handle_request(request)

    original = httpx.Client
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(log_monitor.httpx, "Client", lambda **kwargs: original(
            transport=httpx.MockTransport(limited), **kwargs))
        said = log_monitor.run_monitor("http://log", key, tmp_path / "state.json", vkey,
                                       Ed25519Verifier().verify, [at_4])
    assert "at size 6; the checkpoint seen elsewhere (size 4) is in its history" in said
    assert asked == ["/api/v1/log/checkpoint"] * 2 + ["/api/v1/log/consistency"] * 2
