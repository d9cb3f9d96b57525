"""Ingest receipts (docs/transparency.md, "Ingest receipts"): the text the log signs for
what it accepted, and the digest anyone holding the event recomputes."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

import pytest

from domain.canonical_json import canonical_json
from domain.events import Event, new_event
from domain.receipts import (
    ReceiptBroken,
    ReceiptEntry,
    ReceiptLedger,
    accepted_digest,
    parse_receipt,
    receipt_text,
)
from domain.signed_notes import (
    InvalidNote,
    VerifierKey,
    parse_checkpoint,
    parse_note,
    parse_verifier_key,
    rotation_text,
    signature_line,
    verifier_key,
)
from tests.fakes import FakeSignatureChecker, FakeSigner

ORIGIN = "log.example/ws_1"
AT = datetime(2026, 12, 6, 9, 30, 1, 250000, tzinfo=UTC)
BODY = {"action": "user.login", "actor": {"id": "u1", "type": "user"},
        "context": {"ip_address": "2001:DB8::0:1"}}


def entry(event_id: str, fill: int) -> ReceiptEntry:
    return ReceiptEntry(event_id, bytes([fill]) * 32)


def test_a_receipt_reads_back_as_written() -> None:
    entries = (entry("evt_01A", 1), entry("evt_01B", 255))
    text = receipt_text(ORIGIN, AT, entries)
    assert text.splitlines()[:3] == [ORIGIN, "ingest receipt", "2026-12-06T09:30:01.250000Z"]
    receipt = parse_receipt(text)
    assert (receipt.origin, receipt.received_at, receipt.entries) == (ORIGIN, AT, entries)


def test_the_digest_is_of_the_accepted_fields_and_outlives_processing() -> None:
    pending = new_event(BODY, event_id="evt_1", workspace_id="ws_1", received_at=AT)
    processed = pending.with_geo({"country_code": "AU"}).processed(
        sequence=7, prev_hash="0" * 64, hash_="f" * 64)
    expected = {key: value for key, value in pending.core().items()
                if key not in ("geo", "sequence")}
    assert accepted_digest(pending.core()) == hashlib.sha256(
        canonical_json(expected)).digest()
    assert accepted_digest(processed.document()) == accepted_digest(pending.core())
    altered = {**processed.document(), "actor": {"id": "u2", "type": "user"}}
    assert accepted_digest(altered) != accepted_digest(pending.core())


@pytest.mark.parametrize("text", [
    f"{ORIGIN}\ningest receipt\n2026-12-06T09:30:01Z\n",                  # no event
    f"{ORIGIN}\n3\n{'A' * 43}=\n",                                        # a checkpoint
    f"{ORIGIN}\ningest receipt\nyesterday\nevt_1 {'A' * 43}=\n",          # no time
    f"{ORIGIN}\ningest receipt\n2026-12-06T09:30:01Z\nevt_1 {'A' * 42}==\n",  # 31 bytes
    f"{ORIGIN}\ningest receipt\n2026-12-06T09:30:01Z\nevt_1  {'A' * 43}=\n",
    f"{ORIGIN}\ningest receipt\n2026-12-06T09:30:01Z\nevt 1 {'A' * 43}=\n",
    f"{ORIGIN}\ningest receipt\n2026-12-06T09:30:01Z\nevt_1 {'A' * 43}=",  # no newline
    f"a b\ningest receipt\n2026-12-06T09:30:01Z\nevt_1 {'A' * 43}=\n",    # not an origin
])
def test_what_is_not_a_receipt_is_refused(text: str) -> None:
    with pytest.raises(InvalidNote):
        parse_receipt(text)


def test_no_checkpoint_reader_takes_a_receipt_for_a_checkpoint() -> None:
    text = receipt_text(ORIGIN, AT, [entry("evt_1", 7)])
    with pytest.raises(InvalidNote):
        parse_checkpoint(text)
    assert parse_note(f"{text}\n\u2014 {ORIGIN} {'A' * 92}\n").text == text


LOG, NEXT, STRANGER = FakeSigner(b"log"), FakeSigner(b"next"), FakeSigner(b"stranger")
CHECK = FakeSignatureChecker(LOG, NEXT, STRANGER).verify


def signed(text: str, *signers: FakeSigner, origin: str = ORIGIN) -> str:
    return text + "\n" + "".join(signature_line(origin, s.public_key(), s.sign(text.encode()))
                                 for s in signers)


def pinned(signer: FakeSigner = LOG) -> VerifierKey:
    return parse_verifier_key(verifier_key(ORIGIN, signer.public_key()))


def receipt_for(*events: Event, signer: FakeSigner = LOG) -> str:
    entries = [ReceiptEntry(event.id, accepted_digest(event.core())) for event in events]
    return signed(receipt_text(ORIGIN, AT, entries), signer)


def event(number: int) -> Event:
    return new_event({**BODY, "metadata": {"n": number}}, event_id=f"evt_{number}",
                     workspace_id="ws_1", received_at=AT)


def test_a_ledger_holds_the_file_to_what_was_accepted() -> None:
    first, second, third = event(1), event(2), event(3)
    ledger = ReceiptLedger.of([receipt_for(first, second), receipt_for(third)], pinned(), CHECK)
    assert (ledger.receipts, len(ledger.promised)) == (2, 3)
    processed = second.with_geo({"country_code": "AU"}).processed(
        sequence=2, prev_hash="0" * 64, hash_="a" * 64)
    ledger.feed(processed.document())
    ledger.feed(event(4).document())  # no receipt names it: nothing to hold it to
    ledger.feed({"id": ["evt_1"]})  # a row whose id is no string names no promise either
    assert ledger.absent() == ["evt_1", "evt_3"]
    changed = {**first.document(), "metadata": {"n": 100}}
    with pytest.raises(ReceiptBroken, match=re.escape(
            "evt_1 is not the event the log accepted at 2026-12-06T09:30:01.250000Z")):
        ledger.feed(changed)


def test_a_ledger_takes_receipts_of_the_pinned_key_or_of_keys_it_handed_over_to() -> None:
    handed_over = signed(rotation_text(ORIGIN, verifier_key(ORIGIN, NEXT.public_key())), LOG)
    later = receipt_for(event(1), signer=NEXT)
    with pytest.raises(ReceiptBroken, match="receipt 1 is not signed by the log's key"):
        ReceiptLedger.of([later], pinned(), CHECK)
    assert ReceiptLedger.of([later], pinned(), CHECK, [handed_over]).receipts == 1
    for bad in (receipt_for(event(1), signer=STRANGER),
                receipt_for(event(1)).replace("evt_1", "evt_9"),
                signed(f"{ORIGIN}\n3\n{'A' * 43}=\n", LOG)):  # a checkpoint
        with pytest.raises(ReceiptBroken, match="receipt 2 is not"):
            ReceiptLedger.of([receipt_for(event(1)), bad], pinned(), CHECK)
