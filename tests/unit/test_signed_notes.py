"""Rotation notes (docs/transparency.md, "Rotating the signing key"): a monitor, or an
export's offline check, follows a key's hand-over only when that key signed it, for its own
log, to another key."""

from __future__ import annotations

from typing import Any

import pytest

from domain.evidence import EvidenceCheck, EvidenceFailed
from domain.signed_notes import (
    InvalidNote,
    checkpoint_text,
    parse_rotation,
    parse_verifier_key,
    rotation_text,
    signature_line,
    successor_of,
    successors,
    verifier_key,
)
from tests.fakes import FakeSignatureChecker, FakeSigner

ORIGIN = "log.example/ws_1"
OLD, NEW, STRANGER = FakeSigner(b"old"), FakeSigner(b"new"), FakeSigner(b"stranger")
NEWEST = FakeSigner(b"newest")
CHECK = FakeSignatureChecker(OLD, NEW, NEWEST, STRANGER).verify


def vkey(signer: FakeSigner, origin: str = ORIGIN) -> str:
    return verifier_key(origin, signer.public_key())


def rotation(signer: FakeSigner, successor: str, origin: str = ORIGIN) -> str:
    text = rotation_text(origin, successor)
    return f"{text}\n{signature_line(origin, signer.public_key(), signer.sign(text.encode()))}"


def test_the_old_key_hands_its_log_to_the_new_one() -> None:
    pinned = parse_verifier_key(vkey(OLD))
    assert successor_of(pinned, [rotation(OLD, vkey(NEW))], CHECK) == \
        parse_verifier_key(vkey(NEW))


@pytest.mark.parametrize("note", [
    rotation(STRANGER, vkey(STRANGER)),  # signed by someone else, naming themselves
    rotation(OLD, vkey(NEW, "log.example/ws_2"), "log.example/ws_2"),  # another log's
    rotation(OLD, vkey(OLD)),  # to itself
    rotation(OLD, vkey(NEW)).replace("key rotation", "key  rotation"),
    rotation(OLD, vkey(NEW))[:-2] + "A\n",  # its signature altered
    "not a note",
])
def test_anything_else_is_not_followed(note: str) -> None:
    assert successor_of(parse_verifier_key(vkey(OLD)), [note], CHECK) is None


def test_a_rotation_names_a_key_of_its_own_log() -> None:
    with pytest.raises(InvalidNote, match="its own log"):
        parse_rotation(rotation_text(ORIGIN, vkey(NEW, "log.example/ws_2")))
    assert parse_rotation(rotation_text(ORIGIN, vkey(NEW))).origin == ORIGIN


def test_a_key_rotated_twice_leads_to_the_newest_whatever_the_notes_order() -> None:
    notes = [rotation(NEW, vkey(NEWEST)), rotation(OLD, vkey(NEW))]
    assert successors(parse_verifier_key(vkey(OLD)), notes, CHECK) == \
        [parse_verifier_key(vkey(NEW)), parse_verifier_key(vkey(NEWEST))]
    assert successors(parse_verifier_key(vkey(NEWEST)), notes, CHECK) == []


def test_the_chain_stops_where_a_link_is_not_the_key_before_its() -> None:
    forged = rotation(STRANGER, vkey(NEWEST))  # NEW's hand-over, signed by someone else
    notes = [rotation(OLD, vkey(NEW)), forged, rotation(NEW, vkey(OLD))]  # and a loop back
    assert successors(parse_verifier_key(vkey(OLD)), notes, CHECK) == \
        [parse_verifier_key(vkey(NEW))]


def evidence_signed_by(signer: FakeSigner, **more: Any) -> dict[str, Any]:
    text = checkpoint_text(ORIGIN, 3, bytes(32))
    note = f"{text}\n{signature_line(ORIGIN, signer.public_key(), signer.sign(text.encode()))}"
    return {"checkpoint": note, "first_sequence": 1, "last_sequence": 3, "row_count": 3,
            "frontier": [], **more}


def test_evidence_checks_with_the_key_the_pinned_ones_rotation_notes_lead_to() -> None:
    pinned = parse_verifier_key(vkey(OLD))
    evidence = evidence_signed_by(NEWEST, rotations=[rotation(NEW, vkey(NEWEST)),
                                                     rotation(OLD, vkey(NEW))])
    assert EvidenceCheck.of(evidence, pinned, CHECK).signed_by == \
        parse_verifier_key(vkey(NEWEST))
    assert EvidenceCheck.of(evidence_signed_by(OLD), pinned, CHECK).signed_by == pinned


@pytest.mark.parametrize("rotations", [
    None,  # no note: the pinned key did not sign
    [rotation(STRANGER, vkey(NEW))],  # a note the pinned key did not sign
    [rotation(OLD, vkey(NEW))],  # it leads to another key than the one that signed
])
def test_evidence_whose_notes_do_not_lead_from_the_pinned_key_fails(rotations: Any) -> None:
    evidence = evidence_signed_by(NEWEST, rotations=rotations)
    with pytest.raises(EvidenceFailed, match="no signature"):
        EvidenceCheck.of(evidence, parse_verifier_key(vkey(OLD)), CHECK)
